//! Durations and ranges as written in scenario files: `250ms`, `1.5s`, `2m`,
//! `1h`, the bare `0`, and `a..b` ranges of those.
//!
//! Values are resolved exactly (no floating point): `1.5s` is 1,500,000 us.
//! The resolution is one microsecond, because that is what
//! [`DurationSpec::draw`] draws in; a finer value is an error rather than a
//! silent rounding. No single value may exceed [`MAX_DURATION`].

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

use super::model::DurationSpec;

/// The largest duration a file may write anywhere: a simulated day. Runs
/// longer than that are not what the simulator is for, and the cap keeps
/// every sum of durations far from overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// The largest duration where the protocol carries a four-byte count of
/// seconds (a session expiry, a will delay): 4,294,967,295 s, about 136
/// years. Only those values may pass [`MAX_DURATION`]: they are never
/// added to the run's clock in the file, only compared or sent.
pub const MAX_WIRE_SECONDS_32: Duration = Duration::from_secs(u32::MAX as u64);

const BARE_NUMBER: &str =
    "a duration needs a unit, e.g. `2s` or `250ms` (a bare number is only allowed for 0)";

/// Parses one duration (no range), at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_duration_max(text, MAX_DURATION)
}

/// `max` as the messages write it: `24h`, or seconds.
fn max_text(max: Duration) -> String {
    if max == MAX_DURATION {
        "24h".to_string()
    } else {
        format!("{}s", max.as_secs())
    }
}

/// Parses one duration (no range), at most `max`.
pub fn parse_duration_max(text: &str, max: Duration) -> Result<Duration, String> {
    let s = text.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit_ns: u128 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" if !number.is_empty() => return Err(BARE_NUMBER.to_string()),
        _ if number.is_empty() => {
            return Err(format!(
                "`{s}` is not a duration; write a number and a unit, e.g. `2s` or `250ms`"
            ));
        }
        other => {
            return Err(format!(
                "unknown unit `{other}` in duration `{s}`, expected one of ms, s, m, h"
            ));
        }
    };
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    let malformed = || format!("`{s}` is not a duration; write e.g. `1.5s` or `250ms`");
    if whole.is_empty() || frac.contains('.') || (number.contains('.') && frac.is_empty()) {
        return Err(malformed());
    }
    // Leading zeros of the whole part and trailing zeros of the fraction
    // say nothing: `0.0000000000000000001ms` is too fine, not too long.
    let whole = match whole.trim_start_matches('0') {
        "" => "0",
        w => w,
    };
    let frac = frac.trim_end_matches('0');
    // Twelve digits of hours is already far past MAX_DURATION, and twelve
    // significant digits of fraction finer than a microsecond in any unit;
    // the caps keep the arithmetic below inside u128.
    if whole.len() > 12 {
        return Err(format!(
            "duration `{s}` is longer than the maximum of {}",
            max_text(max)
        ));
    }
    if frac.len() > 12 {
        return Err(format!(
            "duration `{s}` is finer than the resolution of one microsecond"
        ));
    }
    let whole_n: u128 = whole.parse().map_err(|_| malformed())?;
    let frac_n: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| malformed())?
    };
    let scale = 10u128.pow(frac.len() as u32);
    let frac_ns_scaled = frac_n * unit_ns;
    let total_ns = whole_n * unit_ns + frac_ns_scaled / scale;
    if !frac_ns_scaled.is_multiple_of(scale) || !total_ns.is_multiple_of(1_000) {
        return Err(format!(
            "duration `{s}` is finer than the resolution of one microsecond"
        ));
    }
    if total_ns > max.as_nanos() {
        return Err(format!(
            "duration `{s}` is longer than the maximum of {}",
            max_text(max)
        ));
    }
    Ok(Duration::from_micros((total_ns / 1_000) as u64))
}

/// Parses a duration or an `a..b` range.
pub fn parse_spec(text: &str) -> Result<DurationSpec, String> {
    parse_spec_max(text, MAX_DURATION)
}

