//! Sessions and wills over time: session expiry, the will delay, the
//! DISCONNECT that changes them, and a full session table. Each planted
//! 5.0 bug (`Mutant`) is shown to change what a test here observes.

use std::time::Duration;

use tokio::time::Instant;

use super::support::*;
use crate::broker::{BrokerConfig, Mutant};
use crate::wire::{Connect, Disconnect, LEVEL_V5, Packet, Property, connack_code};

fn expiring(id: &str, clean: bool, expiry_s: u32) -> Connect {
    connect_v5(id, clean, vec![Property::SessionExpiryInterval(expiry_s)])
}

fn mutant(m: Mutant) -> BrokerConfig {
    BrokerConfig {
        mutant: Some(m),
        ..config()
    }
}

/// Connects `id` with clean start 0 after `after`; says whether the broker
/// still had its session.
async fn present_after(h: &Harness, id: &str, expiry_s: u32, after: Duration) -> bool {
    tokio::time::sleep(after).await;
    let (mut c, ack) = h.connected(expiring(id, false, expiry_s)).await;
    c.send(Packet::Disconnect(Disconnect::default())).await;
    c.expect_closed().await;
    ack.session_present
}

/// A session with an expiry of 10 s, offline for `offline`: is it there?
async fn session_survives(cfg: BrokerConfig, offline: Duration) -> bool {
    let h = Harness::new(cfg);
    let (mut c, _) = h.connected(expiring("a", true, 10)).await;
    c.send(Packet::Disconnect(Disconnect::default())).await;
    c.expect_closed().await;
    present_after(&h, "a", 0, offline).await
}

