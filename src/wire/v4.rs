//! MQTT 3.1.1 (protocol level 4): the one place where our [`Packet`] and
//! mqttbytes' v4 packets meet. 5.0 has its own codec, `v5`.

use bytes::{Bytes, BytesMut};
use mqttbytes::v4 as mb;

use super::connect::{self, too_long};
use super::error::from_mqttbytes;
use super::header::{self, FixedHeader};
use super::{
    Ack, ConnAck, Connect, Disconnect, LastWill, Packet, Properties, Publish, QoS, SubAck,
    Subscribe, SubscribeFilter, UnsubAck, Unsubscribe, WireError, wellformed,
};

/// Decodes one whole frame (fixed header included) whose header is `h`.
pub(crate) fn decode(h: &FixedHeader, mut frame: BytesMut) -> Result<Packet, WireError> {
    wellformed::remaining_len_v4(h)?;
    let header_len = h.header_len.min(frame.len());
    let body = frame.get(header_len..).unwrap_or_default();
    match h.packet_type() {
        header::CONNECT => {
            let body = frame.split_off(header_len).freeze();
            return Ok(Packet::Connect(connect::decode_v4(body)?));
        }
        header::SUBSCRIBE => wellformed::subscribe_options_v4(Bytes::copy_from_slice(body))?,
        header::CONNACK => wellformed::connack_flags_v4(body.first().copied().unwrap_or(0))?,
        _ => {}
    }
    // mqttbytes splits the frame off the buffer it is given, so payloads
    // come out as views of this one allocation.
    let size_max = frame.len();
    let packet = mb::read(&mut frame, size_max).map_err(from_mqttbytes)?;
    Ok(from_mqttbytes_packet(packet))
}

fn from_mqttbytes_packet(p: mb::Packet) -> Packet {
    match p {
        // CONNECT never reaches mqttbytes (see connect.rs); converted anyway
        // so that this match stays total without a panic.
        mb::Packet::Connect(c) => Packet::Connect(Connect {
            protocol_name: "MQTT".to_string(),
            protocol_level: match c.protocol {
                mqttbytes::Protocol::V4 => super::LEVEL_V311,
                mqttbytes::Protocol::V5 => super::LEVEL_V5,
            },
            client_id: c.client_id,
            clean: c.clean_session,
            keep_alive_s: c.keep_alive,
            will: c.last_will.map(|w| LastWill {
                topic: w.topic,
                payload: w.message,
                qos: from_mqttbytes_qos(w.qos),
                retain: w.retain,
                properties: Properties::default(),
            }),
            username: c.login.as_ref().map(|l| l.username.clone()),
            password: c.login.map(|l| Bytes::from(l.password)),
            properties: Properties::default(),
        }),
        mb::Packet::ConnAck(c) => Packet::ConnAck(ConnAck {
            session_present: c.session_present,
            code: c.code as u8,
            properties: Properties::default(),
        }),
        mb::Packet::Publish(p) => Packet::Publish(Publish {
            topic: p.topic,
            payload: p.payload,
            qos: from_mqttbytes_qos(p.qos),
            retain: p.retain,
            dup: p.dup,
            packet_id: p.pkid,
            properties: Properties::default(),
        }),
        mb::Packet::PubAck(a) => Packet::PubAck(Ack::new(a.pkid)),
        mb::Packet::PubRec(a) => Packet::PubRec(Ack::new(a.pkid)),
        mb::Packet::PubRel(a) => Packet::PubRel(Ack::new(a.pkid)),
        mb::Packet::PubComp(a) => Packet::PubComp(Ack::new(a.pkid)),
        mb::Packet::Subscribe(s) => Packet::Subscribe(Subscribe {
            packet_id: s.pkid,
            filters: s
                .filters
                .into_iter()
                .map(|f| SubscribeFilter::new(f.path, from_mqttbytes_qos(f.qos)))
                .collect(),
            properties: Properties::default(),
        }),
        mb::Packet::SubAck(s) => Packet::SubAck(SubAck {
            packet_id: s.pkid,
            codes: s
                .return_codes
                .into_iter()
                .map(|c| match c {
                    mb::SubscribeReasonCode::Success(q) => q as u8,
                    mb::SubscribeReasonCode::Failure => SUBACK_FAILURE,
                })
                .collect(),
            properties: Properties::default(),
        }),
        mb::Packet::Unsubscribe(u) => Packet::Unsubscribe(Unsubscribe {
            packet_id: u.pkid,
            filters: u.topics,
            properties: Properties::default(),
        }),
        mb::Packet::UnsubAck(u) => Packet::UnsubAck(UnsubAck::new(u.pkid)),
        mb::Packet::PingReq => Packet::PingReq,
        mb::Packet::PingResp => Packet::PingResp,
        mb::Packet::Disconnect => Packet::Disconnect(Disconnect::default()),
    }
}

