//! Printing to stdout from the commands. `println!` panics when the reader
//! has gone (`mqtt-sim list | head -1` closes the pipe after one line);
//! [`outln!`] and [`out!`] end the process quietly instead.
//!
//! SIGPIPE stays ignored, as Rust sets it: resetting it to its default
//! would let a write to a closed socket kill `serve` or a live run. So the
//! closed pipe shows up here, as an `EPIPE` write error.

use std::io::Write;

use super::EXIT_FAILED;

/// Writes to stdout (through anstream, which strips colours where they do
/// not belong). When the reader has gone, the command ends at once, without
/// a message, with exit code 1: what it was doing did not complete, as for
/// any program that a closed pipe stops. Any other write error is reported
/// on stderr, with the same exit code.
pub fn write(args: std::fmt::Arguments<'_>) {
    let mut out = anstream::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write to stdout: {e}");
        }
        std::process::exit(i32::from(EXIT_FAILED));
    }
}

/// `print!` that ends the process quietly when stdout is closed.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!($($arg)*))
    };
}

/// `println!` that ends the process quietly when stdout is closed.
macro_rules! outln {
    () => {
        $crate::cli::output::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {out, outln};
