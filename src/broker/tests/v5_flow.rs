//! MQTT 5.0 publish flow: what PUBACK says when a message cannot be queued
//! anywhere.

use super::support::*;
use crate::broker::QUEUED_MAX;
use crate::wire::{Disconnect, LEVEL_V5, Packet, Property};

async fn puback_reason(c: &mut Client, id: u16) -> u8 {
    c.send(Packet::Publish(publish("t", "x", 1, id))).await;
    match c.recv().await {
        Packet::PubAck(a) if a.packet_id == id => a.reason,
        other => panic!("expected PUBACK {id}, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_message_no_matching_queue_can_take_gets_0x97() {
    local(async {
        let h = Harness::new(config());
        let persistent = vec![Property::SessionExpiryInterval(300)];
        let (mut sub, _) = h.connected(connect_v5("sub", true, persistent)).await;
        sub.subscribe(1, &[("t", 1)]).await;
        sub.send(Packet::Disconnect(Disconnect::default())).await;
        sub.expect_closed().await;
        let mut publ = h.open_at(LEVEL_V5);
        publ.connect(connect_v5("pub", true, vec![])).await;
        for i in 0..QUEUED_MAX {
            let id = u16::try_from(i + 1).unwrap_or(1);
            assert_eq!(puback_reason(&mut publ, id).await, 0x00);
        }
        // The only matching session's queue is full.
        assert_eq!(puback_reason(&mut publ, 60_000).await, 0x97);
        h.assert_note("queue of sub full: dropped message to t");
        // With one more subscriber that has room, the message is accepted.
        let (mut other, _) = h.connected(connect_v5("other", true, vec![])).await;
        other.subscribe(1, &[("t", 0)]).await;
        assert_eq!(puback_reason(&mut publ, 60_001).await, 0x00);
    })
    .await;
}
