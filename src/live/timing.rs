//! Expectations as the oracle of a live run, whose timing varies: `within`
//! windows are widened by the tolerance, and each verdict on a window says
//! how far outside the original window the matching events fell.

use std::time::Duration;

use crate::scenario::Expectation;
use crate::trace::expect::{self, Verdict};
use crate::trace::{Event, render};

/// Checks every expectation that applies to `target`, each `within` window
/// widened by `tolerance` on both sides.
pub fn check_all(
    expect: &[Expectation],
    events: &[Event],
    target: &str,
    tolerance: Duration,
) -> Vec<Verdict> {
    expect
        .iter()
        .filter(|e| e.applies_to(target))
        .map(|e| check(e, events, tolerance))
        .collect()
}

pub fn check(e: &Expectation, events: &[Event], tolerance: Duration) -> Verdict {
    let Some((lo, hi)) = e.within else {
        return expect::check(e, events);
    };
    let widened = widen(e, tolerance);
    let mut verdict = expect::check(&widened, events);
    let off = off_by(e, events, tolerance);
    let how = match off {
        None => "no matching event in the widened window".to_string(),
        Some(d) if d.is_zero() => "matching events inside the window".to_string(),
        Some(d) => format!("matching events up to {}ms outside it", d.as_millis()),
    };
    verdict.text = format!(
        "{} (window [{}, {}] widened by {}ms each side; {how})",
        verdict.text,
        render::seconds(lo),
        render::seconds(hi),
        tolerance.as_millis()
    );
    verdict
}

/// The expectation with its window widened by `tolerance` on each side.
pub fn widen(e: &Expectation, tolerance: Duration) -> Expectation {
    let mut w = e.clone();
    w.within = e
        .within
        .map(|(lo, hi)| (lo.saturating_sub(tolerance), hi.saturating_add(tolerance)));
    w
}

/// How far the matching events inside the widened window lie outside the
/// original window, at most: zero when all are inside, `None` when there
/// are none.
pub fn off_by(e: &Expectation, events: &[Event], tolerance: Duration) -> Option<Duration> {
    let (lo, hi) = e.within?;
    let (wlo, whi) = widen(e, tolerance).within?;
    events
        .iter()
        .filter(|ev| wlo <= ev.at && ev.at <= whi && expect::matches(e, ev))
        .map(|ev| lo.saturating_sub(ev.at).max(ev.at.saturating_sub(hi)))
        .max()
}
