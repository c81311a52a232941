//! Writing the data types of 5.0 section 1.5, refusing what they cannot say.

use bytes::{BufMut, BytesMut};

use super::super::WireError;
use super::super::connect::too_long;
use super::super::header::{self, REMAINING_LEN_MAX};

pub(crate) fn string(out: &mut BytesMut, s: &str, field: &str) -> Result<(), WireError> {
    binary(out, s.as_bytes(), field)
}

pub(crate) fn binary(out: &mut BytesMut, bytes: &[u8], field: &str) -> Result<(), WireError> {
    let len = u16::try_from(bytes.len()).map_err(|_| too_long(field, bytes.len()))?;
    out.put_u16(len);
    out.extend_from_slice(bytes);
    Ok(())
}

/// A variable byte integer, in the fewest bytes [MQTT-1.5.5-1].
pub(crate) fn variable_int(out: &mut BytesMut, value: usize, field: &str) -> Result<(), WireError> {
    if value > REMAINING_LEN_MAX {
        return Err(WireError::unsupported(format!(
            "{field} {value} exceeds the {REMAINING_LEN_MAX} a variable byte integer can say"
        )));
    }
    header::put_variable_int(out, value);
    Ok(())
}
