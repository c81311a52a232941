//! Each invariant shown to catch what it is about, on a trace that breaks
//! it (hand-built, or recorded from a mutant of the reference broker),
//! and to stay quiet on the same trace done right.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;

use super::{Run, violations as check};
use crate::scenario::{self, Scenario};
use crate::trace::{Event, EventKind, Violation};
use crate::wire::{
    Ack, ConnAck, Connect, LEVEL_V311, Packet, Properties, Publish, QoS, SubAck, Subscribe,
    SubscribeFilter, UnsubAck, Unsubscribe,
};

/// Two 3.1.1 clients, `sub` and `pub`, on one broker, doing nothing: the
/// hand-built traces say what happened.
pub(super) fn pair() -> Scenario {
    let yaml = "duration: 5s\nbrokers: {broker: {}}\nclients: {sub: {}, pub: {}}\n";
    scenario::parse(yaml, Path::new("pair.yaml")).expect("parses")
}

pub(super) fn names(v: &[Violation]) -> Vec<&str> {
    v.iter().map(|v| v.invariant.as_str()).collect()
}

pub(super) fn judge(s: &Scenario, events: &[Event]) -> Vec<Violation> {
    check(&Run::new(s, events, None))
}

/// A hand-built trace, one packet at a time.
#[derive(Default)]
pub(super) struct Trace(pub(super) Vec<Event>);

impl Trace {
    pub(super) fn at(&mut self, ms: u64, kind: EventKind) -> &mut Self {
        self.0.push(Event {
            at: Duration::from_millis(ms),
            kind,
        });
        self
    }
    pub(super) fn send(&mut self, ms: u64, client: &str, packet: Packet) -> &mut Self {
        let client = client.to_string();
        self.at(
            ms,
            EventKind::Send {
                client,
                packet,
                level: LEVEL_V311,
            },
        )
    }
    pub(super) fn recv(&mut self, ms: u64, client: &str, packet: Packet) -> &mut Self {
        let client = client.to_string();
        self.at(
            ms,
            EventKind::Recv {
                client,
                packet,
                level: LEVEL_V311,
                resolved_topic: None,
            },
        )
    }
    /// Connects `client` with its own id and a new session.
    pub(super) fn connect(&mut self, ms: u64, client: &str) -> &mut Self {
        self.at(
            ms,
            EventKind::Connected {
                client: client.to_string(),
            },
        );
        self.send(
            ms,
            client,
            Packet::Connect(Connect {
                protocol_name: "MQTT".into(),
                protocol_level: LEVEL_V311,
                client_id: client.to_string(),
                clean: true,
                keep_alive_s: 60,
                will: None,
                username: None,
                password: None,
                properties: Properties::default(),
            }),
        );
        self.recv(
            ms,
            client,
            Packet::ConnAck(ConnAck {
                session_present: false,
                code: 0,
                properties: Properties::default(),
            }),
        )
    }
    pub(super) fn subscribe(&mut self, ms: u64, client: &str, filter: &str) -> &mut Self {
        self.subscribe_with(ms, client, SubscribeFilter::new(filter, QoS::AtLeastOnce))
    }
    /// Subscribes with these options; the SUBACK grants QoS 1.
    pub(super) fn subscribe_with(
        &mut self,
        ms: u64,
        client: &str,
        filter: SubscribeFilter,
    ) -> &mut Self {
        self.send(
            ms,
            client,
            Packet::Subscribe(Subscribe {
                packet_id: 100,
                filters: vec![filter],
                properties: Properties::default(),
            }),
        );
        self.recv(
            ms,
            client,
            Packet::SubAck(SubAck {
                packet_id: 100,
                codes: vec![1],
                properties: Properties::default(),
            }),
        )
    }
    pub(super) fn events(&self) -> &[Event] {
        &self.0
    }
}

pub(super) fn publish(topic: &str, payload: &'static str, id: u16) -> Packet {
    Packet::Publish(Publish {
        topic: topic.to_string(),
        payload: Bytes::from_static(payload.as_bytes()),
        qos: if id == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        },
        retain: false,
        dup: false,
        packet_id: id,
        properties: Properties::default(),
    })
}

/// The start of most traces: both connected, `sub` subscribed to `t/#`.
pub(super) fn subscribed() -> Trace {
    let mut t = Trace::default();
    t.connect(0, "sub")
        .subscribe(1, "sub", "t/#")
        .connect(2, "pub");
    t
}

#[test]
fn a_trace_that_keeps_every_promise_breaks_no_invariant() {
    let mut t = subscribed();
    t.send(10, "pub", publish("t/1", "a", 1))
        .send(10, "pub", publish("t/1", "b", 2))
        .recv(11, "pub", Packet::PubAck(Ack::new(1)))
        .recv(11, "pub", Packet::PubAck(Ack::new(2)))
        .recv(11, "sub", publish("t/1", "a", 1))
        .send(11, "sub", Packet::PubAck(Ack::new(1)))
        .recv(11, "sub", publish("t/1", "b", 1))
        .send(11, "sub", Packet::PubAck(Ack::new(1)));
    assert_eq!(names(&judge(&pair(), t.events())), Vec::<&str>::new());
}

#[test]
fn qos1_at_least_once_catches_a_message_a_surviving_session_never_gets() {
    let mut t = subscribed();
    t.send(10, "pub", publish("t/1", "a", 1))
        .recv(11, "pub", Packet::PubAck(Ack::new(1)));
    assert_eq!(
        names(&judge(&pair(), t.events())),
        vec!["qos1-at-least-once"]
    );
    // Too close to the end of the run to be owed: not judged.
    let mut late = subscribed();
    late.send(4_990, "pub", publish("t/1", "a", 1))
        .recv(4_991, "pub", Packet::PubAck(Ack::new(1)));
    assert_eq!(names(&judge(&pair(), late.events())), Vec::<&str>::new());
}