fn from_mqttbytes_qos(q: mqttbytes::QoS) -> QoS {
    match q {
        mqttbytes::QoS::AtMostOnce => QoS::AtMostOnce,
        mqttbytes::QoS::AtLeastOnce => QoS::AtLeastOnce,
        mqttbytes::QoS::ExactlyOnce => QoS::ExactlyOnce,
    }
}

const SUBACK_FAILURE: u8 = 0x80;
/// The SUBACK return codes 3.1.1 has (3.1.1 section 3.9.3).
pub(super) const SUBACK_CODES: &[u8] = &[0, 1, 2, SUBACK_FAILURE];
/// The CONNACK return codes 3.1.1 has (3.1.1 section 3.2.2.3), as
/// [`connack_code`] maps them.
pub(super) const CONNACK_CODES: &[u8] = &[0, 1, 2, 3, 4, 5];

/// One whole frame. Everything is checked before mqttbytes writes, and it
/// writes into a buffer of its own, so a refusal leaves nothing behind.
pub(crate) fn encode(p: &Packet) -> Result<BytesMut, WireError> {
    v4_only(p)?;
    let mut out = BytesMut::new();
    let written = match p {
        Packet::Connect(c) => return connect::encode_v4(c),
        Packet::ConnAck(c) => {
            let code = connack_code(c.code)?;
            mb::ConnAck::new(code, c.session_present).write(&mut out)
        }
        Packet::Publish(p) => {
            string_fits(&p.topic, "topic name")?;
            if p.qos == QoS::AtMostOnce && p.packet_id != 0 {
                return Err(WireError::unsupported(format!(
                    "PUBLISH at QoS 0 has no packet identifier, but {} was given",
                    p.packet_id
                )));
            }
            if p.qos != QoS::AtMostOnce && p.packet_id == 0 {
                return Err(WireError::unsupported(
                    "PUBLISH at QoS > 0 needs a non-zero packet identifier [MQTT-2.3.1-1]",
                ));
            }
            let mut publish =
                mb::Publish::from_bytes(p.topic.clone(), qos(p.qos), p.payload.clone());
            publish.dup = p.dup;
            publish.retain = p.retain;
            publish.pkid = p.packet_id;
            publish.write(&mut out)
        }
        Packet::PubAck(a) => mb::PubAck::new(a.packet_id).write(&mut out),
        Packet::PubRec(a) => mb::PubRec::new(a.packet_id).write(&mut out),
        Packet::PubRel(a) => mb::PubRel::new(a.packet_id).write(&mut out),
        Packet::PubComp(a) => mb::PubComp::new(a.packet_id).write(&mut out),
        Packet::Subscribe(s) => {
            let mut filters = Vec::with_capacity(s.filters.len());
            for f in &s.filters {
                string_fits(&f.filter, "topic filter")?;
                filters.push(mb::SubscribeFilter::new(f.filter.clone(), qos(f.qos)));
            }
            let mut subscribe = mb::Subscribe::new_many(filters);
            subscribe.pkid = s.packet_id;
            subscribe.write(&mut out)
        }
        Packet::SubAck(s) => {
            let codes = s
                .codes
                .iter()
                .map(|&c| match c {
                    SUBACK_FAILURE => Ok(mb::SubscribeReasonCode::Failure),
                    q => QoS::try_from(q)
                        .map(|q| mb::SubscribeReasonCode::Success(qos(q)))
                        .map_err(|q| {
                            WireError::unsupported(format!(
                                "SUBACK return code {q:#04x} does not exist in MQTT 3.1.1"
                            ))
                        }),
                })
                .collect::<Result<Vec<_>, _>>()?;
            mb::SubAck::new(s.packet_id, codes).write(&mut out)
        }
        Packet::Unsubscribe(u) => {
            for f in &u.filters {
                string_fits(f, "topic filter")?;
            }
            mb::Unsubscribe {
                pkid: u.packet_id,
                topics: u.filters.clone(),
            }
            .write(&mut out)
        }
        Packet::UnsubAck(u) => mb::UnsubAck::new(u.packet_id).write(&mut out),
        Packet::PingReq => mb::PingReq.write(&mut out),
        Packet::PingResp => mb::PingResp.write(&mut out),
        Packet::Disconnect(_) => mb::Disconnect.write(&mut out),
        // Refused by `v4_only`; the arm keeps the match total.
        Packet::Auth(_) => return Err(WireError::unsupported("AUTH exists only in MQTT 5.0")),
    };
    // The returned length is unreliable (docs/wire.md, "Dependencies"); only the error counts.
    written.map_err(|e| {
        WireError::unsupported(format!("{} could not be encoded: {e:?}", p.type_name()))
    })?;
    Ok(out)
}

