//! A seeded fuzzer for the codecs: random bytes and mutations of valid
//! packets go through [`decode`]. Nothing may panic, and every packet that
//! is accepted must encode and decode back to itself. The debug-mode unit
//! tests run it briefly; `examples/wire_fuzz.rs` runs it for 10^6 inputs in
//! release mode (`.ci/wire-fuzz.sh`).

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Packet, decode, encode};

/// What a run saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub inputs: u64,
    pub accepted: u64,
    pub refused: u64,
}

/// Runs `inputs` inputs at `level`, half random, half mutations of
/// `samples` (encoded at `level`). Returns the tally, or the first input
/// whose accepted packet does not survive a round trip.
pub fn run(seed: u64, inputs: u64, level: u8, samples: &[Packet]) -> Result<Tally, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let encoded = encode_all(samples, level)?;
    let mut tally = Tally::default();
    let mut bytes = Vec::new();
    for i in 0..inputs {
        input(&mut rng, i, level, &encoded, &mut bytes);
        tally.inputs += 1;
        match decode(&bytes, level) {
            Ok(p) => {
                tally.accepted += 1;
                round_trip(&bytes, &p, level)?;
            }
            Err(_) => tally.refused += 1,
        }
    }
    Ok(tally)
}

/// `samples` encoded at `level`, the seeds of the mutations.
pub fn encode_all(samples: &[Packet], level: u8) -> Result<Vec<Vec<u8>>, String> {
    samples
        .iter()
        .map(|p| encode(p, level).map(|b| b.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("a sample does not encode: {e}"))
}

/// One in this many inputs is a hostile packet (see [`hostile`]): they are
/// large, so a few go a long way.
const HOSTILE_EVERY: u64 = 64;

/// The `i`th input into `bytes`: a hostile packet (one in
/// `HOSTILE_EVERY`, possibly mutated), else random bytes and mutations
/// of `encoded` in turn. `serve`'s fuzz driver sends the same inputs.
pub fn input(rng: &mut ChaCha8Rng, i: u64, level: u8, encoded: &[Vec<u8>], bytes: &mut Vec<u8>) {
    bytes.clear();
    if i % HOSTILE_EVERY == HOSTILE_EVERY - 1 {
        hostile(rng, level, bytes);
        if rng.random_bool(0.5) {
            mutate(rng, bytes);
        }
        return;
    }
    match encoded.get(rng.random_range(0..encoded.len().max(1))) {
        Some(sample) if i % 2 == 1 => {
            bytes.extend_from_slice(sample);
            for _ in 0..rng.random_range(1..4) {
                mutate(rng, bytes);
            }
        }
        _ => random(rng, bytes),
    }
}

/// What one client sends to exhaust a broker rather than confuse its
/// decoder, each well formed: a topic of up to 30,000 levels (PUBLISH, or a
/// SUBSCRIBE filter), one filter repeated up to 5,000 times in one
/// SUBSCRIBE, a 5.0 PUBLISH with up to 5,000 user properties.
pub fn hostile(rng: &mut ChaCha8Rng, level: u8, bytes: &mut Vec<u8>) {
    use super::*;
    let deep = |rng: &mut ChaCha8Rng| {
        let levels = rng.random_range(1..30_000);
        let mut t = String::from("u");
        t.push_str(&"/".repeat(levels));
        if rng.random_bool(0.3) {
            t.push('#');
        }
        t
    };
    let packet = match rng.random_range(0..4) {
        0 => Packet::Publish(Publish {
            topic: deep(rng).trim_end_matches('#').to_string(),
            payload: bytes::Bytes::from_static(b"x"),
            qos: QoS::AtMostOnce,
            retain: rng.random_bool(0.5),
            dup: false,
            packet_id: 0,
            properties: Properties::default(),
        }),
        1 => Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![SubscribeFilter::new(deep(rng), QoS::AtLeastOnce)],
            properties: Properties::default(),
        }),
        2 => {
            let filter = ["#", "a/+/b", "+/+", "$share/g/t"][rng.random_range(0..4)];
            let copies = rng.random_range(1..5_000);
            Packet::Subscribe(Subscribe {
                packet_id: 2,
                filters: vec![SubscribeFilter::new(filter, QoS::AtLeastOnce); copies],
                properties: Properties::default(),
            })
        }
        _ => {
            let n = rng.random_range(1..5_000);
            let user = |i: usize| Property::UserProperty(format!("k{i}"), "v".repeat(8));
            Packet::Publish(Publish {
                topic: "flood".into(),
                payload: bytes::Bytes::from_static(b"x"),
                qos: QoS::AtLeastOnce,
                retain: false,
                dup: false,
                packet_id: 3,
                properties: Properties((0..n).map(user).collect()),
            })
        }
    };
    // 3.1.1 cannot carry properties: the flood is refused to encode there,
    // and the input is then the deep topic's PUBLISH.
    match encode(&packet, level) {
        Ok(b) => bytes.extend_from_slice(&b),
        Err(_) => {
            let p = Packet::Publish(Publish {
                topic: deep(rng).trim_end_matches('#').to_string(),
                payload: bytes::Bytes::from_static(b"x"),
                qos: QoS::AtMostOnce,
                retain: false,
                dup: false,
                packet_id: 0,
                properties: Properties::default(),
            });
            if let Ok(b) = encode(&p, level) {
                bytes.extend_from_slice(&b);
            }
        }
    }
}

