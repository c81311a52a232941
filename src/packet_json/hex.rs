//! Hex text, the form binary data takes in the trace and the scenario
//! file (`{hex: "c0 00"}`): both directions, in one place.

/// Bytes as lowercase hex digits, two per byte, no separators.
pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes hex digits; whitespace between bytes is allowed for readability
/// (`"c0 00"`).
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!(
            "hex `{text}` has an odd number of digits; write two digits per byte"
        ));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = pair.first().and_then(|&c| (c as char).to_digit(16));
            let lo = pair.get(1).and_then(|&c| (c as char).to_digit(16));
            match (hi, lo) {
                (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                _ => Err(format!(
                    "`{text}` is not hex: expected digits 0-9 and a-f, e.g. `00ff`"
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decodes_with_spaces_and_rejects_garbage() {
        assert_eq!(decode("00ff"), Ok(vec![0, 255]));
        assert_eq!(decode("c0 00"), Ok(vec![0xc0, 0]));
        assert_eq!(decode("C0"), Ok(vec![0xc0]));
        assert_eq!(decode(""), Ok(vec![]));
        assert!(decode("abc").unwrap_err().contains("odd"));
        assert!(decode("zz").unwrap_err().contains("not hex"));
        assert!(decode("é0").is_err());
    }

    #[test]
    fn encode_is_two_lowercase_digits_a_byte() {
        assert_eq!(encode(&[0, 0xff, 0xc0]), "00ffc0");
        assert_eq!(decode(&encode(&[1, 2, 0xab])), Ok(vec![1, 2, 0xab]));
    }
}
