//! The connection life cycle: CONNECT checks, session-present, takeover,
//! keep-alive, the will.

use std::cell::RefCell;
use std::time::Duration;

use indexmap::IndexMap;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::support::*;
use crate::broker::{Listener, TakeoverWill};
use crate::wire::{Disconnect, LEVEL_V311, Packet, Reader, Writer, connack_code};

#[tokio::test(start_paused = true)]
async fn connack_codes() {
    local(async {
        let h = Harness::new(config());

        let mut c = h.open();
        let ack = c.connect(connect("", false)).await;
        assert_eq!(ack.code, connack_code::IDENTIFIER_REJECTED);
        assert!(!ack.session_present);
        c.expect_closed().await;

        let (mut c, ack) = h.connected(connect("", true)).await;
        assert!(!ack.session_present);
        h.assert_note("assigned client id mqtt-sim-1");
        c.send(Packet::PingReq).await;
        assert_eq!(c.recv().await, Packet::PingResp);
        let (_c2, _) = h.connected(connect("", true)).await;
        h.assert_note("assigned client id mqtt-sim-2");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn wrong_protocol_name_closes_without_connack() {
    local(async {
        let h = Harness::new(config());
        let mut c = h.open();
        let mut bad = connect("a", true);
        bad.protocol_name = "MQIsdp".into();
        c.send(Packet::Connect(bad)).await;
        c.expect_closed().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn logins() {
    local(async {
        let mut cfg = config();
        cfg.users = Some(IndexMap::from([(
            "alice".to_string(),
            "secret".to_string(),
        )]));
        let h = Harness::new(cfg.clone());
        let login = |user: Option<&str>, pass: Option<&str>| {
            let mut c = connect("a", true);
            c.username = user.map(Into::into);
            c.password = pass.map(|p| bytes::Bytes::from(p.to_string()));
            c
        };
        for (user, pass, code) in [
            (Some("alice"), Some("secret"), 0),
            (Some("alice"), Some("wrong"), 4),
            (Some("alice"), None, 4),
            (Some("bob"), Some("secret"), 4),
            (None, None, 4),
        ] {
            let mut c = h.open();
            let ack = c.connect(login(user, pass)).await;
            assert_eq!(ack.code, code, "{user:?} {pass:?}");
            if code != 0 {
                c.expect_closed().await;
            }
        }
        cfg.users = None;
        cfg.allow_anonymous = false;
        let h = Harness::new(cfg);
        let mut c = h.open();
        assert_eq!(c.connect(login(None, None)).await.code, 5);
        c.expect_closed().await;
        h.assert_note("refused a: no user name");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn session_present_across_reconnects() {
    local(async {
        let h = Harness::new(config());
        let (mut c, ack) = h.connected(connect("s", false)).await;
        assert!(!ack.session_present);
        c.send(Packet::Disconnect(Disconnect::default())).await;
        c.expect_closed().await;

        let (c, ack) = h.connected(connect("s", false)).await;
        assert!(ack.session_present, "persistent session resumed");
        drop(c);
        tokio::time::sleep(Duration::from_millis(1)).await;

        let (c, ack) = h.connected(connect("s", true)).await;
        assert!(!ack.session_present, "clean session 1 -> 0");
        h.assert_note("session of s discarded (clean session)");
        drop(c);

        // The clean session ended with its connection; nothing is stored.
        let mut c = h.open();
        tokio::task::yield_now().await;
        let ack = c.connect(connect("s", false)).await;
        assert!(!ack.session_present);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn second_connect_closes_and_publishes_will() {
    local(async {
        let h = Harness::new(config());
        let mut obs = h.observer("obs", "will/#").await;
        let (mut c, _) = h
            .connected(with_will(connect("a", true), "will/a", "gone"))
            .await;
        c.send(Packet::Connect(connect("a", true))).await;
        c.expect_closed().await;
        assert_eq!(obs.recv_publish().await.topic, "will/a");
        h.assert_note("protocol violation by a: second CONNECT");
        h.assert_note("will of a published to will/a");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn first_packet_must_be_connect() {
    local(async {
        let h = Harness::new(config());
        let mut c = h.open();
        c.send(Packet::PingReq).await;
        c.expect_closed().await;
        // The broker keeps serving others.
        let (_c, ack) = h.connected(connect("b", true)).await;
        assert_eq!(ack.code, 0);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn will_on_drop_discarded_on_disconnect() {
    local(async {
        let h = Harness::new(config());
        let mut obs = h.observer("obs", "will/#").await;

        let (c, _) = h
            .connected(with_will(connect("a", true), "will/a", "gone"))
            .await;
        drop(c);
        let p = obs.recv_publish().await;
        assert_eq!(
            (p.topic.as_str(), &p.payload[..], p.qos.level()),
            ("will/a", &b"gone"[..], 1)
        );
        assert!(!p.retain);

        let (mut c, _) = h
            .connected(with_will(connect("b", true), "will/b", "gone"))
            .await;
        c.send(Packet::Disconnect(Disconnect::default())).await;
        c.expect_closed().await;
        obs.quiet_for(Duration::from_secs(10)).await;
        h.assert_note("will of b discarded (DISCONNECT)");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn keep_alive_expires_at_one_and_a_half_times() {
    local(async {
        let h = Harness::new(config());
        let mut obs = h.observer("obs", "will/#").await;
        let mut cc = with_will(connect("a", true), "will/a", "gone");
        cc.keep_alive_s = 10;
        let (mut c, _) = h.connected(cc).await;

        // Traffic at 14s restarts the 15s limit.
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(14)).await;
        c.send(Packet::PingReq).await;
        assert_eq!(c.recv().await, Packet::PingResp);
        c.expect_closed().await;
        assert_eq!(start.elapsed(), Duration::from_secs(29));
        assert_eq!(obs.recv_publish().await.topic, "will/a");
        h.assert_note("keep-alive expired for a after 15s of silence");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn keep_alive_zero_never_expires() {
    local(async {
        let h = Harness::new(config());
        let (mut c, _) = h.connected(connect("a", true)).await;
        c.quiet_for(Duration::from_secs(100_000)).await;
    })
    .await;
}

/// Takes over "a" (old: clean session `old_clean`, with a will) with a new
/// connection (`new_clean`); returns whether the observer got the will.
async fn takeover(profile: TakeoverWill, old_clean: bool, new_clean: bool) -> bool {
    let mut cfg = config();
    cfg.takeover_will = profile;
    let h = Harness::new(cfg);
    let mut obs = h.observer("obs", "will/#").await;
    let (mut old, _) = h
        .connected(with_will(connect("a", old_clean), "will/a", "gone"))
        .await;
    let (mut new, ack) = h.connected(connect("a", new_clean)).await;
    assert_eq!(ack.session_present, !old_clean && !new_clean);
    old.expect_closed().await;
    h.assert_note("takeover: closing old connection of a");
    // The new connection is the one that stays.
    new.send(Packet::PingReq).await;
    assert_eq!(new.recv().await, Packet::PingResp);
    match tokio::time::timeout(Duration::from_secs(5), obs.reader.read()).await {
        Ok(Ok(Some(Packet::Publish(p)))) => {
            assert_eq!(p.topic, "will/a");
            true
        }
        Err(_) => false,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn takeover_will_per_profile() {
    local(async {
        for (old_clean, new_clean) in [(true, true), (false, true), (true, false), (false, false)] {
            let both_persistent = !old_clean && !new_clean;
            assert!(takeover(TakeoverWill::Spec, old_clean, new_clean).await);
            assert!(!takeover(TakeoverWill::Never, old_clean, new_clean).await);
            assert_eq!(
                takeover(TakeoverWill::Mosquitto, old_clean, new_clean).await,
                !both_persistent,
                "mosquitto, old clean {old_clean}, new clean {new_clean}"
            );
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn will_comes_before_the_new_connack() {
    local(async {
        let h = Harness::new(config());
        // The observer shares nothing with "a", so ordering is only visible
        // through the broker's notes.
        let (_old, _) = h
            .connected(with_will(connect("a", true), "will/a", "gone"))
            .await;
        let (_new, _) = h.connected(connect("a", true)).await;
        let notes = h.notes();
        let take = notes.iter().position(|n| n.starts_with("takeover"));
        let will = notes
            .iter()
            .position(|n| n.starts_with("will of a published"));
        assert!(take.is_some() && take < will, "{notes:#?}");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn malformed_packet_closes_only_that_connection() {
    local(async {
        let h = Harness::new(config());
        let mut obs = h.observer("obs", "will/#").await;
        let (mut c, _) = h
            .connected(with_will(connect("a", true), "will/a", "gone"))
            .await;
        // PUBLISH with both QoS bits set [MQTT-3.3.1-4].
        c.writer
            .write_raw(&[0x36, 0x03, 0x00, 0x01, b't'])
            .await
            .ok();
        c.expect_closed().await;
        assert_eq!(obs.recv_publish().await.topic, "will/a");
        obs.send(Packet::PingReq).await;
        assert_eq!(obs.recv().await, Packet::PingResp);
    })
    .await;
}

/// Hands in-memory streams to `serve` as if they were accepted.
struct ChannelListener(RefCell<mpsc::UnboundedReceiver<DuplexStream>>);

impl Listener for ChannelListener {
    type Stream = DuplexStream;
    async fn accept(&self) -> std::io::Result<(DuplexStream, String)> {
        let next = self.0.borrow_mut().try_recv();
        match next {
            Ok(s) => Ok((s, "peer".into())),
            Err(_) => Err(std::io::Error::other("no connection waiting")),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn serve_runs_one_task_per_connection() {
    local(async {
        let h = Harness::new(config());
        let (tx, rx) = mpsc::unbounded_channel();
        let mut clients = Vec::new();
        for id in ["a", "b"] {
            let (ours, theirs) = tokio::io::duplex(4096);
            tx.send(theirs).ok();
            let (r, w) = tokio::io::split(ours);
            clients.push((
                id,
                Client {
                    reader: Reader::new(r, Some(LEVEL_V311)),
                    writer: Writer::new(w, LEVEL_V311),
                },
            ));
        }
        let broker = h.broker.clone();
        tokio::task::spawn_local(
            async move { broker.serve(ChannelListener(RefCell::new(rx))).await },
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        h.assert_note("accept failed: no connection waiting");
        for (id, c) in &mut clients {
            assert_eq!(c.connect(connect(id, true)).await.code, 0);
        }
        // Accepted after errors: the loop goes on.
        let (ours, theirs) = tokio::io::duplex(4096);
        tx.send(theirs).ok();
        let (r, w) = tokio::io::split(ours);
        let mut late = Client {
            reader: Reader::new(r, Some(LEVEL_V311)),
            writer: Writer::new(w, LEVEL_V311),
        };
        assert_eq!(late.connect(connect("late", true)).await.code, 0);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn keep_alive_factor_is_configurable() {
    local(async {
        let mut cfg = config();
        cfg.keep_alive_factor = 2.0;
        let h = Harness::new(cfg);
        let mut cc = connect("a", true);
        cc.keep_alive_s = 3;
        let (mut c, _) = h.connected(cc).await;
        let start = Instant::now();
        c.expect_closed().await;
        assert_eq!(start.elapsed(), Duration::from_secs(6));
        h.assert_note("keep-alive expired for a after 6s of silence");
    })
    .await;
}
