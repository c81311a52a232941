//! What `encode` refuses instead of writing something wrong.

use super::*;

fn publish(topic: String, qos: u8, packet_id: u16) -> Packet {
    Packet::Publish(Publish {
        topic,
        payload: Bytes::new(),
        qos: QoS::try_from(qos).expect("test QoS"),
        retain: false,
        dup: false,
        packet_id,
        properties: Default::default(),
    })
}

fn refused(p: &Packet) -> String {
    match encode(p, LEVEL_V311) {
        Err(WireError::Unsupported(m)) => m,
        other => panic!("{} encoded: {other:?}", p.type_name()),
    }
}

#[test]
fn strings_longer_than_a_length_prefix_are_refused() {
    let long = "x".repeat(65_536);
    let connect = match &sample_packets()[0] {
        Packet::Connect(c) => c.clone(),
        _ => unreachable!("the first sample is CONNECT"),
    };
    let will = LastWill {
        topic: "w".into(),
        payload: Bytes::new(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    };
    let cases = [
        publish(long.clone(), 0, 0),
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![SubscribeFilter::new(long.clone(), QoS::AtMostOnce)],
            properties: Default::default(),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 1,
            filters: vec!["a".into(), long.clone()],
            properties: Default::default(),
        }),
        Packet::Connect(Connect {
            client_id: long.clone(),
            ..connect.clone()
        }),
        Packet::Connect(Connect {
            username: Some(long.clone()),
            ..connect.clone()
        }),
        Packet::Connect(Connect {
            username: Some("u".into()),
            password: Some(Bytes::from(long.clone().into_bytes())),
            ..connect.clone()
        }),
        Packet::Connect(Connect {
            will: Some(LastWill {
                topic: long.clone(),
                ..will.clone()
            }),
            ..connect.clone()
        }),
        Packet::Connect(Connect {
            will: Some(LastWill {
                payload: Bytes::from(long.clone().into_bytes()),
                ..will
            }),
            ..connect
        }),
    ];
    for p in &cases {
        assert!(refused(p).contains("65535"), "{}", p.type_name());
    }
    // The longest string that fits is fine.
    let fits = publish("x".repeat(65_535), 0, 0);
    assert_eq!(encode_v4(&fits).len(), 1 + 3 + 2 + 65_535);
}

#[test]
fn values_the_frame_cannot_carry_are_refused() {
    refused(&publish("t".into(), 1, 0));
    refused(&publish("t".into(), 0, 7));
    refused(&Packet::ConnAck(ConnAck {
        session_present: false,
        code: 6,
        properties: Default::default(),
    }));
    refused(&Packet::SubAck(SubAck {
        packet_id: 1,
        codes: vec![0, 3],
        properties: Default::default(),
    }));
}

#[test]
fn what_only_5_0_can_say_is_refused_at_3_1_1() {
    let with_property = Properties::from(vec![Property::ReasonString("r".into())]);
    if let Packet::Publish(mut p) = publish("t".into(), 0, 0) {
        p.properties = with_property.clone();
        let m = refused(&Packet::Publish(p));
        assert!(m.contains("properties exists only in MQTT 5.0"), "{m}");
    }
    let mut ack = Ack::new(1);
    ack.reason = 0x10;
    refused(&Packet::PubAck(ack));
    let mut filter = SubscribeFilter::new("a", QoS::AtMostOnce);
    filter.no_local = true;
    refused(&Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![filter],
        properties: Default::default(),
    }));
    refused(&Packet::UnsubAck(UnsubAck {
        codes: vec![0],
        ..UnsubAck::new(1)
    }));
    refused(&Packet::Disconnect(Disconnect {
        reason: Some(0),
        properties: Default::default(),
    }));
    refused(&Packet::Auth(Auth::default()));
    if let Packet::Connect(mut c) = sample_packets()[2].clone() {
        if let Some(w) = c.will.as_mut() {
            w.properties = with_property;
        }
        refused(&Packet::Connect(c));
    }
}

#[tokio::test]
async fn what_the_spec_forbids_but_the_frame_carries_is_encoded_for_the_reader_to_refuse() {
    // A harness must be able to send a broker what it should refuse.
    let empty_subscribe = Packet::Subscribe(Subscribe {
        packet_id: 0,
        filters: vec![],
        properties: Default::default(),
    });
    assert_eq!(encode_v4(&empty_subscribe), vec![0x82, 2, 0, 0]);
    let level_3 = Packet::Connect(Connect {
        protocol_level: 3,
        ..match sample_packets()[0].clone() {
            Packet::Connect(c) => c,
            _ => unreachable!("the first sample is CONNECT"),
        }
    });
    let r = read_first(&encode_v4(&level_3), None).await;
    assert!(
        matches!(r, Err(WireError::UnacceptableProtocol { level: 3, .. })),
        "{r:?}"
    );
    let password_only = Packet::Connect(Connect {
        password: Some(Bytes::from_static(b"pw")),
        ..match sample_packets()[0].clone() {
            Packet::Connect(c) => c,
            _ => unreachable!("the first sample is CONNECT"),
        }
    });
    match read_first(&encode_v4(&password_only), None).await {
        Err(WireError::Malformed(m)) => assert!(m.contains("MQTT-3.1.2-22"), "{m}"),
        other => panic!("{other:?}"),
    }
}
