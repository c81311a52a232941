//! MQTT 5.0 connections: CONNACK reason codes and properties, the server's
//! DISCONNECT and its reasons, takeover, server keep alive, and what the
//! client's CONNECT limits the broker to.

use std::time::Duration;

use bytes::Bytes;
use indexmap::IndexMap;
use tokio::time::Instant;

use super::support::*;
use crate::broker::{BrokerConfig, Mutant};
use crate::wire::{Ack, Disconnect, LEVEL_V5, Packet, Property, QoS};

fn v5(id: &str) -> crate::wire::Connect {
    connect_v5(id, true, vec![])
}

async fn expect_disconnect(c: &mut Client) -> u8 {
    match c.recv().await {
        Packet::Disconnect(d) => d.reason.unwrap_or(0),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
}

fn properties(ack: &crate::wire::ConnAck) -> Vec<Property> {
    ack.properties.0.clone()
}

#[tokio::test(start_paused = true)]
async fn a_5_0_connect_gets_a_5_0_connack_with_the_brokers_limits() {
    local(async {
        let h = Harness::new(config());
        let (mut c, ack) = h.connected(v5("a")).await;
        assert!(!ack.session_present);
        // Defaults: only what absence would not say.
        assert_eq!(
            properties(&ack),
            vec![
                Property::MaximumPacketSize(1024 * 1024),
                Property::TopicAliasMaximum(10),
            ]
        );
        c.send(Packet::PingReq).await;
        assert_eq!(c.recv().await, Packet::PingResp);

        let cfg = BrokerConfig {
            receive_maximum: 20,
            max_qos: 1,
            retain_available: false,
            maximum_packet_size: 2048,
            topic_alias_maximum: 0,
            wildcard_subscription_available: false,
            subscription_identifiers_available: false,
            shared_subscription_available: false,
            session_expiry_max: Some(Duration::from_secs(60)),
            max_keep_alive: Duration::from_secs(10),
            ..config()
        };
        let h = Harness::new(cfg);
        let asks = vec![Property::SessionExpiryInterval(3600)];
        let (_c, ack) = h.connected(connect_v5("", false, asks)).await;
        assert_eq!(
            properties(&ack),
            vec![
                Property::ReceiveMaximum(20),
                Property::MaximumQoS(1),
                Property::RetainAvailable(0),
                Property::MaximumPacketSize(2048),
                Property::WildcardSubscriptionAvailable(0),
                Property::SubscriptionIdentifierAvailable(0),
                Property::SharedSubscriptionAvailable(0),
                Property::SessionExpiryInterval(60),
                Property::AssignedClientIdentifier("mqtt-sim-1".into()),
                Property::ServerKeepAlive(10),
            ]
        );
        h.assert_note("assigned client id mqtt-sim-1");
        // A keep-alive within the maximum is the client's; the expiry asked
        // for is within the cap: neither is said again.
        let mut within = connect_v5("b", true, vec![Property::SessionExpiryInterval(30)]);
        within.keep_alive_s = 5;
        let (_c, ack) = h.connected(within).await;
        assert!(!properties(&ack).iter().any(|p| matches!(
            p,
            Property::ServerKeepAlive(_) | Property::SessionExpiryInterval(_)
        )));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn connack_reason_codes_of_5_0() {
    local(async {
        let refused = |h: &Harness, c: crate::wire::Connect| {
            let mut client = h.open_at(LEVEL_V5);
            async move {
                let ack = client.connect(c).await;
                client.expect_closed().await;
                ack.code
            }
        };
        let mut cfg = config();
        cfg.users = Some(IndexMap::from([("alice".into(), "secret".into())]));
        let h = Harness::new(cfg);
        let mut c = v5("a");
        c.username = Some("alice".into());
        c.password = Some(Bytes::from_static(b"wrong"));
        assert_eq!(refused(&h, c).await, 0x86);

        let h = Harness::new(BrokerConfig {
            allow_anonymous: false,
            ..config()
        });
        assert_eq!(refused(&h, v5("a")).await, 0x87);

        let h = Harness::new(BrokerConfig {
            max_qos: 1,
            retain_available: false,
            ..config()
        });
        let auth = vec![Property::AuthenticationMethod("SCRAM-SHA-1".into())];
        assert_eq!(refused(&h, connect_v5("a", true, auth)).await, 0x8c);
        h.assert_note("refused a: authentication method \"SCRAM-SHA-1\" is not supported");
        let mut will = with_will(v5("a"), "w", "x");
        if let Some(w) = &mut will.will {
            w.qos = QoS::ExactlyOnce;
        }
        assert_eq!(refused(&h, will).await, 0x9b);
        let mut will = with_will(v5("a"), "w", "x");
        if let Some(w) = &mut will.will {
            w.retain = true;
        }
        assert_eq!(refused(&h, will).await, 0x9a);
        assert_eq!(refused(&h, with_will(v5("a"), "w/#", "x")).await, 0x90);
        assert_eq!(refused(&h, v5("a\u{7}")).await, 0x85);
    })
    .await;
}

/// CONNECTs that cannot be read are answered in 5.0 with the wire
/// module's reason, and a level above 5 gets 0x84.
#[tokio::test(start_paused = true)]
async fn unreadable_5_0_connects_get_their_reason_code() {
    local(async {
        let h = Harness::new(BrokerConfig {
            maximum_packet_size: 64,
            ..config()
        });
        let raw = |hex: &str| -> Vec<u8> {
            let hex: String = hex.split_whitespace().collect();
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect()
        };
        let cases = [
            // Reserved connect flag bit 0 set: malformed.
            ("10 0e 0004 4d515454 05 03 003c 00 0001 61", 0x81),
            // Session expiry interval given twice: a protocol error.
            (
                "10 18 0004 4d515454 05 02 003c 0a 1100000005 110000000a 0001 61",
                0x82,
            ),
            // Level 6: a client newer than this broker.
            ("10 0e 0004 4d515454 06 02 003c 00 0001 61", 0x84),
        ];
        for (hex, code) in cases {
            let mut c = h.open_at(LEVEL_V5);
            c.writer.write_raw(&raw(hex)).await.expect("write");
            match c.recv().await {
                Packet::ConnAck(a) => assert_eq!(a.code, code, "{hex}: {a:?}"),
                other => panic!("{hex}: {other:?}"),
            }
            c.expect_closed().await;
        }
        // Larger than the broker's maximum packet size.
        let mut c = h.open_at(LEVEL_V5);
        let ack = c.connect(v5(&"x".repeat(100))).await;
        assert_eq!(ack.code, 0x95);
        c.expect_closed().await;
        // 3.1.1 keeps closing without a word.
        let mut c = h.open();
        c.writer
            .write_raw(&raw("10 0d 0004 4d515454 04 03 003c 0001 61"))
            .await
            .expect("write");
        c.expect_closed().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_protocol_error_gets_a_server_disconnect_with_its_reason() {
    local(async {
        let h = Harness::new(config());
        let (mut c, _) = h.connected(v5("a")).await;
        c.send(Packet::Connect(v5("a"))).await;
        assert_eq!(expect_disconnect(&mut c).await, 0x82);
        c.expect_closed().await;
        h.assert_note("sent DISCONNECT 0x82 to a (protocol error)");
        h.assert_note("protocol violation by a: second CONNECT");

        // Topic aliases: within the maximum they work, above it 0x94.
        let mut obs = h.observer("obs", "t/#").await;
        let (mut c, _) = h.connected(v5("b")).await;
        let mut p = publish("t/1", "one", 0, 0);
        p.properties.push(Property::TopicAlias(10));
        c.send(Packet::Publish(p)).await;
        let mut p = publish("", "two", 0, 0);
        p.properties.push(Property::TopicAlias(10));
        c.send(Packet::Publish(p)).await;
        assert_eq!(obs.recv_publish().await.payload, "one");
        let again = obs.recv_publish().await;
        assert_eq!(
            (again.topic.as_str(), &again.payload[..]),
            ("t/1", &b"two"[..])
        );
        assert!(again.properties.is_empty(), "the alias is not forwarded");
        let mut p = publish("t/1", "x", 0, 0);
        p.properties.push(Property::TopicAlias(11));
        c.send(Packet::Publish(p)).await;
        assert_eq!(expect_disconnect(&mut c).await, 0x94);
        c.expect_closed().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_takeover_tells_the_old_5_0_client_0x8e() {
    local(async {
        let h = Harness::new(config());
        let (mut old, _) = h.connected(v5("a")).await;
        let (_new, _) = h.connected(v5("a")).await;
        assert_eq!(
            old.recv().await,
            Packet::Disconnect(Disconnect {
                reason: Some(0x8e),
                properties: vec![Property::ReasonString("session taken over".into())].into(),
            })
        );
        old.expect_closed().await;
        h.assert_note("sent DISCONNECT 0x8E to a (session taken over)");
        // No reason string where it would exceed the client's maximum
        // packet size.
        let small = vec![Property::MaximumPacketSize(8)];
        let (mut old, _) = h.connected(connect_v5("b", true, small)).await;
        let (_new, _) = h.connected(v5("b")).await;
        assert_eq!(
            old.recv().await,
            Packet::Disconnect(Disconnect {
                reason: Some(0x8e),
                properties: Default::default(),
            })
        );

        let h = Harness::new(BrokerConfig {
            mutant: Some(Mutant::NoTakeoverDisconnect),
            ..config()
        });
        let (mut old, _) = h.connected(v5("a")).await;
        let (_new, _) = h.connected(v5("a")).await;
        old.expect_closed().await;
    })
    .await;
}

/// The server keep alive replaces a client's keep-alive of 0: the broker
/// closes after 1.5 x 2 s of silence, with 0x8D. Returns when it closed.
async fn closed_after_server_keep_alive(cfg: BrokerConfig) -> Option<Duration> {
    let h = Harness::new(BrokerConfig {
        max_keep_alive: Duration::from_secs(2),
        ..cfg
    });
    let start = Instant::now();
    let (mut c, ack) = h.connected(v5("a")).await;
    assert!(properties(&ack).contains(&Property::ServerKeepAlive(2)));
    let closed = tokio::time::timeout(Duration::from_secs(60), c.reader.read()).await;
    match closed {
        Ok(Ok(Some(Packet::Disconnect(d)))) => {
            assert_eq!(d.reason, Some(0x8d));
            c.expect_closed().await;
            Some(start.elapsed())
        }
        Err(_) => None,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_server_keep_alive_is_enforced() {
    local(async {
        let at = closed_after_server_keep_alive(config()).await;
        assert_eq!(at, Some(Duration::from_secs(3)));
        let mutant = BrokerConfig {
            mutant: Some(Mutant::ServerKeepAliveNotEnforced),
            ..config()
        };
        assert_eq!(closed_after_server_keep_alive(mutant).await, None);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_clients_receive_maximum_and_maximum_packet_size_are_respected() {
    local(async {
        let h = Harness::new(config());
        let limits = vec![Property::ReceiveMaximum(1), Property::MaximumPacketSize(40)];
        let (mut c, _) = h.connected(connect_v5("a", true, limits)).await;
        c.subscribe(1, &[("t", 1)]).await;
        let (mut p, _) = h.connected(connect("p", true)).await;
        p.send(Packet::Publish(publish("t", &"x".repeat(100), 1, 1)))
            .await;
        p.send(Packet::Publish(publish("t", "one", 1, 2))).await;
        p.send(Packet::Publish(publish("t", "two", 1, 3))).await;
        let first = c.recv_publish().await;
        assert_eq!(first.payload, "one", "the large message is not sent");
        h.assert_note("message to t not sent to a: 108 bytes exceed its maximum packet size of 40");
        // One in flight at most until it is acknowledged.
        c.quiet_for(Duration::from_secs(5)).await;
        c.send(Packet::PubAck(Ack::new(first.packet_id))).await;
        assert_eq!(c.recv_publish().await.payload, "two");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn inbound_limits_of_5_0() {
    local(async {
        let h = Harness::new(BrokerConfig {
            receive_maximum: 1,
            max_qos: 1,
            ..config()
        });
        let (mut c, _) = h.connected(v5("a")).await;
        c.send(Packet::Publish(publish("t", "x", 2, 1))).await;
        assert_eq!(expect_disconnect(&mut c).await, 0x9b);

        let h = Harness::new(BrokerConfig {
            receive_maximum: 1,
            ..config()
        });
        let (mut c, _) = h.connected(v5("a")).await;
        c.send(Packet::Publish(publish("t", "x", 2, 1))).await;
        assert!(matches!(c.recv().await, Packet::PubRec(_)));
        c.send(Packet::Publish(publish("t", "y", 2, 2))).await;
        assert_eq!(expect_disconnect(&mut c).await, 0x93);

        let h = Harness::new(BrokerConfig {
            wildcard_subscription_available: false,
            shared_subscription_available: false,
            ..config()
        });
        let (mut c, _) = h.connected(v5("a")).await;
        let ack = c
            .subscribe(1, &[("t/+", 1), ("$share/g/t", 1), ("t", 1)])
            .await;
        assert_eq!(ack.codes, vec![0xa2, 0x9e, 1]);
        c.send(Packet::Unsubscribe(crate::wire::Unsubscribe {
            packet_id: 2,
            filters: vec!["t".into(), "u".into()],
            properties: Default::default(),
        }))
        .await;
        match c.recv().await {
            Packet::UnsubAck(u) => assert_eq!(u.codes, vec![0x00, 0x11]),
            other => panic!("{other:?}"),
        }
        c.send(Packet::Disconnect(Disconnect::default())).await;
        c.expect_closed().await;
    })
    .await;
}

/// Subscribes `c` to one filter with a 5.0 subscription identifier.
async fn subscribe_with_id(c: &mut Client, packet_id: u16, filter: &str, id: u32) {
    c.send(Packet::Subscribe(crate::wire::Subscribe {
        packet_id,
        filters: vec![crate::wire::SubscribeFilter::new(filter, QoS::AtLeastOnce)],
        properties: vec![Property::SubscriptionIdentifier(id)].into(),
    }))
    .await;
    assert!(matches!(c.recv().await, Packet::SubAck(_)));
}

fn subscription_ids(p: &crate::wire::Publish) -> Vec<u32> {
    p.properties
        .iter()
        .filter_map(|p| match p {
            Property::SubscriptionIdentifier(id) => Some(*id),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn subscription_identifiers_come_back_on_every_matching_message() {
    local(async {
        let h = Harness::new(config());
        let (mut p, _) = h.connected(v5("p")).await;
        let mut retained = publish("s/kept", "kept", 1, 1);
        retained.retain = true;
        p.send(Packet::Publish(retained)).await;
        assert!(matches!(p.recv().await, Packet::PubAck(_)));

        let (mut c, _) = h.connected(v5("c")).await;
        // A retained message carries the identifier of the subscription
        // that brought it.
        subscribe_with_id(&mut c, 1, "s/#", 7).await;
        let kept = c.recv_publish().await;
        assert_eq!(
            (&kept.payload[..], subscription_ids(&kept)),
            (&b"kept"[..], vec![7])
        );
        c.send(Packet::PubAck(Ack::new(kept.packet_id))).await;
        // Overlapping subscriptions: one copy with every identifier
        // [MQTT-3.3.4-3]; a subscription without one adds none.
        subscribe_with_id(&mut c, 2, "s/+", 9).await;
        let again = c.recv_publish().await;
        assert_eq!(
            subscription_ids(&again),
            vec![9],
            "the retained message again, for s/+"
        );
        c.send(Packet::PubAck(Ack::new(again.packet_id))).await;
        c.subscribe(3, &[("s/live", 1)]).await;
        p.send(Packet::Publish(publish("s/live", "live", 1, 2)))
            .await;
        assert!(matches!(p.recv().await, Packet::PubAck(_)));
        let live = c.recv_publish().await;
        assert_eq!(
            subscription_ids(&live),
            vec![7, 9],
            "filter order: s/# then s/+"
        );

        // A client may not send one [MQTT-3.3.4-6].
        let mut bad = publish("s/x", "x", 0, 0);
        bad.properties.push(Property::SubscriptionIdentifier(1));
        p.send(Packet::Publish(bad)).await;
        assert_eq!(expect_disconnect(&mut p).await, 0x82);
        p.expect_closed().await;
    })
    .await;
}
