//! Gaps the hardening closed at broker level: protocol errors the broker
//! used to let pass (an acknowledgement of the wrong type, a Response Topic
//! that is no topic name, Authentication Data without a method), a CONNACK
//! over the client's Maximum Packet Size, and a topic copied per session.

use super::support::*;
use crate::wire::{Ack, LEVEL_V5, LastWill, Packet, Property, QoS};

/// The reason of the DISCONNECT the broker sends, then its close.
async fn disconnect_reason(c: &mut Client) -> Option<u8> {
    let reason = match c.recv().await {
        Packet::Disconnect(d) => d.reason,
        other => panic!("expected DISCONNECT, got {other:?}"),
    };
    c.expect_closed().await;
    reason
}

/// A 5.0 subscriber to `t` at `qos` that has received one message at that
/// QoS; returns it and the message's packet id.
async fn delivered(h: &Harness, qos: u8) -> (Client, u16) {
    let (mut sub, _) = h.connected(connect_v5("sub", true, vec![])).await;
    sub.subscribe(1, &[("t", qos)]).await;
    let (mut publ, _) = h.connected(connect("pub", true)).await;
    publ.send(Packet::Publish(publish("t", "x", qos, 1))).await;
    let p = sub.recv_publish().await;
    assert_eq!(p.qos.level(), qos);
    drop(publ);
    (sub, p.packet_id)
}

