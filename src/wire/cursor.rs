//! A bounds-checked reader over a packet body, for the fields this module
//! decodes or inspects by hand. Every accessor returns `Malformed` instead of
//! panicking when the body is too short.

use bytes::{Buf, Bytes};

use super::WireError;

pub(crate) struct Cursor {
    bytes: Bytes,
}

impl Cursor {
    pub(crate) fn new(bytes: Bytes) -> Self {
        Cursor { bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn u8(&mut self, field: &str) -> Result<u8, WireError> {
        if self.bytes.is_empty() {
            return Err(ends_early(field));
        }
        Ok(self.bytes.get_u8())
    }

    pub(crate) fn u16(&mut self, field: &str) -> Result<u16, WireError> {
        if self.bytes.len() < 2 {
            return Err(ends_early(field));
        }
        Ok(self.bytes.get_u16())
    }

    pub(crate) fn u32(&mut self, field: &str) -> Result<u32, WireError> {
        if self.bytes.len() < 4 {
            return Err(ends_early(field));
        }
        Ok(self.bytes.get_u32())
    }

    /// A variable byte integer: at most four bytes, in the fewest bytes that
    /// can hold the value [MQTT-1.5.5-1].
    pub(crate) fn variable_int(&mut self, field: &str) -> Result<u32, WireError> {
        let mut value = 0u32;
        for i in 0..VARIABLE_INT_BYTES_MAX {
            let byte = self.u8(field)?;
            value |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if byte == 0 && i > 0 {
                    return Err(WireError::malformed(format!(
                        "{field} is a variable byte integer in more bytes than needed [MQTT-1.5.5-1]"
                    )));
                }
                return Ok(value);
            }
        }
        Err(WireError::malformed(format!(
            "{field} is a variable byte integer of more than {VARIABLE_INT_BYTES_MAX} bytes"
        )))
    }

    /// The next `len` bytes as a cursor of their own.
    pub(crate) fn take(&mut self, len: usize, field: &str) -> Result<Cursor, WireError> {
        if len > self.bytes.len() {
            return Err(ends_early(field));
        }
        Ok(Cursor::new(self.bytes.split_to(len)))
    }

    /// Everything that is left.
    pub(crate) fn rest(&mut self) -> Bytes {
        self.bytes.split_off(0)
    }

    /// Binary data with a two-byte length prefix.
    pub(crate) fn binary(&mut self, field: &str) -> Result<Bytes, WireError> {
        let len = usize::from(self.u16(field)?);
        if len > self.bytes.len() {
            return Err(ends_early(field));
        }
        Ok(self.bytes.split_to(len))
    }

    /// A UTF-8 string with a two-byte length prefix, checked for ill-formed
    /// UTF-8 [MQTT-1.5.3-1] and U+0000 [MQTT-1.5.3-2].
    pub(crate) fn string(&mut self, field: &str) -> Result<String, WireError> {
        let raw = self.binary(field)?;
        let s = String::from_utf8(raw.to_vec()).map_err(|_| {
            WireError::malformed(format!("{field} is not well-formed UTF-8 [MQTT-1.5.3-1]"))
        })?;
        super::wellformed::no_null(&s, field)?;
        Ok(s)
    }
}

/// A variable byte integer takes at most four bytes.
const VARIABLE_INT_BYTES_MAX: usize = 4;

fn ends_early(field: &str) -> WireError {
    WireError::malformed(format!("the packet ends inside the {field}"))
}
