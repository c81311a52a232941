//! Subscriptions, QoS flows, persistent sessions and retained messages.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use tokio::task::LocalSet;

use super::support::*;
use crate::broker::{QUEUED_MAX, SUBSCRIPTIONS_MAX, Store};
use crate::wire::{Ack, Disconnect, Packet, Publish, UnsubAck, Unsubscribe};

#[tokio::test(start_paused = true)]
async fn suback_codes() {
    local(async {
        let mut cfg = config();
        cfg.max_qos = 1;
        let h = Harness::new(cfg);
        let (mut c, _) = h.connected(connect("a", true)).await;
        let ack = c
            .subscribe(7, &[("a/#", 2), ("a/#/b", 1), ("+", 0), ("x+", 1)])
            .await;
        assert_eq!(ack.codes, vec![1, 0x80, 0, 0x80]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn qos0_and_qos1_both_ways() {
    local(async {
        let h = Harness::new(config());
        let mut sub = h.observer("sub", "t/#").await;
        let (mut publ, _) = h.connected(connect("pub", true)).await;

        publ.send(Packet::Publish(publish("t/0", "zero", 0, 0)))
            .await;
        let p = sub.recv_publish().await;
        assert_eq!(
            (p.topic.as_str(), p.qos.level(), p.packet_id),
            ("t/0", 0, 0)
        );

        publ.send(Packet::Publish(publish("t/1", "one", 1, 9)))
            .await;
        assert_eq!(publ.recv().await, Packet::PubAck(Ack::new(9)));
        let p = sub.recv_publish().await;
        assert_eq!((p.topic.as_str(), p.qos.level(), p.dup), ("t/1", 1, false));
        assert_ne!(p.packet_id, 0);
        sub.send(Packet::PubAck(Ack::new(p.packet_id))).await;

        // Delivered at min(publish QoS, granted QoS).
        publ.send(Packet::Publish(publish("t/2", "two", 2, 10)))
            .await;
        assert_eq!(publ.recv().await, Packet::PubRec(Ack::new(10)));
        assert_eq!(sub.recv_publish().await.qos.level(), 1);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn overlapping_subscriptions_deliver_one_copy_at_highest_qos() {
    local(async {
        let h = Harness::new(config());
        let (mut sub, _) = h.connected(connect("sub", true)).await;
        sub.subscribe(1, &[("a/+", 0), ("a/#", 1), ("a/b", 0)])
            .await;
        let (mut publ, _) = h.connected(connect("pub", true)).await;
        publ.send(Packet::Publish(publish("a/b", "x", 2, 1))).await;
        assert_eq!(sub.recv_publish().await.qos.level(), 1);
        sub.quiet_for(Duration::from_secs(5)).await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn unsubscribe_stops_delivery() {
    local(async {
        let h = Harness::new(config());
        let mut sub = h.observer("sub", "t").await;
        sub.send(Packet::Unsubscribe(Unsubscribe {
            packet_id: 4,
            filters: vec!["t".into(), "never-subscribed".into()],
            properties: Default::default(),
        }))
        .await;
        assert_eq!(sub.recv().await, Packet::UnsubAck(UnsubAck::new(4)));
        let (mut publ, _) = h.connected(connect("pub", true)).await;
        publ.send(Packet::Publish(publish("t", "x", 0, 0))).await;
        sub.quiet_for(Duration::from_secs(5)).await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn packet_ids_do_not_collide_with_inflight() {
    local(async {
        let h = Harness::new(config());
        let mut sub = h.observer("sub", "t").await;
        let (mut publ, _) = h.connected(connect("pub", true)).await;
        let mut ids = Vec::new();
        for i in 0..3 {
            publ.send(Packet::Publish(publish("t", "x", 1, i + 1)))
                .await;
            publ.recv().await;
            ids.push(sub.recv_publish().await.packet_id);
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 3, "{ids:?}");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn qos2_inbound_exactly_once() {
    local(async {
        let h = Harness::new(config());
        let (mut sub, _) = h.connected(connect("sub", true)).await;
        sub.subscribe(1, &[("t", 2)]).await;
        let (mut publ, _) = h.connected(connect("pub", true)).await;
        let mut p = publish("t", "x", 2, 5);
        publ.send(Packet::Publish(p.clone())).await;
        assert_eq!(publ.recv().await, Packet::PubRec(Ack::new(5)));
        p.dup = true;
        publ.send(Packet::Publish(p)).await;
        assert_eq!(publ.recv().await, Packet::PubRec(Ack::new(5)));
        publ.send(Packet::PubRel(Ack::new(5))).await;
        assert_eq!(publ.recv().await, Packet::PubComp(Ack::new(5)));

        // Outbound QoS 2: PUBLISH, PUBREC, PUBREL, PUBCOMP; one copy.
        let got = sub.recv_publish().await;
        assert_eq!(got.qos.level(), 2);
        sub.send(Packet::PubRec(Ack::new(got.packet_id))).await;
        assert_eq!(sub.recv().await, Packet::PubRel(Ack::new(got.packet_id)));
        sub.send(Packet::PubComp(Ack::new(got.packet_id))).await;
        sub.quiet_for(Duration::from_secs(5)).await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn wildcard_publish_is_a_violation() {
    local(async {
        let h = Harness::new(config());
        let (mut c, _) = h.connected(connect("a", true)).await;
        c.writer
            .write_raw(&[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'#'])
            .await
            .ok();
        c.expect_closed().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn persistent_session_queues_and_resends() {
    local(async {
        let h = Harness::new(config());
        let (mut sub, _) = h.connected(connect("sub", false)).await;
        sub.subscribe(1, &[("t", 2)]).await;
        let (mut publ, _) = h.connected(connect("pub", true)).await;

        // In flight when the subscriber goes: not acknowledged.
        publ.send(Packet::Publish(publish("t", "first", 1, 1)))
            .await;
        publ.recv().await;
        let first = sub.recv_publish().await;
        drop(sub);
        tokio::time::sleep(Duration::from_millis(1)).await;

        publ.send(Packet::Publish(publish("t", "zero", 0, 0))).await;
        publ.send(Packet::Publish(publish("t", "second", 1, 2)))
            .await;
        publ.recv().await;

        let (mut sub, ack) = h.connected(connect("sub", false)).await;
        assert!(ack.session_present);
        let again = sub.recv_publish().await;
        assert_eq!(
            (again.packet_id, again.dup, &again.payload[..]),
            (first.packet_id, true, &b"first"[..])
        );
        let second = sub.recv_publish().await;
        assert_eq!((&second.payload[..], second.dup), (&b"second"[..], false));
        assert_ne!(second.packet_id, first.packet_id);
        sub.quiet_for(Duration::from_secs(5)).await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn retained_messages() {
    local(async {
        let h = Harness::new(config());
        let (mut publ, _) = h.connected(connect("pub", true)).await;
        let retained = |topic: &str, payload: &str, qos: u8, id: u16| {
            Packet::Publish(Publish {
                retain: true,
                ..publish(topic, payload, qos, id)
            })
        };
        publ.send(retained("r/a", "A", 1, 1)).await;
        publ.recv().await;
        publ.send(retained("r/b", "B", 0, 0)).await;
        publ.send(retained("r/b", "", 0, 0)).await;

        let (mut sub, _) = h.connected(connect("sub", true)).await;
        sub.subscribe(1, &[("r/#", 0)]).await;
        let p = sub.recv_publish().await;
        assert_eq!(
            (p.topic.as_str(), p.retain, p.qos.level()),
            ("r/a", true, 0)
        );
        sub.quiet_for(Duration::from_secs(1)).await;

        // Live forwarding clears RETAIN.
        publ.send(retained("r/c", "C", 0, 0)).await;
        let p = sub.recv_publish().await;
        assert_eq!((p.topic.as_str(), p.retain), ("r/c", false));

        // Subscribing again sends them again.
        sub.subscribe(2, &[("r/#", 1)]).await;
        let mut topics = [sub.recv_publish().await, sub.recv_publish().await];
        topics.sort_by(|a, b| a.topic.cmp(&b.topic));
        assert!(topics.iter().all(|p| p.retain));
        assert_eq!(topics[0].qos.level(), 1);
        assert_eq!(topics[1].topic, "r/c");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn retained_will() {
    local(async {
        let h = Harness::new(config());
        let mut cc = with_will(connect("a", true), "will/a", "gone");
        if let Some(w) = cc.will.as_mut() {
            w.retain = true;
        }
        let (c, _) = h.connected(cc).await;
        drop(c);
        tokio::time::sleep(Duration::from_millis(1)).await;
        let (mut late, _) = h.connected(connect("late", true)).await;
        late.subscribe(1, &[("will/#", 1)]).await;
        let p = late.recv_publish().await;
        assert_eq!((p.topic.as_str(), p.retain), ("will/a", true));
        late.send(Packet::Disconnect(Disconnect::default())).await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn store_survives_a_restart() {
    let store = Rc::new(RefCell::new(Store::new()));
    // The first broker and its connections die with their LocalSet, as a
    // crashed turmoil host's do.
    LocalSet::new()
        .run_until(async {
            let h = Harness::with_store(config(), store.clone());
            let (mut sub, _) = h.connected(connect("sub", false)).await;
            sub.subscribe(1, &[("t", 1)]).await;
            let (_clean, _) = h.connected(connect("clean", true)).await;
            let (mut publ, _) = h.connected(connect("pub", true)).await;
            publ.send(Packet::Publish(Publish {
                retain: true,
                ..publish("t", "kept", 1, 1)
            }))
            .await;
            publ.recv().await;
            sub.recv_publish().await;
        })
        .await;
    local(async {
        let h = Harness::with_store(config(), store.clone());
        let (mut sub, ack) = h.connected(connect("sub", false)).await;
        assert!(ack.session_present);
        let p = sub.recv_publish().await;
        assert_eq!((&p.payload[..], p.dup), (&b"kept"[..], true));
        let (_c, ack) = h.connected(connect("clean", false)).await;
        assert!(!ack.session_present, "clean sessions do not survive");
        let (mut late, _) = h.connected(connect("late", true)).await;
        late.subscribe(1, &[("t", 0)]).await;
        assert!(late.recv_publish().await.retain);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn subscription_limit_refuses_and_notes() {
    local(async {
        let h = Harness::new(config());
        let (mut c, _) = h.connected(connect("a", true)).await;
        let names: Vec<String> = (0..=SUBSCRIPTIONS_MAX).map(|i| format!("f/{i}")).collect();
        let filters: Vec<(&str, u8)> = names.iter().map(|n| (n.as_str(), 0)).collect();
        let ack = c.subscribe(1, &filters).await;
        assert_eq!(
            ack.codes.iter().filter(|&&c| c == 0).count(),
            SUBSCRIPTIONS_MAX
        );
        assert_eq!(ack.codes.last(), Some(&0x80));
        h.assert_note(&format!(
            "subscription limit of {SUBSCRIPTIONS_MAX} reached for a: refused f/{SUBSCRIPTIONS_MAX}"
        ));
        // Re-subscribing to a known filter is still fine at the limit.
        assert_eq!(c.subscribe(2, &[("f/0", 1)]).await.codes, vec![1]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn offline_queue_is_bounded() {
    local(async {
        let h = Harness::new(config());
        let (mut sub, _) = h.connected(connect("sub", false)).await;
        sub.subscribe(1, &[("t", 1)]).await;
        sub.send(Packet::Disconnect(Disconnect::default())).await;
        sub.expect_closed().await;
        let (mut publ, _) = h.connected(connect("pub", true)).await;
        for i in 0..=QUEUED_MAX {
            let id = u16::try_from(i % 60_000 + 1).unwrap_or(1);
            publ.send(Packet::Publish(publish("t", "x", 1, id))).await;
            assert_eq!(publ.recv().await, Packet::PubAck(Ack::new(id)));
        }
        h.assert_note("queue of sub full: dropped message to t");
        assert_eq!(
            h.notes().iter().filter(|n| n.starts_with("queue")).count(),
            1
        );
    })
    .await;
}

/// The routing index holds a session's subscriptions while the session is
/// stored, and gives them back when it ends: with its connection (clean
/// session), by clean session replacing a persistent one, or by eviction.
#[tokio::test(start_paused = true)]
async fn the_routing_index_is_emptied_when_sessions_end() {
    local(async {
        let store = Rc::new(RefCell::new(Store::new()));
        let mut cfg = config();
        cfg.sessions_max = 2;
        let h = Harness::with_store(cfg, store.clone());
        let (mut clean, _) = h.connected(connect("clean", true)).await;
        clean
            .subscribe(1, &[("a/+", 1), ("a/#", 0), ("b", 1)])
            .await;
        let (mut kept, _) = h.connected(connect("kept", false)).await;
        kept.subscribe(1, &[("a/b/c", 1)]).await;
        assert!(!store.borrow().index.is_empty());
        clean.send(Packet::Disconnect(Disconnect::default())).await;
        clean.expect_closed().await;
        kept.send(Packet::Disconnect(Disconnect::default())).await;
        kept.expect_closed().await;
        // Only the persistent session's subscription is left.
        assert_eq!(store.borrow().index.lookup("a/b", true).len(), 0);
        assert_eq!(store.borrow().index.lookup("a/b/c", true).len(), 1);
        // A clean session for the same client id discards it.
        let (mut again, _) = h.connected(connect("kept", true)).await;
        assert!(
            store.borrow().index.is_empty(),
            "{:?}",
            store.borrow().index
        );
        again.subscribe(1, &[("x", 1)]).await;
        again.send(Packet::Disconnect(Disconnect::default())).await;
        again.expect_closed().await;
        assert!(
            store.borrow().index.is_empty(),
            "{:?}",
            store.borrow().index
        );
        // Eviction too: two persistent sessions fill the table, a third
        // evicts the older one.
        for id in ["p1", "p2"] {
            let (mut p, _) = h.connected(connect(id, false)).await;
            p.subscribe(1, &[("p/#", 1)]).await;
            p.send(Packet::Disconnect(Disconnect::default())).await;
            p.expect_closed().await;
        }
        let (_p3, _) = h.connected(connect("p3", true)).await;
        let st = store.borrow();
        let hits = st.index.lookup("p/x", true);
        let members: Vec<String> = hits.iter().flat_map(|h| h.plain.iter().cloned()).collect();
        assert_eq!(members, ["p2"]);
    })
    .await;
}