#[tokio::test(start_paused = true)]
async fn a_pubrec_for_a_qos_1_message_is_a_protocol_error() {
    local(async {
        let h = Harness::new(config());
        let (mut sub, id) = delivered(&h, 1).await;
        sub.send(Packet::PubRec(Ack::new(id))).await;
        assert_eq!(disconnect_reason(&mut sub).await, Some(0x82));
        h.assert_note(&format!(
            "protocol violation by sub: PUBREC for packet id {id}, a QoS 1 message"
        ));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_puback_or_early_pubcomp_in_a_qos_2_flow_is_a_protocol_error() {
    for wrong in ["PUBACK", "PUBCOMP"] {
        local(async {
            let h = Harness::new(config());
            let (mut sub, id) = delivered(&h, 2).await;
            let ack = Ack::new(id);
            let p = if wrong == "PUBACK" {
                Packet::PubAck(ack)
            } else {
                Packet::PubComp(ack)
            };
            sub.send(p).await;
            assert_eq!(disconnect_reason(&mut sub).await, Some(0x82), "{wrong}");
        })
        .await;
    }
}

#[tokio::test(start_paused = true)]
async fn the_right_acknowledgements_still_complete_their_flows() {
    local(async {
        let h = Harness::new(config());
        let (mut sub, id) = delivered(&h, 2).await;
        sub.send(Packet::PubRec(Ack::new(id))).await;
        assert!(matches!(sub.recv().await, Packet::PubRel(a) if a.packet_id == id));
        sub.send(Packet::PubComp(Ack::new(id))).await;
        // An acknowledgement for an id with nothing in flight is a late
        // resend, not an error.
        sub.send(Packet::PubAck(Ack::new(999))).await;
        sub.send(Packet::PingReq).await;
        assert_eq!(sub.recv().await, Packet::PingResp);
    })
    .await;
}

/// [MQTT-3.3.2-14]: the Response Topic MUST NOT contain wildcards.
#[tokio::test(start_paused = true)]
async fn a_response_topic_with_a_wildcard_is_a_protocol_error() {
    local(async {
        let h = Harness::new(config());
        let (mut c, _) = h.connected(connect_v5("c", true, vec![])).await;
        let mut p = publish("t", "x", 0, 0);
        p.properties.push(Property::ResponseTopic("reply/+".into()));
        c.send(Packet::Publish(p)).await;
        assert_eq!(disconnect_reason(&mut c).await, Some(0x82));

        let mut will = connect_v5("w", true, vec![]);
        let mut properties = crate::wire::Properties::default();
        properties.push(Property::ResponseTopic("reply/#".into()));
        will.will = Some(LastWill {
            topic: "w".into(),
            payload: "x".into(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties,
        });
        let mut c = h.open_at(LEVEL_V5);
        assert_eq!(c.connect(will).await.code, 0x82);
    })
    .await;
}

/// 5.0 section 3.1.2.11.10: Authentication Data without an Authentication
/// Method is a protocol error.
#[tokio::test(start_paused = true)]
async fn authentication_data_without_a_method_is_refused() {
    local(async {
        let h = Harness::new(config());
        let c = connect_v5(
            "c",
            true,
            vec![Property::AuthenticationData(vec![1, 2, 3].into())],
        );
        let mut client = h.open_at(LEVEL_V5);
        assert_eq!(client.connect(c).await.code, 0x82);
    })
    .await;
}

/// [MQTT-3.1.2-24]: the CONNACK too must fit the client's Maximum Packet
/// Size; its optional properties are left out.
#[tokio::test(start_paused = true)]
async fn a_connack_fits_the_clients_maximum_packet_size() {
    local(async {
        let h = Harness::new(config());
        let c = connect_v5("small", true, vec![Property::MaximumPacketSize(10)]);
        let (_, ack) = h.connected(c).await;
        assert!(ack.properties.is_empty(), "{ack:?}");
        h.assert_note("CONNACK properties not sent to small: over its maximum packet size");
    })
    .await;
}

/// Item 5: each session's copy of a message held its own copy of the
/// topic (500 offline `#` sessions, ten 60 KB topics: +288 MB). Now the
/// copies share one.
#[tokio::test(start_paused = true)]
async fn the_copies_of_a_message_share_one_topic() {
    use crate::broker::{Broker, Publication, Session, SessionExpiry, Store, Subscription};
    use std::cell::RefCell;
    use std::rc::Rc;
    let mut store = Store::new();
    for id in ["a", "b"] {
        let mut s = Session::new(SessionExpiry::NEVER);
        s.offline_since = Some(1);
        store.insert_session(id, s);
        store.subscribe(id, "#", Subscription::new(QoS::AtLeastOnce));
    }
    let store = Rc::new(RefCell::new(store));
    let broker = Broker::with_store(config(), Rc::new(|_| {}), store.clone());
    broker.route(&Publication {
        topic: "x".repeat(60_000),
        payload: "p".into(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
        from: None,
    });
    let st = store.borrow();
    let topic = |id: &str| {
        st.sessions()[id]
            .queue
            .front()
            .map(|m| m.topic.clone())
            .expect("queued")
    };
    assert!(std::sync::Arc::ptr_eq(&topic("a"), &topic("b")));
}

/// Item 6: one SUBSCRIBE of many distinct wildcard filters examined every
/// retained message for each (1,000 filters over 10,000 retained held the
/// broker 0.9 s). The retained messages a packet may examine are bounded;
/// a filter's lookup starts at its levels before the first wildcard.
#[tokio::test(start_paused = true)]
async fn one_subscribe_examines_a_bounded_number_of_retained_messages() {
    local(async {
        let mut c = config();
        c.limits.retained_scan_max = 25;
        let h = Harness::new(c);
        let (mut publ, _) = h.connected(connect("pub", true)).await;
        for i in 0..10 {
            let mut p = publish(&format!("r/{i}"), "x", 0, 0);
            p.retain = true;
            publ.send(Packet::Publish(p)).await;
        }
        publ.send(Packet::PingReq).await;
        assert_eq!(publ.recv().await, Packet::PingResp);
        let (mut sub, _) = h.connected(connect("sub", true)).await;
        // r/+ and +/1 examine 10 each; +/2 would pass 25, and r/3 (a
        // lookup of one) comes after it; x/+ and q examine none.
        let filters = [
            ("r/+", 0),
            ("+/1", 0),
            ("+/2", 0),
            ("r/3", 0),
            ("x/+", 0),
            ("q", 0),
        ];
        let ack = sub.subscribe(1, &filters).await;
        assert_eq!(ack.codes, vec![0, 0, 0x80, 0x80, 0, 0]);
        h.assert_note(
            "retained scan limit of 25 per SUBSCRIBE reached for sub at +/2: \
             it and the later filters with retained messages to look at are refused",
        );
        // r/+ gave ten, +/1 one.
        let mut got = Vec::new();
        for _ in 0..11 {
            got.push(sub.recv_publish().await.topic);
        }
        assert_eq!(got.iter().filter(|t| *t == "r/1").count(), 2);
        sub.quiet_for(std::time::Duration::from_secs(1)).await;
        // The next packet has a budget of its own.
        let ack = sub.subscribe(2, &[("+/2", 0)]).await;
        assert_eq!(ack.codes, vec![0]);
    })
    .await;
}
