//! The log of `serve`: one line per event on stdout, written by a thread
//! of its own so that the broker's single thread never blocks on it.
//!
//! Three things a client could do to the log before, each closed here:
//! - forge lines: every control character of a line (a newline in a will
//!   topic) is written escaped (`\n`), so one event is one line;
//! - stall the broker: a reader that does not read filled the pipe and the
//!   broker blocked in `write` (new clients got no CONNACK). Lines now go
//!   through a queue of `LOG_QUEUE_MAX`; when it is full a line is dropped
//!   and counted, and the next line that fits is preceded by `log: <n>
//!   lines dropped (the reader is slow)`;
//! - kill the broker: `println!` panicked once the reader had gone
//!   (`serve | head`). Now a failed write ends the logging, not the broker.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// Lines waiting for the writer thread at most (about 1 MB of typical
/// lines); beyond, lines are dropped and counted.
pub const LOG_QUEUE_MAX: usize = 10_000;

/// How long stopping waits for the queued lines to be written: a reader
/// that does not read must not hold the exit either.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

struct Logger {
    /// `None` once logging has finished.
    tx: Mutex<Option<SyncSender<String>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    dropped: AtomicU64,
    /// Set by the writer when stdout failed (its reader has gone).
    gone: &'static AtomicBool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();
static GONE: AtomicBool = AtomicBool::new(false);

fn logger() -> &'static Logger {
    LOGGER.get_or_init(|| {
        let (tx, rx) = mpsc::sync_channel::<String>(LOG_QUEUE_MAX);
        let writer = std::thread::Builder::new()
            .name("serve-log".into())
            .spawn(move || {
                let stdout = std::io::stdout();
                for line in rx {
                    let mut out = stdout.lock();
                    if out
                        .write_all(line.as_bytes())
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        // The reader has gone (EPIPE) or stdout failed:
                        // logging ends here; the broker goes on.
                        GONE.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            })
            .ok();
        Logger {
            tx: Mutex::new(writer.as_ref().map(|_| tx)),
            writer: Mutex::new(writer),
            dropped: AtomicU64::new(0),
            gone: &GONE,
        }
    })
}

/// Queues one log line, after the wall-clock time in UTC, its control
/// characters escaped. Never blocks; see the module comment.
pub fn line(text: &str) {
    let log = logger();
    if log.gone.load(Ordering::Relaxed) {
        return;
    }
    let now = humantime::format_rfc3339_millis(SystemTime::now());
    let Ok(guard) = log.tx.lock() else { return };
    let Some(tx) = guard.as_ref() else { return };
    let dropped = log.dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        let note = format!("{now} log: {dropped} lines dropped (the reader is slow)\n");
        if tx.try_send(note).is_err() {
            log.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        log.dropped.store(0, Ordering::Relaxed);
    }
    match tx.try_send(format!("{now} {}\n", escape(text))) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            log.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Err(TrySendError::Disconnected(_)) => log.gone.store(true, Ordering::Relaxed),
    }
}

/// Writes what is queued and ends logging: waits at most `FLUSH_WAIT`.
pub fn finish() {
    let log = logger();
    if let Ok(mut tx) = log.tx.lock() {
        tx.take();
    }
    let Some(writer) = log.writer.lock().ok().and_then(|mut w| w.take()) else {
        return;
    };
    let waited = std::time::Instant::now();
    while !writer.is_finished() && waited.elapsed() < FLUSH_WAIT {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `text` with every control character (and the Unicode line and
/// paragraph separators, and bidirectional overrides, which can make a
/// line read as another) written as its Rust escape: what a client sent
/// cannot start a line of its own or hide part of one.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_cannot_start_a_line() {
        assert_eq!(escape("plain/topic é"), "plain/topic é");
        assert_eq!(
            escape("a\n2026-01-01T00:00:00Z note: forged"),
            "a\\n2026-01-01T00:00:00Z note: forged"
        );
        assert_eq!(escape("\r\t\u{7}\u{202E}"), "\\r\\t\\u{7}\\u{202e}");
    }
}