#[test]
fn ordering_catches_two_messages_delivered_in_reverse() {
    let mut t = subscribed();
    t.send(10, "pub", publish("t/1", "a", 0))
        .send(10, "pub", publish("t/1", "b", 0))
        .recv(11, "sub", publish("t/1", "b", 0))
        .recv(11, "sub", publish("t/1", "a", 0));
    assert_eq!(names(&judge(&pair(), t.events())), vec!["ordering"]);
}

#[test]
fn packet_ids_catches_an_id_reused_while_in_flight() {
    let mut t = subscribed();
    t.recv(10, "sub", publish("t/x", "a", 7))
        .recv(11, "sub", publish("t/x", "b", 7));
    assert_eq!(names(&judge(&pair(), t.events())), vec!["packet-ids"]);
    // Released by the PUBACK first: a new message may take the id.
    let mut ok = subscribed();
    ok.recv(10, "sub", publish("t/x", "a", 7))
        .send(10, "sub", Packet::PubAck(Ack::new(7)))
        .recv(11, "sub", publish("t/x", "b", 7));
    assert_eq!(names(&judge(&pair(), ok.events())), Vec::<&str>::new());
}

#[test]
fn unsubscribe_catches_a_message_published_after_the_unsuback() {
    // Events are recorded in time order, as a run records them.
    let unsubscribed = |published_at: u64| {
        let mut t = subscribed();
        if published_at < 5 {
            t.send(published_at, "pub", publish("t/1", "a", 0));
        }
        t.send(
            5,
            "sub",
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 101,
                filters: vec!["t/#".into()],
                properties: Properties::default(),
            }),
        )
        .recv(6, "sub", Packet::UnsubAck(UnsubAck::new(101)));
        if published_at >= 5 {
            t.send(published_at, "pub", publish("t/1", "a", 0));
        }
        t.recv(12, "sub", publish("t/1", "a", 0));
        t
    };
    assert_eq!(
        names(&judge(&pair(), unsubscribed(10).events())),
        vec!["unsubscribe"]
    );
    // Published before the UNSUBACK: the broker may still deliver it.
    assert_eq!(
        names(&judge(&pair(), unsubscribed(4).events())),
        Vec::<&str>::new()
    );
}

#[test]
fn invariants_off_or_a_list_selects_what_is_checked() {
    let mut t = subscribed();
    t.send(10, "pub", publish("t/1", "a", 1))
        .recv(11, "pub", Packet::PubAck(Ack::new(1)));
    let mut s = pair();
    s.invariants = scenario::Invariants::Off;
    assert!(judge(&s, t.events()).is_empty());
    s.invariants = scenario::Invariants::Only(vec!["ordering".into()]);
    assert!(judge(&s, t.events()).is_empty());
    s.invariants = scenario::Invariants::Only(vec!["qos1-at-least-once".into()]);
    assert_eq!(names(&judge(&s, t.events())), vec!["qos1-at-least-once"]);
}

#[test]
fn a_run_breaking_an_invariant_many_times_reports_a_bounded_number() {
    let mut t = subscribed();
    // Every second PUBLISH reuses the id of the first, still in flight.
    for i in 0..30 {
        t.recv(
            10,
            "sub",
            publish("t/x", if i % 2 == 0 { "a" } else { "b" }, 7),
        );
    }
    // The "a"s sent again with DUP 0 break dup-on-resend too: judge one.
    let mut s = pair();
    s.invariants = scenario::Invariants::Only(vec!["packet-ids".into()]);
    let v = judge(&s, t.events());
    assert_eq!(v.len(), super::VIOLATIONS_PER_INVARIANT_MAX + 1);
    assert!(v.last().is_some_and(|v| v.text.starts_with("... and ")));
}

#[test]
fn delivery_matches_subscription_catches_a_message_no_filter_matches() {
    let mut t = subscribed();
    t.recv(10, "sub", publish("$SYS/x", "a", 0));
    assert_eq!(
        names(&judge(&pair(), t.events())),
        vec!["delivery-matches-subscription"]
    );
}

/// The scenario loader refuses unknown names with `scenario::INVARIANT_NAMES`,
/// since it sits below the invariants; the list must be theirs, in order.
#[test]
fn the_scenario_knows_every_invariant_by_its_name() {
    let names: Vec<&str> = super::ALL.iter().map(|i| i.name).collect();
    assert_eq!(names, crate::scenario::INVARIANT_NAMES);
}

/// A QoS 0 message the broker delivered at QoS 2 is reported as a raised
/// QoS, not as "the QoS 2 message ... published 0 times".
#[test]
fn qos2_exactly_once_names_a_raised_qos() {
    let mut t = subscribed();
    t.send(10, "pub", publish("t/1", "a", 0));
    let mut upgraded = publish("t/1", "a", 5);
    if let Packet::Publish(p) = &mut upgraded {
        p.qos = QoS::ExactlyOnce;
    }
    t.recv(11, "sub", upgraded);
    let v = judge(&pair(), t.events());
    let q2: Vec<&Violation> = v
        .iter()
        .filter(|v| v.invariant == "qos2-exactly-once")
        .collect();
    assert_eq!(q2.len(), 1, "{v:?}");
    assert!(
        q2[0]
            .text
            .contains("published at QoS 0 at most: the broker raised its QoS"),
        "{}",
        q2[0].text
    );
}
