//! The connection and session invariants on traces recorded from a small
//! scenario on the reference broker and then edited by hand to break one
//! promise: each edit must be reported, and the unedited trace must not.
//! They record by running the simulation, which sits above the invariants,
//! so they live here rather than inside `src/invariants/`.

mod testing {
    //! Traces for the invariants' unit tests: recorded from a small
    //! scenario, then edited by hand to break an invariant.

    use mqtt_sim::invariants::{Invariant, Run};
    use mqtt_sim::scenario::Scenario;
    use mqtt_sim::trace::{Event, EventKind, Violation};
    use mqtt_sim::wire::Packet;

    pub fn ms(n: u64) -> std::time::Duration {
        std::time::Duration::from_millis(n)
    }

    pub fn scenario(yaml: &str) -> Scenario {
        mqtt_sim::scenario::parse(yaml, std::path::Path::new("test.yaml"))
            .unwrap_or_else(|e| panic!("test scenario: {e}"))
    }

    /// The scenario and the trace of its run on the reference broker.
    pub fn record(yaml: &str) -> (Scenario, Vec<Event>) {
        let s = scenario(yaml);
        let report = mqtt_sim::sim::run_here(&s, s.seed);
        assert!(report.ok(), "the recorded scenario passes");
        (s, report.events)
    }

    pub fn check(inv: &Invariant, s: &Scenario, events: &[Event]) -> Vec<Violation> {
        (inv.check)(&Run::new(s, events, None))
    }

    /// The index of the first event of `client` that `pred` accepts.
    pub fn find(events: &[Event], client: &str, pred: impl Fn(&EventKind) -> bool) -> usize {
        events
            .iter()
            .position(|e| e.kind.host() == Some(client) && pred(&e.kind))
            .unwrap_or_else(|| panic!("no such event of {client}"))
    }

    /// Whether the event is a packet of that type sent (`send`) or read.
    pub fn is_packet(kind: &EventKind, send: bool, type_name: &str) -> bool {
        match kind {
            EventKind::Send { packet, .. } if send => packet.type_name() == type_name,
            EventKind::Recv { packet, .. } if !send => packet.type_name() == type_name,
            _ => false,
        }
    }

    /// The packet of a send or recv event, for editing.
    pub fn packet_mut(ev: &mut Event) -> &mut Packet {
        match &mut ev.kind {
            EventKind::Send { packet, .. } | EventKind::Recv { packet, .. } => packet,
            _ => panic!("not a packet event"),
        }
    }
}

mod will {
    use bytes::Bytes;

    use crate::testing::{check, find, ms, record};
    use mqtt_sim::invariants::will::*;
    use mqtt_sim::trace::{Event, EventKind};
    use mqtt_sim::wire::{Packet, Publish, QoS};

    fn sensor(protocol: &str, will: &str, end: &str) -> String {
        let expiry = if protocol == "5.0" {
            "    session_expiry: 30s\n"
        } else {
            ""
        };
        format!(
            "name: t\nprotocol: {protocol}\nduration: 6s\nbrokers: {{broker: {{}}}}\n\
             clients:\n  observer:\n    steps:\n      - connect: {{}}\n      \
             - subscribe: {{filter: will/#, qos: 1}}\n  sensor:\n    \
             will: {{topic: will/sensor, payload: gone, qos: 1{will}}}\n{expiry}    \
             steps:\n      - {{at: 100ms, connect: {{}}}}\n      \
             - {{at: 1s, {end}: {{}}}}\n"
        )
    }

    fn will_receipt(at: u64) -> Event {
        Event {
            at: ms(at),
            kind: EventKind::Recv {
                client: "observer".into(),
                packet: Packet::Publish(Publish {
                    topic: "will/sensor".into(),
                    payload: Bytes::from_static(b"gone"),
                    qos: QoS::AtLeastOnce,
                    retain: false,
                    dup: false,
                    packet_id: 7,
                    properties: Default::default(),
                }),
                level: 4,
                resolved_topic: None,
            },
        }
    }

    fn is_will(kind: &EventKind) -> bool {
        matches!(kind, EventKind::Recv { packet: Packet::Publish(p), .. } if p.topic == "will/sensor")
    }

