//! The broker on turmoil's simulated TCP, as the harness runs it.

use std::rc::Rc;
use std::time::Duration;

use crate::broker::{Broker, PORT};
use crate::wire::{LEVEL_V311, Packet, Reader, Writer};

use super::support::{config, connect, with_will};

#[test]
fn keep_alive_and_will_over_turmoil() {
    // A fixed latency, so that the close comes exactly 3s after the CONNACK
    // is seen: with turmoil's default random latency the two legs differ.
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .rng_seed(1)
        .build();
    sim.host("broker", || async {
        let broker = Broker::new(config(), Rc::new(|_| {}));
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
        broker.serve(listener).await?;
        Ok(())
    });
    sim.client("client", async {
        let open = || async {
            let s = turmoil::net::TcpStream::connect(("broker", PORT)).await?;
            let (r, w) = s.into_split();
            Ok::<_, std::io::Error>((Reader::new(r, Some(LEVEL_V311)), Writer::new(w, LEVEL_V311)))
        };
        let (mut obs_r, mut obs_w) = open().await?;
        obs_w.write(&Packet::Connect(connect("obs", true))).await?;
        assert!(matches!(obs_r.read().await?, Some(Packet::ConnAck(a)) if a.code == 0));
        obs_w
            .write(&Packet::Subscribe(crate::wire::Subscribe {
                packet_id: 1,
                filters: vec![crate::wire::SubscribeFilter::new(
                    "will/#",
                    crate::wire::QoS::AtLeastOnce,
                )],
                properties: Default::default(),
            }))
            .await?;
        assert!(matches!(obs_r.read().await?, Some(Packet::SubAck(_))));

        let (mut r, mut w) = open().await?;
        let mut c = with_will(connect("dev", true), "will/dev", "gone");
        c.keep_alive_s = 2;
        w.write(&Packet::Connect(c)).await?;
        assert!(matches!(r.read().await?, Some(Packet::ConnAck(_))));
        let start = tokio::time::Instant::now();
        assert!(matches!(r.read().await, Ok(None)), "closed by the broker");
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(3) && waited < Duration::from_millis(3100),
            "{waited:?}"
        );
        match obs_r.read().await? {
            Some(Packet::Publish(p)) => assert_eq!(p.topic, "will/dev"),
            other => panic!("{other:?}"),
        }
        Ok(())
    });
    if let Err(e) = sim.run() {
        panic!("{e}");
    }
}
