//! The cross-broker invariants that no planted broker bug breaks
//! (`bridge-ordering`, `bridge-exactly-once`), on traces recorded from a
//! bridged scenario on the reference broker and then edited by hand to
//! break one promise: each edit must be reported, naming the bridge, and
//! the unedited trace must not. (`bridge-at-least-once` and
//! `bridge-no-loop` catch the bridge mutants: tests/invariants_catch_mutants.rs.)

use mqtt_sim::invariants::{ALL, Run};
use mqtt_sim::scenario::Scenario;
use mqtt_sim::trace::{Event, EventKind, Violation};
use mqtt_sim::wire::Packet;

const BRIDGED: &str = "
duration: 5s
brokers:
  core: {}
  edge:
    bridge:
      to: core
      clean_session: false
      topics: [{pattern: s/#, direction: out, qos: 2}]
clients:
  dash:
    broker: core
    steps:
      - connect: {}
      - subscribe: {filter: s/#, qos: 2}
  sensor:
    broker: edge
    steps:
      - {at: 1s, connect: {}}
      - publish: {topic: s/t, payload: one, qos: 2}
      - {at: 2s, publish: {topic: s/t, payload: two, qos: 2}}
";

fn record() -> (Scenario, Vec<Event>) {
    let s = mqtt_sim::scenario::parse(BRIDGED, std::path::Path::new("test.yaml"))
        .unwrap_or_else(|e| panic!("test scenario: {e}"));
    let report = mqtt_sim::sim::run_here(&s, s.seed);
    assert!(report.ok(), "the recorded scenario passes: {report:?}");
    (s, report.events)
}

fn check(name: &str, s: &Scenario, events: &[Event]) -> Vec<Violation> {
    let inv = ALL
        .iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("no invariant {name}"));
    (inv.check)(&Run::new(s, events, None))
}

/// The indices of `dash`'s received PUBLISH events.
fn receipts(events: &[Event]) -> Vec<usize> {
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            matches!(&e.kind, EventKind::Recv { client, packet: Packet::Publish(_), .. } if client == "dash")
        })
        .map(|(i, _)| i)
        .collect()
}

fn publish_mut(ev: &mut Event) -> &mut mqtt_sim::wire::Publish {
    match &mut ev.kind {
        EventKind::Recv {
            packet: Packet::Publish(p),
            ..
        } => p,
        _ => panic!("not a received PUBLISH"),
    }
}

#[test]
fn the_recorded_trace_breaks_no_bridge_invariant() {
    let (s, events) = record();
    assert_eq!(receipts(&events).len(), 2, "both messages crossed");
    for name in [
        "bridge-at-least-once",
        "bridge-exactly-once",
        "bridge-ordering",
        "bridge-no-loop",
    ] {
        assert_eq!(check(name, &s, &events), Vec::new(), "{name}");
    }
}

#[test]
fn bridge_ordering_sees_two_messages_swapped_across_the_bridge() {
    let (s, mut events) = record();
    let r = receipts(&events);
    let (a, b) = (r[0], r[1]);
    let first = publish_mut(&mut events[a]).payload.clone();
    let second = std::mem::replace(&mut publish_mut(&mut events[b]).payload, first);
    publish_mut(&mut events[a]).payload = second;
    let found = check("bridge-ordering", &s, &events);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .text
            .contains("across the bridge edge->core (edge to core)"),
        "{}",
        found[0].text
    );
}

#[test]
fn bridge_exactly_once_sees_a_second_new_delivery() {
    let (s, mut events) = record();
    let r = receipts(&events);
    // The second message arrives again, as new: another packet id, DUP 0.
    let mut again = events[r[1]].clone();
    publish_mut(&mut again).packet_id = 99;
    events.push(again);
    let found = check("bridge-exactly-once", &s, &events);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].text.contains("crossing the bridge edge->core"),
        "{}",
        found[0].text
    );
}
