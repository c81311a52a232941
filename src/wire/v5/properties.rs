//! Reading and writing 5.0 property lists (5.0 section 2.2.2), with the
//! spec's rules on which property may appear where and how often.

use bytes::{BufMut, BytesMut};

use super::super::cursor::Cursor;
use super::super::{Properties, Property, WireError};
use super::put;

/// Where a property list stands: each packet type's list, and the will's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Connect,
    Will,
    ConnAck,
    Publish,
    /// PUBACK, PUBREC, PUBREL and PUBCOMP.
    Ack,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

impl Place {
    pub const ALL: [Place; 11] = [
        Place::Connect,
        Place::Will,
        Place::ConnAck,
        Place::Publish,
        Place::Ack,
        Place::Subscribe,
        Place::SubAck,
        Place::Unsubscribe,
        Place::UnsubAck,
        Place::Disconnect,
        Place::Auth,
    ];
}

/// The largest Subscription Identifier: what a four-byte variable byte
/// integer holds (5.0 section 3.8.2.1.2).
pub const SUBSCRIPTION_ID_MAX: u32 = 268_435_455;

/// The identifier byte of a property.
pub fn id(p: &Property) -> u8 {
    use Property as P;
    match p {
        P::PayloadFormatIndicator(_) => 0x01,
        P::MessageExpiryInterval(_) => 0x02,
        P::ContentType(_) => 0x03,
        P::ResponseTopic(_) => 0x08,
        P::CorrelationData(_) => 0x09,
        P::SubscriptionIdentifier(_) => 0x0b,
        P::SessionExpiryInterval(_) => 0x11,
        P::AssignedClientIdentifier(_) => 0x12,
        P::ServerKeepAlive(_) => 0x13,
        P::AuthenticationMethod(_) => 0x15,
        P::AuthenticationData(_) => 0x16,
        P::RequestProblemInformation(_) => 0x17,
        P::WillDelayInterval(_) => 0x18,
        P::RequestResponseInformation(_) => 0x19,
        P::ResponseInformation(_) => 0x1a,
        P::ServerReference(_) => 0x1c,
        P::ReasonString(_) => 0x1f,
        P::ReceiveMaximum(_) => 0x21,
        P::TopicAliasMaximum(_) => 0x22,
        P::TopicAlias(_) => 0x23,
        P::MaximumQoS(_) => 0x24,
        P::RetainAvailable(_) => 0x25,
        P::UserProperty(..) => 0x26,
        P::MaximumPacketSize(_) => 0x27,
        P::WildcardSubscriptionAvailable(_) => 0x28,
        P::SubscriptionIdentifierAvailable(_) => 0x29,
        P::SharedSubscriptionAvailable(_) => 0x2a,
    }
}

/// Whether the property identifier `id` may stand in `place` (the table of
/// 5.0 section 2.2.2.2).
pub fn allowed(id: u8, place: Place) -> bool {
    use Place::*;
    match id {
        0x01 | 0x02 | 0x03 | 0x08 | 0x09 => matches!(place, Publish | Will),
        0x0b => matches!(place, Publish | Subscribe),
        0x11 => matches!(place, Connect | ConnAck | Disconnect),
        0x12 | 0x13 | 0x1a | 0x24 | 0x25 | 0x28 | 0x29 | 0x2a => place == ConnAck,
        0x15 | 0x16 => matches!(place, Connect | ConnAck | Auth),
        0x17 | 0x19 => place == Connect,
        0x18 => place == Will,
        0x1c => matches!(place, ConnAck | Disconnect),
        0x1f => !matches!(place, Connect | Will | Publish | Subscribe | Unsubscribe),
        0x21 | 0x22 | 0x27 => matches!(place, Connect | ConnAck),
        0x23 => place == Publish,
        0x26 => true,
        _ => false,
    }
}

/// Whether a property may appear more than once in `place`: User Property
/// anywhere, Subscription Identifier in PUBLISH (one per matching
/// subscription). Any other repeat is a Protocol Error (5.0 section 3).
fn repeatable(id: u8, place: Place) -> bool {
    id == 0x26 || (id == 0x0b && place == Place::Publish)
}