    #[test]
    fn a_will_after_a_normal_disconnect_is_reported() {
        let (s, mut events) = record(&sensor("3.1.1", "", "disconnect"));
        assert!(check(&WILL, &s, &events).is_empty());
        let at = events
            .iter()
            .position(|e| e.at > ms(1005))
            .unwrap_or(events.len());
        events.insert(at, will_receipt(1005));
        let v = check(&WILL, &s, &events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].text.contains("no connection's end explains"),
            "{}",
            v[0].text
        );
        assert_eq!(v[0].spec_ids, SPEC_V311);
    }

    /// The connection invariants once capped their own findings and were
    /// capped again on top, so above ten the count of the rest was lost.
    #[test]
    fn fifteen_stray_wills_are_ten_violations_and_the_true_count_of_the_rest() {
        let (mut s, mut events) = record(&sensor("3.1.1", "", "disconnect"));
        s.invariants = mqtt_sim::scenario::Invariants::Only(vec![WILL.name.into()]);
        let at = events
            .iter()
            .position(|e| e.at > ms(1005))
            .unwrap_or(events.len());
        for i in 0..15 {
            events.insert(at + i, will_receipt(1005 + i as u64));
        }
        assert_eq!(check(&WILL, &s, &events).len(), 15, "one per stray will");
        let run = mqtt_sim::invariants::Run::new(&s, &events, None);
        let v = mqtt_sim::invariants::violations(&run);
        assert_eq!(
            v.len(),
            mqtt_sim::invariants::VIOLATIONS_PER_INVARIANT_MAX + 1
        );
        assert_eq!(
            v.last().map(|v| v.text.as_str()),
            Some("... and 5 more violations of will")
        );
    }

    #[test]
    fn a_dropped_connection_without_its_will_is_reported() {
        let (s, mut events) = record(&sensor("3.1.1", "", "drop"));
        assert!(check(&WILL, &s, &events).is_empty());
        let at = find(&events, "observer", is_will);
        events.remove(at);
        let v = check(&WILL, &s, &events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].text.contains("never received it"), "{}", v[0].text);
    }

    #[test]
    fn a_will_that_comes_late_is_the_references_choice() {
        let (s, mut events) = record(&sensor("3.1.1", "", "drop"));
        let mut will = events.remove(find(&events, "observer", is_will));
        will.at = ms(3000);
        let at = events
            .iter()
            .position(|e| e.at > will.at)
            .unwrap_or(events.len());
        events.insert(at, will);
        let v = check(&WILL, &s, &events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].text.contains("received it at 3.000s"), "{}", v[0].text);
        assert_eq!(v[0].force, mqtt_sim::scenario::Force::Choice);
    }

    #[test]
    fn a_will_before_its_delay_is_reported() {
        let (s, mut events) = record(&sensor("5.0", ", delay: 2s", "drop"));
        assert!(check(&WILL, &s, &events).is_empty());
        let at = find(&events, "observer", is_will);
        assert!(events[at].at >= ms(3000), "published after the delay");
        let mut early = events.remove(at);
        early.at = ms(1005);
        let to = events.iter().position(|e| e.at > ms(1005)).unwrap();
        events.insert(to, early);
        let v = check(&WILL, &s, &events);
        assert!(!v.is_empty());
        assert!(
            v.iter()
                .any(|v| v.text.contains("no connection's end explains")),
            "{v:?}"
        );
        assert_eq!(v[0].spec_ids, SPEC_V5);
    }

    #[test]
    fn a_takeover_follows_the_profile() {
        let yaml = "name: t\nduration: 3s\nbrokers: {broker: {takeover_will: never}}\n\
             clients:\n  observer:\n    steps:\n      - connect: {}\n      \
             - subscribe: {filter: will/#, qos: 1}\n  a:\n    client_id: same\n    \
             will: {topic: will/sensor, payload: gone, qos: 1}\n    steps:\n      \
             - {at: 100ms, connect: {}}\n  b:\n    client_id: same\n    steps:\n      \
             - {at: 1s, connect: {}}\n";
        let (s, mut events) = record(yaml);
        assert!(check(&WILL, &s, &events).is_empty());
        // The `never` profile publishes nothing on a takeover.
        let closed = find(&events, "a", |k| matches!(k, EventKind::Closed { .. }));
        let at = events[closed].at.as_millis() as u64 + 1;
        events.insert(closed + 1, will_receipt(at));
        assert_eq!(check(&WILL, &s, &events).len(), 1);
    }
}

mod retained {
    use bytes::Bytes;

    use crate::testing::{check, find, ms, record};
    use mqtt_sim::invariants::retained::*;
    use mqtt_sim::trace::{Event, EventKind};
    use mqtt_sim::wire::{Packet, Publish, QoS};

    fn scenario(second: &str) -> String {
        format!(
            "name: t\nduration: 3s\nbrokers: {{broker: {{}}}}\nclients:\n  pub:\n    steps:\n      \
             - connect: {{}}\n      - publish: {{topic: r/1, payload: a, qos: 1, retain: true}}\n      \
             {second}\n  sub:\n    steps:\n      - {{at: 1s, connect: {{}}}}\n      \
             - subscribe: {{filter: r/#, qos: 1}}\n"
        )
    }