/// mqttbytes silently truncates longer strings to their length mod 65536.
fn string_fits(s: &str, field: &str) -> Result<(), WireError> {
    if s.len() > usize::from(u16::MAX) {
        return Err(too_long(field, s.len()));
    }
    Ok(())
}

fn qos(q: QoS) -> mqttbytes::QoS {
    match q {
        QoS::AtMostOnce => mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => mqttbytes::QoS::ExactlyOnce,
    }
}

/// Refuses what only 5.0 can say: properties, reason codes other than
/// success, subscription options, AUTH. Encoding them as 3.1.1 would drop
/// them silently.
fn v4_only(p: &Packet) -> Result<(), WireError> {
    let only_v5 = |what: &str| {
        Err(WireError::unsupported(format!(
            "{} {what} exists only in MQTT 5.0",
            p.type_name()
        )))
    };
    let (properties, reason) = match p {
        Packet::Connect(c) => {
            let will = c.will.as_ref().map(|w| &w.properties);
            if will.is_some_and(|w| !w.is_empty()) {
                return only_v5("will properties");
            }
            (&c.properties, 0)
        }
        Packet::ConnAck(c) => (&c.properties, 0),
        Packet::Publish(p) => (&p.properties, 0),
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            (&a.properties, a.reason)
        }
        Packet::Subscribe(s) => {
            let plain = SubscribeFilter::new(String::new(), QoS::AtMostOnce);
            let options = |f: &SubscribeFilter| {
                (f.no_local, f.retain_as_published, f.retain_handling)
                    != (
                        plain.no_local,
                        plain.retain_as_published,
                        plain.retain_handling,
                    )
            };
            if s.filters.iter().any(options) {
                return only_v5("subscription options");
            }
            (&s.properties, 0)
        }
        Packet::SubAck(s) => (&s.properties, 0),
        Packet::Unsubscribe(u) => (&u.properties, 0),
        Packet::UnsubAck(u) => {
            if !u.codes.is_empty() {
                return only_v5("reason codes");
            }
            (&u.properties, 0)
        }
        Packet::PingReq | Packet::PingResp => return Ok(()),
        Packet::Disconnect(d) => {
            if let Some(reason) = d.reason {
                return only_v5(&format!("reason code {reason:#04x}"));
            }
            (&d.properties, 0)
        }
        Packet::Auth(_) => return only_v5("packet"),
    };
    if !properties.is_empty() {
        return only_v5("properties");
    }
    if reason != 0 {
        return only_v5(&format!("reason code {reason:#04x}"));
    }
    Ok(())
}

fn connack_code(code: u8) -> Result<mb::ConnectReturnCode, WireError> {
    use mb::ConnectReturnCode as C;
    Ok(match code {
        0 => C::Success,
        1 => C::RefusedProtocolVersion,
        2 => C::BadClientId,
        3 => C::ServiceUnavailable,
        4 => C::BadUserNamePassword,
        5 => C::NotAuthorized,
        other => {
            return Err(WireError::unsupported(format!(
                "CONNACK return code {other:#04x} does not exist in MQTT 3.1.1"
            )));
        }
    })
}