#[tokio::test(start_paused = true)]
async fn a_session_lives_for_its_expiry_and_no_longer() {
    local(async {
        assert!(session_survives(config(), Duration::from_secs(9)).await);
        let h = Harness::new(config());
        let (mut c, _) = h.connected(expiring("a", true, 10)).await;
        c.send(Packet::Disconnect(Disconnect::default())).await;
        c.expect_closed().await;
        assert!(!present_after(&h, "a", 0, Duration::from_secs(11)).await);
        h.assert_note("session of a expired after 10s");

        // Absent or 0: the session ends with the connection.
        let (mut c, _) = h.connected(connect_v5("b", true, vec![])).await;
        c.send(Packet::Disconnect(Disconnect::default())).await;
        c.expect_closed().await;
        assert!(!present_after(&h, "b", 0, Duration::ZERO).await);

        // `never` outlives any wait.
        let (mut c, _) = h.connected(expiring("c", true, u32::MAX)).await;
        c.send(Packet::Disconnect(Disconnect::default())).await;
        c.expect_closed().await;
        assert!(present_after(&h, "c", 0, Duration::from_secs(100_000)).await);

        // session_expiry_max caps both.
        let h = Harness::new(BrokerConfig {
            session_expiry_max: Some(Duration::from_secs(5)),
            ..config()
        });
        let (mut c, _) = h.connected(expiring("d", true, u32::MAX)).await;
        c.send(Packet::Disconnect(Disconnect::default())).await;
        c.expect_closed().await;
        assert!(!present_after(&h, "d", 0, Duration::from_secs(6)).await);
        h.assert_note("session of d expired after 5s");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn mutant_session_expiry_ignored_keeps_the_session() {
    local(async {
        let late = Duration::from_secs(11);
        assert!(!session_survives(config(), late).await);
        assert!(session_survives(mutant(Mutant::SessionExpiryIgnored), late).await);
    })
    .await;
}

/// CONNECT with expiry `connect_s`, then DISCONNECT asking for
/// `disconnect_s`: the server's DISCONNECT reason if it sent one, and
/// whether the session was there 1 s later.
async fn disconnect_changes_expiry(
    cfg: BrokerConfig,
    connect_s: u32,
    disconnect_s: u32,
) -> (Option<u8>, bool) {
    let h = Harness::new(cfg);
    let (mut c, _) = h.connected(expiring("a", true, connect_s)).await;
    c.send(Packet::Disconnect(Disconnect {
        reason: Some(0),
        properties: vec![Property::SessionExpiryInterval(disconnect_s)].into(),
    }))
    .await;
    let reply = match tokio::time::timeout(Duration::from_secs(5), c.reader.read()).await {
        Ok(Ok(Some(Packet::Disconnect(d)))) => {
            c.expect_closed().await;
            d.reason
        }
        Ok(Ok(None)) => None,
        other => panic!("{other:?}"),
    };
    let present = present_after(&h, "a", 0, Duration::from_secs(1)).await;
    (reply, present)
}

#[tokio::test(start_paused = true)]
async fn disconnect_may_change_the_session_expiry_but_not_from_zero() {
    local(async {
        assert_eq!(
            disconnect_changes_expiry(config(), 10, 0).await,
            (None, false)
        );
        assert_eq!(
            disconnect_changes_expiry(config(), 10, 60).await,
            (None, true)
        );
        assert_eq!(
            disconnect_changes_expiry(config(), 0, 60).await,
            (Some(0x82), false)
        );
        let m = mutant(Mutant::SessionExpiryFromZeroAccepted);
        assert_eq!(disconnect_changes_expiry(m, 0, 60).await, (None, true));
    })
    .await;
}

/// A 5.0 client with a will (delay `delay_s`, session expiry `expiry_s`)
/// loses its connection; `back_after`, if given, it connects again. Returns
/// when the observer got the will, measured from the loss, if it did
/// within 60 s.
async fn will_arrives(
    cfg: BrokerConfig,
    delay_s: u32,
    expiry_s: u32,
    back_after: Option<Duration>,
) -> Option<Duration> {
    let planted = cfg.mutant;
    let h = Harness::new(cfg);
    let mut obs = h.observer("obs", "will/#").await;
    let mut c = with_will(expiring("a", true, expiry_s), "will/a", "gone");
    if let Some(w) = &mut c.will {
        w.properties = vec![
            Property::WillDelayInterval(delay_s),
            Property::ContentType("text/plain".into()),
        ]
        .into();
    }
    let (client, _) = h.connected(c).await;
    drop(client);
    let lost = Instant::now();
    if let Some(after) = back_after {
        tokio::time::sleep(after).await;
        let (_again, ack) = h.connected(expiring("a", false, expiry_s)).await;
        assert!(ack.session_present);
        if planted.is_none() {
            h.assert_note("will of a cancelled: reconnected within its delay");
        }
        let got = tokio::time::timeout(Duration::from_secs(60), obs.reader.read()).await;
        return got.ok().map(|_| lost.elapsed());
    }
    let got = tokio::time::timeout(Duration::from_secs(60), obs.reader.read()).await;
    match got {
        Ok(Ok(Some(Packet::Publish(p)))) => {
            assert_eq!((p.topic.as_str(), &p.payload[..]), ("will/a", &b"gone"[..]));
            Some(lost.elapsed())
        }
        Err(_) => None,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_will_waits_for_its_delay_or_the_end_of_the_session() {
    local(async {
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(will_arrives(config(), 5, 100, None).await, secs(5));
        // The session ends first.
        assert_eq!(will_arrives(config(), 5, 2, None).await, secs(2));
        // The session ends with the connection.
        assert_eq!(will_arrives(config(), 5, 0, None).await, secs(0));
        // A reconnect within the delay cancels it.
        let back = Some(Duration::from_secs(3));
        assert_eq!(will_arrives(config(), 5, 100, back).await, None);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn mutants_of_the_will_delay_are_seen() {
    local(async {
        let m = mutant(Mutant::WillDelayIgnored);
        assert_eq!(will_arrives(m, 5, 100, None).await, Some(Duration::ZERO));
        let m = mutant(Mutant::WillDespiteReconnect);
        let back = Some(Duration::from_secs(3));
        assert!(will_arrives(m, 5, 100, back).await.is_some());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn will_notes_and_properties() {
    local(async {
        let h = Harness::new(config());
        let (mut obs5, _) = h.connected(connect_v5("obs5", true, vec![])).await;
        obs5.subscribe(1, &[("will/#", 1)]).await;
        let mut obs4 = h.observer("obs4", "will/#").await;
        let mut c = with_will(expiring("a", true, 100), "will/a", "gone");
        if let Some(w) = &mut c.will {
            w.properties = vec![
                Property::WillDelayInterval(2),
                Property::ContentType("text/plain".into()),
                Property::UserProperty("k".into(), "v".into()),
            ]
            .into();
        }
        let (client, _) = h.connected(c).await;
        drop(client);
        let p = obs5.recv_publish().await;
        assert_eq!(
            p.properties.0,
            vec![
                Property::ContentType("text/plain".into()),
                Property::UserProperty("k".into(), "v".into()),
            ]
        );
        assert!(obs4.recv_publish().await.properties.is_empty());
        h.assert_note("will of a held for its delay of 2s");
        h.assert_note("will of a published to will/a after its delay of 2s");

        // DISCONNECT 0x04 publishes the will, 0x00 discards it.
        for (reason, published) in [(0x04, true), (0x00, false)] {
            let (mut c, _) = h
                .connected(with_will(connect_v5("b", true, vec![]), "will/b", "x"))
                .await;
            c.send(Packet::Disconnect(Disconnect {
                reason: Some(reason),
                properties: Default::default(),
            }))
            .await;
            c.expect_closed().await;
            let got = tokio::time::timeout(Duration::from_secs(5), obs4.reader.read()).await;
            assert_eq!(got.is_ok(), published, "reason {reason:#04x}");
        }
        h.assert_note("DISCONNECT from b with reason 0x04");
        h.assert_note("will of b discarded (DISCONNECT)");
    })
    .await;
}

/// The session table, at `sessions_max: 2`: a new session evicts the least
/// recently disconnected one; when all are connected, CONNACK refuses.
#[tokio::test(start_paused = true)]
async fn a_full_session_table_evicts_the_least_recently_disconnected() {
    local(async {
        let h = Harness::new(BrokerConfig {
            sessions_max: 2,
            ..config()
        });
        for id in ["a", "b"] {
            let (mut c, _) = h.connected(connect(id, false)).await;
            c.send(Packet::Disconnect(Disconnect::default())).await;
            c.expect_closed().await;
        }
        let (_c, _) = h.connected(connect("c", false)).await;
        h.assert_note(
            "session limit of 2 reached: evicted the session of a, the least recently disconnected",
        );
        let (_b, ack) = h.connected(connect("b", false)).await;
        assert!(ack.session_present, "b was disconnected later than a");
        // Now both stored sessions are connected.
        let mut d = h.open();
        let ack = d.connect(connect("d", false)).await;
        assert_eq!(ack.code, connack_code::SERVER_UNAVAILABLE);
        d.expect_closed().await;
        let mut d = h.open_at(LEVEL_V5);
        assert_eq!(d.connect(connect_v5("d", true, vec![])).await.code, 0x97);
        h.assert_note("refused d: session limit reached and every session is connected");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn evicting_a_session_publishes_its_held_will() {
    local(async {
        let h = Harness::new(BrokerConfig {
            sessions_max: 2,
            ..config()
        });
        let mut obs = h.observer("obs", "will/#").await;
        let mut c = with_will(expiring("a", true, 100), "will/a", "gone");
        if let Some(w) = &mut c.will {
            w.properties = vec![Property::WillDelayInterval(50)].into();
        }
        let (client, _) = h.connected(c).await;
        drop(client);
        obs.quiet_for(Duration::from_secs(1)).await;
        let (_b, _) = h.connected(connect("b", true)).await;
        assert_eq!(obs.recv_publish().await.topic, "will/a");
        h.assert_note("will of a published to will/a: its session ended");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn persistent_3_1_1_sessions_can_expire() {
    local(async {
        let h = Harness::new(BrokerConfig {
            persistent_session_expiry: Some(Duration::from_secs(30)),
            ..config()
        });
        for (wait, present) in [(29, true), (31, false)] {
            let (mut c, _) = h.connected(connect("a", false)).await;
            c.send(Packet::Disconnect(Disconnect::default())).await;
            c.expect_closed().await;
            tokio::time::sleep(Duration::from_secs(wait)).await;
            let (mut c, ack) = h.connected(connect("a", false)).await;
            assert_eq!(ack.session_present, present, "after {wait}s");
            c.send(Packet::Disconnect(Disconnect::default())).await;
            c.expect_closed().await;
            // Start the next round from a fresh session.
            let (mut c, _) = h.connected(connect("a", true)).await;
            c.send(Packet::Disconnect(Disconnect::default())).await;
            c.expect_closed().await;
        }
        h.assert_note("session of a expired after 30s");
    })
    .await;
}