/// A property list: its variable-byte length, then the properties.
pub(crate) fn read(c: &mut Cursor, place: Place) -> Result<Properties, WireError> {
    let len = c.variable_int("property length")?;
    let mut block = c.take(len as usize, "properties")?;
    let mut list = Vec::new();
    let mut seen = [false; 0x2b];
    while !block.is_empty() {
        let id = block.variable_int("property identifier")?;
        let id = u8::try_from(id)
            .ok()
            .filter(|&id| usize::from(id) < seen.len() && allowed_anywhere(id))
            .ok_or_else(|| {
                WireError::malformed(format!("unknown property identifier {id:#04x}"))
            })?;
        if !allowed(id, place) {
            return Err(WireError::malformed(format!(
                "property {} is not allowed in {}",
                name(id),
                place_name(place)
            )));
        }
        let slot = &mut seen[usize::from(id)];
        if *slot && !repeatable(id, place) {
            return Err(WireError::protocol_error(format!(
                "property {} appears more than once in {}",
                name(id),
                place_name(place)
            )));
        }
        *slot = true;
        list.push(read_value(&mut block, id)?);
    }
    Ok(Properties(list))
}

fn allowed_anywhere(id: u8) -> bool {
    [
        Place::Connect,
        Place::Will,
        Place::ConnAck,
        Place::Publish,
        Place::Subscribe,
        Place::Disconnect,
        Place::Auth,
    ]
    .into_iter()
    .any(|place| allowed(id, place))
}

fn read_value(c: &mut Cursor, id: u8) -> Result<Property, WireError> {
    use Property as P;
    let field = name(id);
    Ok(match id {
        0x01 => P::PayloadFormatIndicator(zero_or_one(c, field)?),
        0x02 => P::MessageExpiryInterval(c.u32(field)?),
        0x03 => P::ContentType(c.string(field)?),
        0x08 => P::ResponseTopic(c.string(field)?),
        0x09 => P::CorrelationData(c.binary(field)?),
        0x0b => {
            let v = c.variable_int(field)?;
            if v == 0 {
                return Err(WireError::protocol_error(format!(
                    "Subscription Identifier 0 (it is 1 to {SUBSCRIPTION_ID_MAX})"
                )));
            }
            P::SubscriptionIdentifier(v)
        }
        0x11 => P::SessionExpiryInterval(c.u32(field)?),
        0x12 => P::AssignedClientIdentifier(c.string(field)?),
        0x13 => P::ServerKeepAlive(c.u16(field)?),
        0x15 => P::AuthenticationMethod(c.string(field)?),
        0x16 => P::AuthenticationData(c.binary(field)?),
        0x17 => P::RequestProblemInformation(zero_or_one(c, field)?),
        0x18 => P::WillDelayInterval(c.u32(field)?),
        0x19 => P::RequestResponseInformation(zero_or_one(c, field)?),
        0x1a => P::ResponseInformation(c.string(field)?),
        0x1c => P::ServerReference(c.string(field)?),
        0x1f => P::ReasonString(c.string(field)?),
        0x21 => P::ReceiveMaximum(nonzero_u16(c, field)?),
        0x22 => P::TopicAliasMaximum(c.u16(field)?),
        0x23 => P::TopicAlias(nonzero_u16(c, field)?),
        0x24 => P::MaximumQoS(zero_or_one(c, field)?),
        0x25 => P::RetainAvailable(zero_or_one(c, field)?),
        0x26 => P::UserProperty(c.string("user property name")?, c.string(field)?),
        0x27 => {
            let v = c.u32(field)?;
            if v == 0 {
                return Err(WireError::protocol_error("Maximum Packet Size 0"));
            }
            P::MaximumPacketSize(v)
        }
        0x28 => P::WildcardSubscriptionAvailable(zero_or_one(c, field)?),
        0x29 => P::SubscriptionIdentifierAvailable(zero_or_one(c, field)?),
        0x2a => P::SharedSubscriptionAvailable(zero_or_one(c, field)?),
        other => {
            return Err(WireError::malformed(format!(
                "unknown property identifier {other:#04x}"
            )));
        }
    })
}

/// The byte properties that are flags: any value but 0 or 1 is a Protocol
/// Error (5.0 sections 3.1.2.11, 3.2.2.3, 3.3.2.3.2).
fn zero_or_one(c: &mut Cursor, field: &str) -> Result<u8, WireError> {
    let v = c.u8(field)?;
    if v > 1 {
        return Err(WireError::protocol_error(format!(
            "{field} is {v}, not 0 or 1"
        )));
    }
    Ok(v)
}