fn parse_spec_max(text: &str, max: Duration) -> Result<DurationSpec, String> {
    let parse_duration = |t: &str| parse_duration_max(t, max);
    match text.split_once("..") {
        None => parse_duration(text).map(DurationSpec::Fixed),
        Some((lo, hi)) => {
            let lo_d = parse_duration(lo)?;
            let hi_d = parse_duration(hi)?;
            if lo_d > hi_d {
                return Err(format!(
                    "invalid range `{}`: its lower end is above its upper end",
                    text.trim()
                ));
            }
            Ok(DurationSpec::Range(lo_d, hi_d))
        }
    }
}

/// Shared visitor: YAML plain scalars reach `visit_str` through serde_yaml's
/// lenient string handling; the numeric entry points cover other callers.
struct SpecVisitor {
    allow_range: bool,
    /// The largest value: [`MAX_DURATION`] but for four-byte wire seconds.
    max: Duration,
}

impl SpecVisitor {
    fn check<E: de::Error>(&self, text: &str) -> Result<DurationSpec, E> {
        let spec = parse_spec_max(text, self.max).map_err(E::custom)?;
        if !self.allow_range && matches!(spec, DurationSpec::Range(..)) {
            return Err(E::custom(format!(
                "a range (`{}`) is not accepted here: this value is fixed for the whole run",
                text.trim()
            )));
        }
        Ok(spec)
    }
}

impl Visitor<'_> for SpecVisitor {
    type Value = DurationSpec;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.allow_range {
            f.write_str("a duration such as `2s` or `250ms`, or a range such as `1s..2s`")
        } else {
            f.write_str("a duration such as `2s` or `250ms`")
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationSpec, E> {
        self.check(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationSpec, E> {
        if v == 0 {
            Ok(DurationSpec::Fixed(Duration::ZERO))
        } else {
            Err(E::custom(BARE_NUMBER))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationSpec, E> {
        if v == 0 {
            Ok(DurationSpec::Fixed(Duration::ZERO))
        } else {
            Err(E::custom(BARE_NUMBER))
        }
    }

    fn visit_f64<E: de::Error>(self, _v: f64) -> Result<DurationSpec, E> {
        Err(E::custom(BARE_NUMBER))
    }
}

/// A duration or a range, where the format accepts either.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dur(pub DurationSpec);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(SpecVisitor {
            allow_range: true,
            max: MAX_DURATION,
        })
        .map(Dur)
    }
}

/// A duration where the model needs one fixed value (the run's length,
/// keep-alive, session expiry, ...). A range there is an error that says so.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedDur(pub Duration);

impl<'de> Deserialize<'de> for FixedDur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spec = d.deserialize_str(SpecVisitor {
            allow_range: false,
            max: MAX_DURATION,
        })?;
        Ok(FixedDur(spec.min()))
    }
}

/// A fixed duration that goes on the wire as a four-byte count of seconds
/// (a session expiry, a will delay): up to [`MAX_WIRE_SECONDS_32`], past
/// the 24 h of other durations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Secs32(pub Duration);

impl<'de> Deserialize<'de> for Secs32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spec = d.deserialize_str(SpecVisitor {
            allow_range: false,
            max: MAX_WIRE_SECONDS_32,
        })?;
        Ok(Secs32(spec.min()))
    }
}

/// A duration that goes on the wire as a 16-bit count of seconds
/// (keep-alive): whole seconds, at most 65535.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Secs16(pub Duration);

struct Secs16Visitor;

impl Visitor<'_> for Secs16Visitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number of seconds such as `60s`, at most 65535s")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        let d = SpecVisitor {
            allow_range: false,
            max: MAX_DURATION,
        }
        .check::<E>(v)?
        .min();
        if d.subsec_nanos() != 0 {
            return Err(E::custom(format!(
                "`{}` is not a whole number of seconds; this value goes on the wire in seconds",
                v.trim()
            )));
        }
        if d.as_secs() > u64::from(u16::MAX) {
            return Err(E::custom(format!(
                "`{}` is more than 65535s, the largest value the wire can carry",
                v.trim()
            )));
        }
        Ok(d)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        SpecVisitor {
            allow_range: false,
            max: MAX_DURATION,
        }
        .visit_u64(v)
        .map(|s| s.min())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        SpecVisitor {
            allow_range: false,
            max: MAX_DURATION,
        }
        .visit_i64(v)
        .map(|s| s.min())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        SpecVisitor {
            allow_range: false,
            max: MAX_DURATION,
        }
        .visit_f64(v)
        .map(|s| s.min())
    }
}

