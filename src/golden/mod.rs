//! Golden-trace testing: what `cargo test` checks for each scenario, as a
//! library. Run it twice with the same seed and require the same trace
//! ([`run_twice`]), then compare the text trace with its snapshot
//! ([`snapshot`]), or the shorter view its `snapshot:` key names. Both `tests/scenarios.rs` and `mqtt-sim check` use it.

pub mod snapshot;

use std::fmt;

use crate::scenario::Scenario;
use crate::sim::{self, RunOptions};
use crate::trace::{Report, render, select};

/// A run whose trace was the same both times.
pub struct Checked {
    pub report: Report,
    /// The whole text trace.
    pub text: String,
    /// What its snapshot holds: the whole trace, or the shorter view the
    /// scenario's `snapshot:` names.
    pub view: String,
}

/// Two runs with the same seed gave different traces.
#[derive(Debug)]
pub struct Nondeterministic {
    pub seed: u64,
    /// The first differing trace line, 1-based.
    pub line: usize,
    pub first: String,
    pub second: String,
}

impl fmt::Display for Nondeterministic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "two runs with seed {} differ, first at trace line {}:\n{}\n--- second run ---\n{}",
            self.seed, self.line, self.first, self.second
        )
    }
}

impl std::error::Error for Nondeterministic {}

/// Runs `s` twice with `opts` and returns the first run when both traces
/// are identical.
pub fn run_twice(s: &Scenario, opts: &RunOptions) -> Result<Checked, Nondeterministic> {
    let report = sim::run(s, opts);
    let text = render::text(&report);
    let second = render::text(&sim::run(s, opts));
    if text == second {
        let view = select::snapshot(s, &report);
        return Ok(Checked { report, text, view });
    }
    let mut first_lines = text.lines();
    let mut second_lines = second.lines();
    let mut line = 1;
    while first_lines.next() == second_lines.next() {
        line += 1;
    }
    Err(Nondeterministic {
        seed: report.seed,
        line,
        first: text,
        second,
    })
}

/// The new matchers failing, run on the reference broker: each verdict
/// says what it compared or where a sequence stopped.
#[cfg(test)]
mod matcher_failures {
    use std::path::Path;

    const MISSES: &str = r#"
protocol: 5.0
duration: 2s
brokers:
  broker: {}
clients:
  sub:
    steps:
      - connect: {}
      - subscribe: {filter: t, qos: 1}
        wait: true
  pub:
    steps:
      - {at: 500ms, connect: {}}
      - publish: {topic: t, payload: x, qos: 1, properties: {message_expiry_interval: 60}}
expect:
  - {client: sub, receives: {topic: t, properties: {message_expiry_interval: {lt: 60}}}, count: 1}
  - {client: sub, receives: {topic: t, properties: {message_expiry_interval: {present: false}}}, count: 1}
  - {clients: [sub, pub], recv: {type: PUBLISH}, count: 2}
  - {client: sub, recv: {type: SUBACK, first: true}}
  - client: sub
    sequence:
      - recv: {type: SUBACK}
      - send: {type: SUBSCRIBE}
"#;

    #[test]
    fn each_miss_says_what_it_compared() {
        let s = crate::scenario::parse(MISSES, Path::new("misses.yaml")).expect("parses");
        let report = crate::sim::run(&s, &crate::sim::RunOptions::default());
        let texts: Vec<(bool, &str)> = report
            .verdicts
            .iter()
            .map(|v| (v.ok, v.text.as_str()))
            .collect();
        assert!(texts.iter().all(|(ok, _)| !ok), "{texts:#?}");
        assert!(
            texts[0]
                .1
                .ends_with("0 matched, wanted 1; message_expiry_interval lt 60: got 60"),
            "{}",
            texts[0].1
        );
        assert!(
            texts[1]
                .1
                .ends_with("; message_expiry_interval absent: got 60"),
            "{}",
            texts[1].1
        );
        // Counted across both clients: only sub received it.
        assert!(
            texts[2]
                .1
                .contains("[sub, pub] recv PUBLISH: 1 matched, wanted 2"),
            "{}",
            texts[2].1
        );
        assert!(
            texts[3].1.contains("recv first SUBACK: 0 matched"),
            "{}",
            texts[3].1
        );
        assert!(
            texts[4]
                .1
                .ends_with("found the first 1 of 2, then no send SUBSCRIBE"),
            "{}",
            texts[4].1
        );
    }
}
