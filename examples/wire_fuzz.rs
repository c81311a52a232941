//! The codecs' long fuzz run: 10^6 seeded inputs per protocol level (random
//! bytes and mutations of valid packets) through `wire::decode`. It fails on
//! a panic or on an accepted packet that does not encode and decode back to
//! itself. Run in release mode by `.ci/wire-fuzz.sh`:
//!
//! ```text
//! cargo run --release --example wire_fuzz -- [inputs per level] [seed]
//! ```

use std::process::ExitCode;

use mqtt_sim::wire::{LEVEL_V5, LEVEL_V311, fuzz};

const INPUTS_DEFAULT: u64 = 1_000_000;
const SEED_DEFAULT: u64 = 0x5eed_0005;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let parse = |arg: Option<String>, default: u64| match arg {
        None => Ok(default),
        Some(a) => a.parse::<u64>().map_err(|e| format!("{a:?}: {e}")),
    };
    let (inputs, seed) = match (
        parse(args.next(), INPUTS_DEFAULT),
        parse(args.next(), SEED_DEFAULT),
    ) {
        (Ok(i), Ok(s)) => (i, s),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("usage: wire_fuzz [inputs per level] [seed]: {e}");
            return ExitCode::from(2);
        }
    };
    for (name, level, samples) in [
        ("5.0", LEVEL_V5, fuzz::samples_v5()),
        ("3.1.1", LEVEL_V311, fuzz::samples_v4()),
    ] {
        match fuzz::run(seed, inputs, level, &samples) {
            Ok(t) => println!(
                "MQTT {name}: {} inputs, {} accepted and round-tripped, {} refused, seed {seed:#x}",
                t.inputs, t.accepted, t.refused
            ),
            Err(e) => {
                eprintln!("MQTT {name}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}