/// Receive Maximum and Topic Alias: 0 is a Protocol Error.
fn nonzero_u16(c: &mut Cursor, field: &str) -> Result<u16, WireError> {
    let v = c.u16(field)?;
    if v == 0 {
        return Err(WireError::protocol_error(format!("{field} is 0")));
    }
    Ok(v)
}

/// Writes the list with its length. The list is written as given, even
/// where the spec forbids it (a harness sends such packets to a broker
/// under test); what the bytes cannot say is refused.
pub(crate) fn write(out: &mut BytesMut, properties: &Properties) -> Result<(), WireError> {
    let mut block = BytesMut::new();
    for p in properties {
        write_one(&mut block, p)?;
    }
    put::variable_int(out, block.len(), "property length")?;
    out.extend_from_slice(&block);
    Ok(())
}

fn write_one(out: &mut BytesMut, p: &Property) -> Result<(), WireError> {
    use Property as P;
    let id = id(p);
    out.put_u8(id);
    let field = name(id);
    match p {
        P::PayloadFormatIndicator(v)
        | P::RequestProblemInformation(v)
        | P::RequestResponseInformation(v)
        | P::MaximumQoS(v)
        | P::RetainAvailable(v)
        | P::WildcardSubscriptionAvailable(v)
        | P::SubscriptionIdentifierAvailable(v)
        | P::SharedSubscriptionAvailable(v) => out.put_u8(*v),
        P::ServerKeepAlive(v)
        | P::ReceiveMaximum(v)
        | P::TopicAliasMaximum(v)
        | P::TopicAlias(v) => out.put_u16(*v),
        P::MessageExpiryInterval(v)
        | P::SessionExpiryInterval(v)
        | P::WillDelayInterval(v)
        | P::MaximumPacketSize(v) => out.put_u32(*v),
        P::SubscriptionIdentifier(v) => put::variable_int(out, *v as usize, field)?,
        P::ContentType(s)
        | P::ResponseTopic(s)
        | P::AssignedClientIdentifier(s)
        | P::AuthenticationMethod(s)
        | P::ResponseInformation(s)
        | P::ServerReference(s)
        | P::ReasonString(s) => put::string(out, s, field)?,
        P::CorrelationData(b) | P::AuthenticationData(b) => put::binary(out, b, field)?,
        P::UserProperty(k, v) => {
            put::string(out, k, "user property name")?;
            put::string(out, v, field)?;
        }
    }
    Ok(())
}

/// The spec's name of a property identifier.
pub(crate) fn name(id: u8) -> &'static str {
    match id {
        0x01 => "Payload Format Indicator",
        0x02 => "Message Expiry Interval",
        0x03 => "Content Type",
        0x08 => "Response Topic",
        0x09 => "Correlation Data",
        0x0b => "Subscription Identifier",
        0x11 => "Session Expiry Interval",
        0x12 => "Assigned Client Identifier",
        0x13 => "Server Keep Alive",
        0x15 => "Authentication Method",
        0x16 => "Authentication Data",
        0x17 => "Request Problem Information",
        0x18 => "Will Delay Interval",
        0x19 => "Request Response Information",
        0x1a => "Response Information",
        0x1c => "Server Reference",
        0x1f => "Reason String",
        0x21 => "Receive Maximum",
        0x22 => "Topic Alias Maximum",
        0x23 => "Topic Alias",
        0x24 => "Maximum QoS",
        0x25 => "Retain Available",
        0x26 => "User Property",
        0x27 => "Maximum Packet Size",
        0x28 => "Wildcard Subscription Available",
        0x29 => "Subscription Identifier Available",
        0x2a => "Shared Subscription Available",
        _ => "unknown property",
    }
}

fn place_name(place: Place) -> &'static str {
    match place {
        Place::Connect => "CONNECT",
        Place::Will => "the will properties",
        Place::ConnAck => "CONNACK",
        Place::Publish => "PUBLISH",
        Place::Ack => "PUBACK, PUBREC, PUBREL or PUBCOMP",
        Place::Subscribe => "SUBSCRIBE",
        Place::SubAck => "SUBACK",
        Place::Unsubscribe => "UNSUBSCRIBE",
        Place::UnsubAck => "UNSUBACK",
        Place::Disconnect => "DISCONNECT",
        Place::Auth => "AUTH",
    }
}