fn round_trip(bytes: &[u8], p: &Packet, level: u8) -> Result<(), String> {
    let again = encode(p, level)
        .map_err(|e| format!("{bytes:02x?} decoded as {p:?}, which does not encode: {e}"))?;
    match decode(&again, level) {
        Ok(q) if q == *p => Ok(()),
        other => Err(format!(
            "{bytes:02x?} decoded as {p:?}, encoded as {:02x?}, decoded as {other:?}",
            &again[..]
        )),
    }
}

/// A random frame: any first byte, a small remaining length so that a body
/// is reached, then random bytes.
fn random(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    let len = rng.random_range(0..64);
    bytes.resize(len, 0);
    rng.fill_bytes(bytes);
    if let Some(b) = bytes.get_mut(1) {
        *b &= 0x3f;
    }
}

pub(crate) fn mutate(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    if bytes.is_empty() {
        bytes.push(rng.random());
        return;
    }
    let at = rng.random_range(0..bytes.len());
    match rng.random_range(0..6) {
        0 => bytes[at] ^= 1 << rng.random_range(0..8),
        1 => bytes[at] = rng.random(),
        2 => bytes.truncate(at),
        3 => bytes.insert(at, rng.random()),
        4 => {
            bytes.remove(at);
        }
        // Interesting values: NUL, wildcards, bytes that are never UTF-8,
        // the start of a surrogate, property identifiers.
        _ => {
            bytes[at] = [0x00, b'+', b'#', 0xff, 0xc0, 0x80, 0xed, 0x26, 0x0b, 0x11]
                [rng.random_range(0..10)]
        }
    }
}

/// One of every 5.0 packet type, with every property somewhere: the seeds
/// of the mutations, and the round-trip cases of the unit tests.
pub fn samples_v5() -> Vec<Packet> {
    use super::*;
    use Property as P;
    use bytes::Bytes;
    let user = || P::UserProperty("k".into(), "v".into());
    vec![
        Packet::Connect(Connect {
            protocol_name: "MQTT".into(),
            protocol_level: LEVEL_V5,
            client_id: "dev-1".into(),
            clean: false,
            keep_alive_s: 30,
            will: Some(LastWill {
                topic: "dev/1/status".into(),
                payload: Bytes::from_static(b"offline"),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: Properties(vec![
                    P::WillDelayInterval(5),
                    P::PayloadFormatIndicator(1),
                    P::MessageExpiryInterval(60),
                    P::ContentType("text/plain".into()),
                    P::ResponseTopic("r".into()),
                    P::CorrelationData(Bytes::from_static(&[1, 2])),
                    user(),
                ]),
            }),
            username: None,
            // 5.0 allows a password without a user name.
            password: Some(Bytes::from_static(&[0xff, 0x00])),
            properties: Properties(vec![
                P::SessionExpiryInterval(u32::MAX),
                P::ReceiveMaximum(10),
                P::MaximumPacketSize(1024),
                P::TopicAliasMaximum(5),
                P::RequestResponseInformation(1),
                P::RequestProblemInformation(0),
                P::AuthenticationMethod("m".into()),
                P::AuthenticationData(Bytes::from_static(b"d")),
                user(),
                user(),
            ]),
        }),
        Packet::ConnAck(ConnAck {
            session_present: true,
            code: 0,
            properties: Properties(vec![
                P::SessionExpiryInterval(60),
                P::ReceiveMaximum(20),
                P::MaximumQoS(1),
                P::RetainAvailable(0),
                P::MaximumPacketSize(2048),
                P::AssignedClientIdentifier("auto-1".into()),
                P::TopicAliasMaximum(0),
                P::ReasonString("ok".into()),
                P::WildcardSubscriptionAvailable(1),
                P::SubscriptionIdentifierAvailable(1),
                P::SharedSubscriptionAvailable(0),
                P::ServerKeepAlive(15),
                P::ResponseInformation("ri".into()),
                P::ServerReference("other".into()),
                user(),
            ]),
        }),
        Packet::Publish(Publish {
            topic: "a/b".into(),
            payload: Bytes::from_static(b"hi"),
            qos: QoS::ExactlyOnce,
            retain: false,
            dup: true,
            packet_id: 7,
            properties: Properties(vec![
                P::TopicAlias(3),
                P::SubscriptionIdentifier(1),
                P::SubscriptionIdentifier(268_435_455),
                user(),
            ]),
        }),
        Packet::PubAck(Ack {
            packet_id: 1,
            reason: 0x10,
            properties: Properties(vec![P::ReasonString("none".into()), user()]),
        }),
        Packet::PubRec(Ack::new(2)),
        Packet::PubRel(Ack {
            reason: 0x92,
            ..Ack::new(3)
        }),
        Packet::PubComp(Ack::new(4)),
        Packet::Subscribe(Subscribe {
            packet_id: 10,
            filters: vec![
                SubscribeFilter {
                    filter: "a/+".into(),
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::DoNotSend,
                },
                SubscribeFilter::new("#", QoS::AtMostOnce),
            ],
            properties: Properties(vec![P::SubscriptionIdentifier(5), user()]),
        }),
        Packet::SubAck(SubAck {
            packet_id: 10,
            codes: vec![1, 0x80, 0xa2],
            properties: Properties(vec![P::ReasonString("r".into())]),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 11,
            filters: vec!["a/+".into(), "#".into()],
            properties: Properties(vec![user()]),
        }),
        Packet::UnsubAck(UnsubAck {
            packet_id: 11,
            codes: vec![0x00, 0x11],
            properties: Properties::default(),
        }),
        Packet::PingReq,
        Packet::PingResp,
        Packet::Disconnect(Disconnect {
            reason: Some(0x04),
            properties: Properties(vec![
                P::SessionExpiryInterval(0),
                P::ReasonString("bye".into()),
                P::ServerReference("s".into()),
                user(),
            ]),
        }),
        Packet::Auth(Auth {
            reason: 0x18,
            properties: Properties(vec![
                P::AuthenticationMethod("SCRAM".into()),
                P::AuthenticationData(Bytes::from_static(b"x")),
                P::ReasonString("again".into()),
                user(),
            ]),
        }),
    ]
}

