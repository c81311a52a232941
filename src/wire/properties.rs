//! MQTT 5.0 properties (5.0 section 2.2.2): an ordered list, kept in the
//! order it was received or built so that encoding is deterministic and a
//! decoded packet re-encodes to the same bytes. User properties are ordered
//! pairs and may repeat.

use bytes::Bytes;

/// One property, by its identifier. The doc comment of each variant is the
/// identifier byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Property {
    /// 0x01
    PayloadFormatIndicator(u8),
    /// 0x02
    MessageExpiryInterval(u32),
    /// 0x03
    ContentType(String),
    /// 0x08
    ResponseTopic(String),
    /// 0x09
    CorrelationData(Bytes),
    /// 0x0B, a variable byte integer
    SubscriptionIdentifier(u32),
    /// 0x11
    SessionExpiryInterval(u32),
    /// 0x12
    AssignedClientIdentifier(String),
    /// 0x13
    ServerKeepAlive(u16),
    /// 0x15
    AuthenticationMethod(String),
    /// 0x16
    AuthenticationData(Bytes),
    /// 0x17
    RequestProblemInformation(u8),
    /// 0x18
    WillDelayInterval(u32),
    /// 0x19
    RequestResponseInformation(u8),
    /// 0x1A
    ResponseInformation(String),
    /// 0x1C
    ServerReference(String),
    /// 0x1F
    ReasonString(String),
    /// 0x21
    ReceiveMaximum(u16),
    /// 0x22
    TopicAliasMaximum(u16),
    /// 0x23
    TopicAlias(u16),
    /// 0x24
    MaximumQoS(u8),
    /// 0x25
    RetainAvailable(u8),
    /// 0x26
    UserProperty(String, String),
    /// 0x27
    MaximumPacketSize(u32),
    /// 0x28
    WildcardSubscriptionAvailable(u8),
    /// 0x29
    SubscriptionIdentifierAvailable(u8),
    /// 0x2A
    SharedSubscriptionAvailable(u8),
}

/// The properties of one packet (or of a will), in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties(pub Vec<Property>);

impl Properties {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Property> {
        self.0.iter()
    }

    pub fn push(&mut self, p: Property) {
        self.0.push(p);
    }
}

/// Typed getters for the single-valued integer properties readers look
/// up by name: the first one present, `None` when absent.
macro_rules! integer_getters {
    ($($(#[$doc:meta])* $name:ident: $variant:ident -> $t:ty),* $(,)?) => {
        impl Properties {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Option<$t> {
                    self.0.iter().find_map(|p| match p {
                        Property::$variant(v) => Some(*v),
                        _ => None,
                    })
                }
            )*
        }
    };
}

integer_getters! {
    /// 0x02, in seconds.
    message_expiry_interval: MessageExpiryInterval -> u32,
    /// 0x11, in seconds.
    session_expiry_interval: SessionExpiryInterval -> u32,
    /// 0x13, in seconds.
    server_keep_alive: ServerKeepAlive -> u16,
    /// 0x18, in seconds.
    will_delay_interval: WillDelayInterval -> u32,
    /// 0x21.
    receive_maximum: ReceiveMaximum -> u16,
    /// 0x22.
    topic_alias_maximum: TopicAliasMaximum -> u16,
    /// 0x27, in bytes.
    maximum_packet_size: MaximumPacketSize -> u32,
}

impl From<Vec<Property>> for Properties {
    fn from(list: Vec<Property>) -> Self {
        Properties(list)
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = &'a Property;
    type IntoIter = std::slice::Iter<'a, Property>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
