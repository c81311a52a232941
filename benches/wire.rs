//! Encode + decode of one packet, 5.0 next to 3.1.1, in one run: CONNECT,
//! PUBLISH at QoS 1 (with two properties in 5.0), PUBACK and SUBSCRIBE.
//! Run with `cargo bench --bench wire`; compare `v5/<packet>` with
//! `v4/<packet>`.

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use mqtt_sim::wire::{
    Ack, Connect, LEVEL_V5, LEVEL_V311, Packet, Properties, Property, Publish, QoS, Subscribe,
    SubscribeFilter, decode, encode,
};

/// The four packets at a level; 5.0's PUBLISH carries two properties.
fn packets(level: u8) -> [(&'static str, Packet); 4] {
    let v5 = level == LEVEL_V5;
    let properties = |list: Vec<Property>| {
        if v5 {
            Properties(list)
        } else {
            Properties::default()
        }
    };
    [
        (
            "connect",
            Packet::Connect(Connect {
                protocol_name: "MQTT".into(),
                protocol_level: level,
                client_id: "sensor-0042".into(),
                clean: true,
                keep_alive_s: 60,
                will: None,
                username: Some("user".into()),
                password: Some(Bytes::from_static(b"secret")),
                properties: Properties::default(),
            }),
        ),
        (
            "publish_qos1",
            Packet::Publish(Publish {
                topic: "sensors/42/temperature".into(),
                payload: Bytes::from_static(b"21.5"),
                qos: QoS::AtLeastOnce,
                retain: false,
                dup: false,
                packet_id: 7,
                properties: properties(vec![
                    Property::MessageExpiryInterval(60),
                    Property::UserProperty("unit".into(), "C".into()),
                ]),
            }),
        ),
        ("puback", Packet::PubAck(Ack::new(7))),
        (
            "subscribe",
            Packet::Subscribe(Subscribe {
                packet_id: 8,
                filters: vec![SubscribeFilter::new(
                    "sensors/+/temperature",
                    QoS::AtLeastOnce,
                )],
                properties: Properties::default(),
            }),
        ),
    ]
}

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("wire");
    for (version, level) in [("v4", LEVEL_V311), ("v5", LEVEL_V5)] {
        for (name, packet) in packets(level) {
            group.bench_function(format!("{version}/{name}"), |b| {
                b.iter(|| {
                    let bytes = match encode(std::hint::black_box(&packet), level) {
                        Ok(b) => b,
                        Err(e) => panic!("{name} does not encode: {e}"),
                    };
                    match decode(&bytes, level) {
                        Ok(p) => p,
                        Err(e) => panic!("{name} does not decode: {e}"),
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, round_trip);
criterion_main!(benches);