impl<'de> Deserialize<'de> for Secs16 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Secs16Visitor).map(Secs16)
    }
}

/// `within: [a, b]`: an inclusive window of simulated time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window(pub Duration, pub Duration);

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Window;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a window of two durations, e.g. `[3s, 3.2s]`")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Window, A::Error> {
                let too_few =
                    || de::Error::custom("a window needs two durations, e.g. `[3s, 3.2s]`");
                let lo: FixedDur = seq.next_element()?.ok_or_else(too_few)?;
                let hi: FixedDur = seq.next_element()?.ok_or_else(too_few)?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom(
                        "a window has exactly two durations, e.g. `[3s, 3.2s]`",
                    ));
                }
                if lo.0 > hi.0 {
                    return Err(de::Error::custom(
                        "invalid window: its start is after its end",
                    ));
                }
                Ok(Window(lo.0, hi.0))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A duration as a scenario file would write it.
pub fn text(d: Duration) -> String {
    let ms = d.as_millis();
    if d.subsec_millis() == 0 && ms >= 1000 {
        format!("{}s", ms / 1000)
    } else if Duration::from_millis(ms as u64) == d {
        format!("{ms}ms")
    } else {
        format!("{}us", d.as_micros())
    }
}

impl DurationSpec {
    /// The value as a scenario file would write it: `2s`, `100ms..1s`.
    pub fn text(&self) -> String {
        match self {
            DurationSpec::Fixed(d) => text(*d),
            DurationSpec::Range(lo, hi) => format!("{}..{}", text(*lo), text(*hi)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn units_and_fractions() {
        assert_eq!(parse_duration("250ms"), Ok(ms(250)));
        assert_eq!(parse_duration("1s"), Ok(ms(1000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("90s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("2m"), Ok(ms(120_000)));
        assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse_duration("24h"), Ok(MAX_DURATION));
    }

    #[test]
    fn rejects_bad_durations() {
        assert!(parse_duration("5").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("1.5").unwrap_err().contains("needs a unit"));
        assert!(
            parse_duration("5d")
                .unwrap_err()
                .contains("unknown unit `d`")
        );
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1..s").is_err());
        assert!(parse_duration(".5s").is_err());
        assert!(parse_duration("1.s").is_err());
        assert!(parse_duration("1.2.3s").is_err());
        assert!(
            parse_duration("0.0001ms")
                .unwrap_err()
                .contains("microsecond")
        );
        assert!(parse_duration("25h").unwrap_err().contains("maximum"));
        assert!(
            parse_duration("99999999999999999999h")
                .unwrap_err()
                .contains("maximum")
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(
            parse_spec("1s..2s"),
            Ok(DurationSpec::Range(ms(1000), ms(2000)))
        );
        assert_eq!(parse_spec("0..5ms"), Ok(DurationSpec::Range(ms(0), ms(5))));
        assert!(parse_spec("2s..1s").unwrap_err().contains("lower end"));
        assert!(parse_spec("1s..").is_err());
        assert!(parse_spec("1s..2s..3s").is_err());
    }

    #[test]
    fn a_tiny_fraction_is_too_fine_not_too_long() {
        let e = parse_duration("0.0000000000000000001ms").unwrap_err();
        assert!(e.contains("finer than the resolution"), "{e}");
        assert_eq!(
            parse_duration("1.50000000000000000000s"),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_duration("00000000000000000002s"),
            Ok(Duration::from_secs(2))
        );
        assert!(
            parse_duration("9999999999999s")
                .unwrap_err()
                .contains("maximum")
        );
    }
}
