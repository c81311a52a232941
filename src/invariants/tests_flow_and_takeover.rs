//! The invariants added for the planted broker bugs, each shown to catch
//! a hand-built trace that breaks it and to stay quiet on the same trace
//! done right (tests/invariants_catch_mutants.rs records them from the mutants).

use std::path::Path;

use super::tests::{Trace, judge, names, pair, publish, subscribed};
use crate::scenario::{self, ClosedBy, Scenario};
use crate::trace::EventKind;
use crate::wire::{
    Ack, ConnAck, Connect, Disconnect, LEVEL_V5, Packet, Properties, Property, QoS, RetainHandling,
    SubscribeFilter,
};

/// Three 5.0 clients on one broker: `sub`, `pub` and `m2`.
fn trio_v5() -> Scenario {
    let yaml =
        "protocol: 5.0\nduration: 5s\nbrokers: {broker: {}}\nclients: {sub: {}, pub: {}, m2: {}}\n";
    scenario::parse(yaml, Path::new("trio.yaml")).expect("parses")
}

/// Connects `host` as client id `id` with these CONNECT properties.
fn connect_as(t: &mut Trace, ms: u64, host: &str, id: &str, properties: Vec<Property>) {
    t.at(
        ms,
        EventKind::Connected {
            client: host.to_string(),
        },
    );
    t.send(
        ms,
        host,
        Packet::Connect(Connect {
            protocol_name: "MQTT".into(),
            protocol_level: LEVEL_V5,
            client_id: id.to_string(),
            clean: true,
            keep_alive_s: 0,
            will: None,
            username: None,
            password: None,
            properties: properties.into(),
        }),
    );
    t.recv(
        ms,
        host,
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: 0,
            properties: Properties::default(),
        }),
    );
}

/// A PUBLISH with these flags and properties.
fn message(
    topic: &str,
    payload: &'static str,
    id: u16,
    retain: bool,
    props: Vec<Property>,
) -> Packet {
    let Packet::Publish(mut p) = publish(topic, payload, id) else {
        unreachable!("publish builds a PUBLISH")
    };
    p.retain = retain;
    p.properties = props.into();
    Packet::Publish(p)
}

/// The invariants a hand-built trace breaks, by name.
fn broken(s: &Scenario, t: &Trace) -> Vec<String> {
    names(&judge(s, t.events()))
        .into_iter()
        .map(String::from)
        .collect()
}

/// `sub` gets DISCONNECT 0x8E, Session taken over.
fn taken_over_disconnect(t: &mut Trace, ms: u64) {
    t.recv(
        ms,
        "sub",
        Packet::Disconnect(Disconnect {
            reason: Some(0x8E),
            properties: Properties::default(),
        }),
    );
}

/// The broker closes `sub`'s connection.
fn broker_closes_sub(t: &mut Trace, ms: u64) {
    t.at(
        ms,
        EventKind::Closed {
            client: "sub".into(),
            by: ClosedBy::Broker,
            reason: None,
        },
    );
}

#[test]
fn receive_maximum_catches_a_publish_beyond_the_clients_quota() {
    let run = |ack_first: bool| {
        let mut t = Trace::default();
        connect_as(&mut t, 0, "sub", "sub", vec![Property::ReceiveMaximum(1)]);
        t.subscribe(1, "sub", "t/#");
        t.recv(10, "sub", publish("t/x", "a", 1));
        if ack_first {
            t.send(11, "sub", Packet::PubAck(Ack::new(1)));
        }
        t.recv(12, "sub", publish("t/x", "b", 2));
        broken(&trio_v5(), &t)
    };
    assert_eq!(run(false), vec!["receive-maximum"]);
    assert_eq!(run(true), Vec::<String>::new());
}

#[test]
fn shared_one_member_catches_a_message_sent_to_two_members() {
    let run = |both: bool| {
        let mut t = Trace::default();
        connect_as(&mut t, 0, "sub", "sub", vec![]);
        connect_as(&mut t, 0, "m2", "m2", vec![]);
        connect_as(&mut t, 0, "pub", "pub", vec![]);
        t.subscribe(1, "sub", "$share/g/t/#");
        t.subscribe(1, "m2", "$share/g/t/#");
        t.send(10, "pub", publish("t/1", "a", 0));
        t.recv(11, "sub", publish("t/1", "a", 0));
        if both {
            t.recv(11, "m2", publish("t/1", "a", 0));
        }
        broken(&trio_v5(), &t)
    };
    assert_eq!(run(true), vec!["shared-one-member"]);
    assert_eq!(run(false), Vec::<String>::new());
}

#[test]
fn dup_on_resend_catches_a_resend_with_dup_0() {
    let run = |dup: bool| {
        let mut t = subscribed();
        t.recv(10, "sub", publish("t/x", "a", 7));
        let Packet::Publish(mut again) = publish("t/x", "a", 7) else {
            unreachable!()
        };
        again.dup = dup;
        t.recv(20, "sub", Packet::Publish(again))
            .send(20, "sub", Packet::PubAck(Ack::new(7)));
        broken(&pair(), &t)
    };
    assert_eq!(run(false), vec!["dup-on-resend"]);
    assert_eq!(run(true), Vec::<String>::new());
}