    fn retained_receipt(at: u64, payload: &'static [u8]) -> Event {
        Event {
            at: ms(at),
            kind: EventKind::Recv {
                client: "sub".into(),
                packet: Packet::Publish(Publish {
                    topic: "r/1".into(),
                    payload: Bytes::from_static(payload),
                    qos: QoS::AtLeastOnce,
                    retain: true,
                    dup: false,
                    packet_id: 1,
                    properties: Default::default(),
                }),
                level: 4,
                resolved_topic: None,
            },
        }
    }

    fn suback(kind: &EventKind) -> bool {
        matches!(
            kind,
            EventKind::Recv {
                packet: Packet::SubAck(_),
                ..
            }
        )
    }

    #[test]
    fn a_deleted_retained_message_sent_on_subscribe_is_reported() {
        let (s, mut events) = record(&scenario(
            "- {at: 500ms, publish: {topic: r/1, payload: '', qos: 1, retain: true}}",
        ));
        assert!(check(&RETAINED, &s, &events).is_empty());
        let i = find(&events, "sub", suback);
        let at = events[i].at.as_millis() as u64;
        events.insert(i + 1, retained_receipt(at, b"a"));
        let v = check(&RETAINED, &s, &events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].text.contains("did not hold"), "{}", v[0].text);
        assert_eq!(v[0].spec_ids, SPEC_V311);
    }

    #[test]
    fn a_retained_message_on_a_dollar_topic_is_the_brokers_own() {
        let (s, mut events) = record(&scenario(
            "- {at: 500ms, publish: {topic: r/1, payload: '', qos: 1, retain: true}}",
        ));
        let i = find(&events, "sub", suback);
        let at = events[i].at.as_millis() as u64;
        let mut sys = retained_receipt(at, b"mosquitto version 2.0.11");
        if let EventKind::Recv {
            packet: Packet::Publish(p),
            ..
        } = &mut sys.kind
        {
            p.topic = "$SYS/broker/version".into();
        }
        events.insert(i + 1, sys);
        assert!(check(&RETAINED, &s, &events).is_empty());
        // The same receipt on an ordinary topic is reported.
        events.insert(i + 1, retained_receipt(at, b"a"));
        assert_eq!(check(&RETAINED, &s, &events).len(), 1);
    }

    #[test]
    fn a_replaced_retained_message_is_reported() {
        let (s, mut events) = record(&scenario(
            "- {at: 500ms, publish: {topic: r/1, payload: b, qos: 1, retain: true}}",
        ));
        assert!(check(&RETAINED, &s, &events).is_empty());
        let i = find(
            &events,
            "sub",
            |k| matches!(k, EventKind::Recv { packet: Packet::Publish(p), .. } if p.payload.as_ref() == b"b"),
        );
        events[i] = retained_receipt(events[i].at.as_millis() as u64, b"a");
        let v = check(&RETAINED, &s, &events);
        // Stale, and the current one missing.
        assert_eq!(v.len(), 2, "{v:?}");
    }

    #[test]
    fn a_missing_retained_message_is_reported() {
        let (s, mut events) = record(&scenario(
            "- {at: 500ms, publish: {topic: other, payload: x}}",
        ));
        assert!(check(&RETAINED, &s, &events).is_empty());
        let i = find(
            &events,
            "sub",
            |k| matches!(k, EventKind::Recv { packet: Packet::Publish(p), .. } if p.retain),
        );
        events.remove(i);
        let v = check(&RETAINED, &s, &events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].text.contains("did not receive the retained \"a\""),
            "{}",
            v[0].text
        );
    }
}

mod keep_alive {
    use crate::testing::{check, find, ms, record};
    use std::time::Duration;

    use mqtt_sim::invariants::Run;
    use mqtt_sim::invariants::keep_alive::*;
    use mqtt_sim::trace::EventKind;

    const SILENT: &str = "name: t\nduration: 5s\nbrokers: {broker: {}}\nclients:\n  \
        device:\n    keep_alive: 2s\n    ping: off\n    steps:\n      - connect: {}\n";

    fn closed(kind: &EventKind) -> bool {
        matches!(kind, EventKind::Closed { .. })
    }

