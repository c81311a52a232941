//! The event-driven engine at scale: thousands of clients fit in a file, and
//! a run with many of them is deterministic and cheap in simulated time.

use std::path::Path;

use mqtt_sim::scenario::{self, MAX_HOSTS};
use mqtt_sim::sim;
use mqtt_sim::trace::render;

/// `n` clients that connect and subscribe, and one publisher whose message
/// fans out to all of them; a YAML alias keeps the file small.
fn fleet(n: usize, duration: &str) -> String {
    let mut yaml = format!(
        "duration: {duration}\nbrokers:\n  broker: {{}}\nclients:\n  p: {{steps: [{{connect: {{}}}}, {{at: 200ms, publish: {{topic: t/all, payload: x, qos: 1}}}}]}}\n  c0: &c {{keep_alive: 60s, ping: auto, steps: [{{connect: {{}}}}, {{at: 100ms, subscribe: {{filter: t/all, qos: 1}}}}]}}\n"
    );
    for i in 1..n {
        yaml.push_str(&format!("  c{i}: *c\n"));
    }
    yaml.push_str(&format!(
        "expect:\n  - {{client: c{}, receives: {{topic: t/all}}, count: 1}}\n",
        n - 1
    ));
    yaml
}

#[test]
fn ten_thousand_clients_fit_in_a_file_and_more_hosts_do_not() {
    let ok = scenario::parse(&fleet(10_000, "1s"), Path::new("fleet.yaml"));
    assert!(ok.is_ok(), "{:?}", ok.err());
    let over = scenario::parse(&fleet(MAX_HOSTS, "1s"), Path::new("fleet.yaml"));
    let err = over.expect_err("more hosts than MAX_HOSTS are refused");
    assert!(err.to_string().contains("too many hosts"), "{err}");
}

#[test]
fn an_hour_of_two_hundred_pinging_clients_is_deterministic() {
    let s = scenario::parse(&fleet(200, "1h"), Path::new("fleet.yaml")).expect("it loads");
    let first = sim::run_here(&s, 7);
    assert!(first.ok(), "{:?} {:?}", first.harness_error, first.verdicts);
    let second = sim::run_here(&s, 7);
    assert_eq!(render::text(&first), render::text(&second));
    // Every client, the publisher too, pinged for the whole hour: a PINGREQ
    // every 60s after its CONNECT at 1ms, 59 of them.
    let pings = first
        .events
        .iter()
        .filter(|e| render::event_line(e).contains("PINGREQ"))
        .count();
    assert_eq!(pings, 201 * 59, "{}", render::text(&first));
}