#[test]
fn takeover_catches_an_old_connection_left_open_or_closed_without_a_word() {
    // `sub` connects as "x"; `m2` connects as "x" later and takes over.
    let run = |close: bool, disconnect: bool| {
        let mut t = Trace::default();
        connect_as(&mut t, 0, "sub", "x", vec![]);
        connect_as(&mut t, 1_000, "m2", "x", vec![]);
        if disconnect {
            taken_over_disconnect(&mut t, 1_000);
        }
        if close {
            broker_closes_sub(&mut t, 1_000);
        }
        broken(&trio_v5(), &t)
    };
    assert_eq!(run(false, false), vec!["takeover"]);
    assert_eq!(run(true, false), vec!["takeover"]);
    assert_eq!(run(true, true), Vec::<String>::new());
}

#[test]
fn topic_alias_catches_an_alias_the_client_did_not_allow() {
    let run = |allowed: Vec<Property>| {
        let mut t = Trace::default();
        connect_as(&mut t, 0, "sub", "sub", allowed);
        t.subscribe(1, "sub", "t/#");
        t.recv(
            10,
            "sub",
            message("t/1", "a", 0, false, vec![Property::TopicAlias(1)]),
        );
        broken(&trio_v5(), &t)
    };
    assert_eq!(run(vec![]), vec!["topic-alias"]);
    assert_eq!(
        run(vec![Property::TopicAliasMaximum(5)]),
        Vec::<String>::new()
    );
}

#[test]
fn retain_flag_catches_a_live_forward_that_keeps_retain() {
    let run = |kept: bool| {
        let mut t = subscribed();
        t.send(10, "pub", message("t/1", "a", 0, true, vec![]))
            .recv(11, "sub", message("t/1", "a", 0, kept, vec![]));
        broken(&pair(), &t)
    };
    assert_eq!(run(true), vec!["retain-flag"]);
    assert_eq!(run(false), Vec::<String>::new());
}

#[test]
fn retain_flag_catches_a_retained_message_retain_handling_2_refused() {
    let run = |handling: RetainHandling| {
        let mut t = Trace::default();
        connect_as(&mut t, 0, "sub", "sub", vec![]);
        let mut f = SubscribeFilter::new("t/#", QoS::AtLeastOnce);
        f.retain_handling = handling;
        t.subscribe_with(1, "sub", f);
        t.recv(2, "sub", message("t/1", "old", 0, true, vec![]));
        // `retained` also sees a retained message nobody published; only
        // `retain-flag` is judged here.
        let mut names = broken(&trio_v5(), &t);
        names.retain(|n| n == "retain-flag");
        names
    };
    assert_eq!(run(RetainHandling::DoNotSend), vec!["retain-flag"]);
    assert_eq!(run(RetainHandling::SendAtSubscribe), Vec::<String>::new());
}

#[test]
fn message_expiry_catches_an_interval_not_counted_down_or_run_out() {
    let run = |published: u32, got: u32| {
        let mut t = Trace::default();
        connect_as(&mut t, 0, "sub", "sub", vec![]);
        t.subscribe(1, "sub", "t/#");
        connect_as(&mut t, 2, "pub", "pub", vec![]);
        let expiry = |s| vec![Property::MessageExpiryInterval(s)];
        t.send(10, "pub", message("t/1", "a", 0, false, expiry(published)))
            .recv(4_010, "sub", message("t/1", "a", 0, false, expiry(got)));
        broken(&trio_v5(), &t)
    };
    // Waited 4 s, at least 3 of them provably in the broker.
    assert_eq!(run(10, 10), vec!["message-expiry"]);
    assert_eq!(run(2, 1), vec!["message-expiry"]);
    assert_eq!(run(10, 7), Vec::<String>::new());
}

#[test]
fn delivery_matches_subscription_catches_an_own_message_through_no_local() {
    let run = |no_local: bool| {
        let mut t = Trace::default();
        connect_as(&mut t, 0, "sub", "sub", vec![]);
        let mut f = SubscribeFilter::new("t/#", QoS::AtLeastOnce);
        f.no_local = no_local;
        t.subscribe_with(1, "sub", f);
        t.send(10, "sub", publish("t/1", "mine", 0))
            .recv(11, "sub", publish("t/1", "mine", 0));
        broken(&trio_v5(), &t)
    };
    assert_eq!(run(true), vec!["delivery-matches-subscription"]);
    assert_eq!(run(false), Vec::<String>::new());
}

#[test]
fn takeover_catches_an_old_connection_still_served_after_the_takeover() {
    let run = |late: bool| {
        let mut t = Trace::default();
        connect_as(&mut t, 0, "sub", "x", vec![]);
        t.subscribe(1, "sub", "t/#");
        connect_as(&mut t, 1_000, "m2", "x", vec![]);
        taken_over_disconnect(&mut t, 1_000);
        if late {
            t.recv(2_000, "sub", publish("t/1", "a", 0));
        }
        broker_closes_sub(&mut t, 2_500);
        broken(&trio_v5(), &t)
    };
    assert_eq!(run(true), vec!["takeover"]);
    assert_eq!(run(false), Vec::<String>::new());
}