    #[test]
    fn a_silent_connection_left_open_is_reported() {
        let (s, mut events) = record(SILENT);
        assert!(check(&KEEP_ALIVE, &s, &events).is_empty());
        events.remove(find(&events, "device", closed));
        let v = check(&KEEP_ALIVE, &s, &events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].text.contains("still open"), "{}", v[0].text);
        assert_eq!(v[0].spec_ids, SPEC_V311);
        // The spec gives no bound on how late the close may come.
        assert_eq!(v[0].force, mqtt_sim::scenario::Force::Choice);
    }

    #[test]
    fn a_live_run_allows_a_real_brokers_timer_sweep() {
        let (s, mut events) = record(SILENT);
        let i = find(&events, "device", closed);
        // Closed 800 ms after 1.5 x keep-alive, as mosquitto's once-a-second
        // sweep may: too late in simulation, within the slack live.
        events[i].at += Duration::from_millis(800);
        assert_eq!(check(&KEEP_ALIVE, &s, &events).len(), 1);
        let mut live = Run::new(&s, &events, None);
        live.live = true;
        assert!((KEEP_ALIVE.check)(&live).is_empty());
    }

    #[test]
    fn a_close_before_one_and_a_half_keep_alives_is_reported() {
        let (s, mut events) = record(SILENT);
        let i = find(&events, "device", closed);
        // Closed after 2s (1 x keep-alive) of silence instead of 3s.
        events[i].at = ms(2003);
        let v = check(&KEEP_ALIVE, &s, &events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].text.contains("after 2.00"), "{}", v[0].text);
        assert_eq!(v[0].force, mqtt_sim::scenario::Force::Binding);
    }

    #[test]
    fn a_close_right_after_a_packet_is_not_for_keep_alive() {
        let (s, mut events) = record(SILENT);
        let i = find(&events, "device", closed);
        // A close one round trip after CONNECT is the broker refusing
        // something, not keep-alive.
        events[i].at = ms(4);
        let v = check(&KEEP_ALIVE, &s, &events);
        assert!(v.is_empty(), "{v:?}");
    }
}

mod session_present {
    use crate::testing::{check, is_packet, packet_mut, record};
    use mqtt_sim::invariants::session_present::*;
    use mqtt_sim::wire::Packet;

    const RESUME: &str = "name: t\nduration: 3s\nbrokers: {broker: {}}\nclients:\n  \
        device:\n    clean_session: false\n    steps:\n      - connect: {}\n      \
        - {at: 1s, disconnect: {}}\n      - {at: 2s, connect: {}}\n";

    fn connacks(events: &[mqtt_sim::trace::Event]) -> Vec<usize> {
        (0..events.len())
            .filter(|&i| is_packet(&events[i].kind, false, "CONNACK"))
            .collect()
    }

    fn flip(ev: &mut mqtt_sim::trace::Event) {
        if let Packet::ConnAck(c) = packet_mut(ev) {
            c.session_present = !c.session_present;
        }
    }

    #[test]
    fn a_lost_session_is_reported() {
        let (s, mut events) = record(RESUME);
        assert!(check(&SESSION_PRESENT, &s, &events).is_empty());
        let [first, second] = connacks(&events)[..] else {
            panic!("two CONNACKs")
        };
        flip(&mut events[second]);
        let v = check(&SESSION_PRESENT, &s, &events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].text.contains("lasts for ever"), "{}", v[0].text);
        // The first connection had no session before it: not judged.
        flip(&mut events[second]);
        flip(&mut events[first]);
        assert!(check(&SESSION_PRESENT, &s, &events).is_empty());
    }

    #[test]
    fn a_session_present_on_a_clean_connection_is_reported() {
        let (s, mut events) = record(&RESUME.replace(
            "      - {at: 2s, connect: {}}",
            "      - {at: 2s, connect: {clean_session: true}}",
        ));
        assert!(check(&SESSION_PRESENT, &s, &events).is_empty());
        let second = connacks(&events)[1];
        flip(&mut events[second]);
        let v = check(&SESSION_PRESENT, &s, &events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].text.contains("clean session"), "{}", v[0].text);
    }

    #[test]
    fn an_expired_5_0_session_is_not_present() {
        let yaml = "name: t\nprotocol: 5.0\nduration: 5s\nbrokers: {broker: {}}\nclients:\n  \
            device:\n    clean_start: false\n    session_expiry: 1s\n    steps:\n      \
            - connect: {}\n      - {at: 1s, disconnect: {}}\n      - {at: 3s, connect: {}}\n";
        let (s, mut events) = record(yaml);
        assert!(check(&SESSION_PRESENT, &s, &events).is_empty());
        let second = connacks(&events)[1];
        flip(&mut events[second]);
        let v = check(&SESSION_PRESENT, &s, &events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].text.contains("expired after 1s"), "{}", v[0].text);
        assert_eq!(v[0].spec_ids, SPEC_V5);
    }
}
