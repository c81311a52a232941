//! Payloads and raw bytes: a UTF-8 string, `{hex: "00ff"}`, or
//! `{size: 1024}` of generated filler.
//!
//! Filler is the lowercase alphabet repeated (`abc...zabc...`): printable, so
//! the trace shows it as text, and identical for every run. A `{size}` may be
//! at most [`MAX_FILLER_BYTES`]; all filler in a file shares one buffer, so
//! many large payloads cost that buffer once.

use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

/// Largest `{size: N}` payload: 1 MiB. Large enough to cross any buffer or
/// packet-size boundary a broker is likely to have, small enough to keep a
/// simulation cheap.
pub const MAX_FILLER_BYTES: usize = 1 << 20;
/// The payload bytes of all the clients of one file together, at most: 64
/// MiB. A run copies each payload into packets (per publish, then per
/// delivery), so this bounds what a file can make a run allocate.
pub const MAX_PAYLOAD_BYTES_TOTAL: usize = 64 << 20;

/// A payload as written; filler is resolved once the whole file is read.
#[derive(Debug, Clone, PartialEq)]
pub enum RawPayload {
    Bytes(Bytes),
    Filler(usize),
}

impl Default for RawPayload {
    fn default() -> Self {
        RawPayload::Bytes(Bytes::new())
    }
}

/// Builds filler payloads. Payloads are slices of one shared buffer, which
/// grows by doubling, so all filler in a file costs at most twice the
/// largest `{size}`.
#[derive(Default)]
pub struct FillerPool {
    buf: Bytes,
}

impl FillerPool {
    pub fn resolve(&mut self, p: &RawPayload) -> Bytes {
        match p {
            RawPayload::Bytes(b) => b.clone(),
            RawPayload::Filler(n) => {
                let n = (*n).min(MAX_FILLER_BYTES);
                if self.buf.len() < n {
                    let len = n.max(self.buf.len() * 2).min(MAX_FILLER_BYTES);
                    let buf: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    self.buf = Bytes::from(buf);
                }
                self.buf.slice(..n)
            }
        }
    }
}

/// A hex string, decoded while its own position is still known, so an error
/// points at the string rather than at the map around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hex(pub Bytes);

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Hex;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string of hex digits, e.g. \"00ff\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Hex, E> {
                crate::packet_json::hex::decode(v)
                    .map(|b| Hex(Bytes::from(b)))
                    .map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// `{size: N}`'s number, bounded.
struct Size(usize);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a byte count from 0 to {MAX_FILLER_BYTES}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                match usize::try_from(v) {
                    Ok(n) if n <= MAX_FILLER_BYTES => Ok(Size(n)),
                    _ => Err(E::custom(format!(
                        "a payload size is at most {MAX_FILLER_BYTES} bytes, got {v}"
                    ))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom(format!(
                        "a payload size cannot be negative, got {v}"
                    ))),
                }
            }
        }
        d.deserialize_u64(V)
    }
}

impl<'de> Deserialize<'de> for RawPayload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawPayload;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a payload: a string, {hex: \"00ff\"} or {size: 1024}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPayload, E> {
                Ok(RawPayload::Bytes(Bytes::copy_from_slice(v.as_bytes())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawPayload, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawPayload, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawPayload, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawPayload, E> {
                self.visit_str(if v { "true" } else { "false" })
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawPayload, E> {
                Ok(RawPayload::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawPayload, A::Error> {
                let mut out: Option<RawPayload> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value = match key.as_str() {
                        "hex" => RawPayload::Bytes(map.next_value::<Hex>()?.0),
                        "size" => RawPayload::Filler(map.next_value::<Size>()?.0),
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown payload form `{other}`, expected hex or size"
                            )));
                        }
                    };
                    if out.is_some() {
                        return Err(de::Error::custom(
                            "a payload map has exactly one key: hex or size",
                        ));
                    }
                    out = Some(value);
                }
                out.ok_or_else(|| {
                    de::Error::custom(
                        "a payload map needs one key: {hex: \"00ff\"} or {size: 1024}",
                    )
                })
            }
        }
        // A plain number or boolean becomes its text: `payload: 42` is "42".
        // Floats are re-printed (`1.50` becomes "1.5"); quote to keep them.
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filler_is_deterministic_and_shared() {
        let mut pool = FillerPool::default();
        let small = pool.resolve(&RawPayload::Filler(3));
        let b = pool.resolve(&RawPayload::Filler(28));
        assert_eq!(&small[..], b"abc");
        assert_eq!(&b[..], b"abcdefghijklmnopqrstuvwxyzab");
        assert_eq!(pool.resolve(&RawPayload::Filler(0)).len(), 0);
        let big = pool.resolve(&RawPayload::Filler(MAX_FILLER_BYTES));
        assert_eq!(big.len(), MAX_FILLER_BYTES);
        assert_eq!(
            big[MAX_FILLER_BYTES - 1],
            b'a' + ((MAX_FILLER_BYTES - 1) % 26) as u8
        );
    }
}