/// One of every 3.1.1 packet type, and the variants of each that change
/// its bytes: the seeds of the mutations, and the unit tests' samples.
pub fn samples_v4() -> Vec<Packet> {
    use super::*;
    use bytes::Bytes;
    let connect = Connect {
        protocol_name: "MQTT".into(),
        protocol_level: LEVEL_V311,
        client_id: "dev-1".into(),
        clean: true,
        keep_alive_s: 30,
        will: None,
        username: None,
        password: None,
        properties: Default::default(),
    };
    vec![
        Packet::Connect(connect.clone()),
        Packet::Connect(Connect {
            clean: false,
            keep_alive_s: 0,
            client_id: String::new(),
            will: Some(LastWill {
                topic: "dev/1/status".into(),
                payload: Bytes::from_static(b"offline"),
                qos: QoS::ExactlyOnce,
                retain: true,
                properties: Default::default(),
            }),
            // Empty strings and a binary password are legal in 3.1.1 and
            // exactly what mqttbytes' v4 CONNECT loses.
            username: Some(String::new()),
            password: Some(Bytes::from_static(&[0xff, 0x00, 0xfe])),
            ..connect.clone()
        }),
        Packet::Connect(Connect {
            will: Some(LastWill {
                topic: "w".into(),
                payload: Bytes::new(),
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: Default::default(),
            }),
            username: Some("user".into()),
            ..connect
        }),
        Packet::ConnAck(ConnAck {
            session_present: true,
            code: connack_code::ACCEPTED,
            properties: Default::default(),
        }),
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: connack_code::NOT_AUTHORIZED,
            properties: Default::default(),
        }),
        Packet::Publish(Publish {
            topic: "a/b".into(),
            payload: Bytes::from_static(b"hello"),
            qos: QoS::AtMostOnce,
            retain: false,
            dup: false,
            packet_id: 0,
            properties: Default::default(),
        }),
        Packet::Publish(Publish {
            topic: "a/\u{e9}t\u{e9}".into(),
            payload: Bytes::new(),
            qos: QoS::AtLeastOnce,
            retain: true,
            dup: true,
            packet_id: 1,
            properties: Default::default(),
        }),
        Packet::Publish(Publish {
            topic: "x".into(),
            payload: Bytes::from(vec![7u8; 300]),
            qos: QoS::ExactlyOnce,
            retain: false,
            dup: false,
            packet_id: u16::MAX,
            properties: Default::default(),
        }),
        Packet::PubAck(Ack::new(1)),
        Packet::PubRec(Ack::new(2)),
        Packet::PubRel(Ack::new(3)),
        Packet::PubComp(Ack::new(u16::MAX)),
        Packet::Subscribe(Subscribe {
            packet_id: 10,
            filters: vec![
                SubscribeFilter::new("a/+", QoS::AtMostOnce),
                SubscribeFilter::new("#", QoS::AtLeastOnce),
                SubscribeFilter::new("a/b/c", QoS::ExactlyOnce),
            ],
            properties: Default::default(),
        }),
        Packet::SubAck(SubAck {
            packet_id: 10,
            codes: vec![0, 1, 2, 0x80],
            properties: Default::default(),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 11,
            filters: vec!["a/+".into(), "#".into()],
            properties: Default::default(),
        }),
        Packet::UnsubAck(UnsubAck::new(11)),
        Packet::PingReq,
        Packet::PingResp,
        Packet::Disconnect(Disconnect {
            reason: None,
            properties: Default::default(),
        }),
    ]
}
