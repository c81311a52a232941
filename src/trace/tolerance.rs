//! Expectations as the oracle of a live run, whose timing varies: `within`
//! windows are widened by the tolerance, and each verdict on a window says
//! how far outside the original window the matching events fell.

use std::time::Duration;

use crate::scenario::{Count, Expectation, Matcher};
use crate::trace::expect::{self, Verdict};
use crate::trace::{Event, render};

/// Checks an expectation, its `within` window widened by `tolerance` on
/// both sides.
pub fn check(e: &Expectation, events: &[Event], tolerance: Duration) -> Verdict {
    // A sequence holds or not as a whole, so its window is only widened.
    let Some((lo, hi)) = e
        .within
        .filter(|_| !matches!(e.matcher, Matcher::Sequence(_)))
    else {
        return expect::check(&widen(e, tolerance), events);
    };
    let widened = widen(e, tolerance);
    let mut verdict = expect::check(&widened, events);
    // Timing may be off by up to `tolerance` either way, so any count between
    // the events surely inside the window (narrowed by the tolerance) and
    // those possibly inside it (widened) is plausible. The expectation holds
    // when one of those counts satisfies it: widening alone would make
    // `count: 0` and `at_most` stricter, not more tolerant.
    let (wlo, whi) = widened.within.unwrap_or((lo, hi));
    let wide = count_in(e, events, wlo, whi);
    let narrow_lo = lo.saturating_add(tolerance);
    let narrow_hi = hi.saturating_sub(tolerance);
    let narrow = if narrow_lo <= narrow_hi {
        count_in(e, events, narrow_lo, narrow_hi)
    } else {
        0
    };
    verdict.ok = match e.count {
        Count::Exactly(k) => narrow <= k && k <= wide,
        Count::AtLeast(k) => wide >= k,
        Count::AtMost(k) => narrow <= k,
    };
    if verdict.ok {
        verdict.closest.clear();
    }
    verdict.outcome = expect::Outcome::of(verdict.ok, e.force, true);
    let off = off_by(e, events, tolerance);
    let how = match off {
        None => "no matching event in the widened window".to_string(),
        Some(d) if d.is_zero() => "matching events inside the window".to_string(),
        Some(d) => format!("matching events up to {}ms outside it", d.as_millis()),
    };
    verdict.text = format!(
        "{} (window [{}, {}] give or take {}ms: {narrow} surely inside, {wide} possibly; {how})",
        verdict.text,
        render::seconds(lo),
        render::seconds(hi),
        tolerance.as_millis()
    );
    verdict
}

fn count_in(e: &Expectation, events: &[Event], lo: Duration, hi: Duration) -> usize {
    expect::matching(e, events)
        .filter(|ev| lo <= ev.at && ev.at <= hi)
        .count()
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
    expect::matching(e, events)
        .filter(|ev| wlo <= ev.at && ev.at <= whi)
        .map(|ev| lo.saturating_sub(ev.at).max(ev.at.saturating_sub(hi)))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ClosedBy, Force};
    use crate::trace::EventKind;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn closed_within(lo: u64, hi: u64) -> Expectation {
        Expectation {
            line: 7,
            client: "a".into(),
            clients: vec!["a".into()],
            matcher: Matcher::Closed {
                by: Some(ClosedBy::Broker),
            },
            count: Count::Exactly(1),
            within: Some((ms(lo), ms(hi))),
            only_for: None,
            not_for: None,
            spec: Vec::new(),
            force: Force::Choice,
        }
    }

    fn closed_at(at: u64, client: &str) -> Event {
        Event {
            at: ms(at),
            kind: EventKind::Closed {
                client: client.into(),
                by: ClosedBy::Broker,
                reason: None,
            },
        }
    }

    #[test]
    fn off_by_measures_from_the_nearest_edge_of_the_original_window() {
        let e = closed_within(1000, 1010);
        assert_eq!(off_by(&e, &[closed_at(1005, "a")], ms(500)), Some(ms(0)));
        assert_eq!(off_by(&e, &[closed_at(1250, "a")], ms(500)), Some(ms(240)));
        assert_eq!(off_by(&e, &[closed_at(900, "a")], ms(500)), Some(ms(100)));
        // Outside the widened window, or another client's: not counted.
        assert_eq!(off_by(&e, &[closed_at(1600, "a")], ms(500)), None);
        assert_eq!(off_by(&e, &[closed_at(1005, "b")], ms(500)), None);
    }

    #[test]
    fn widening_holds_a_late_event_and_says_by_how_much() {
        let e = closed_within(1000, 1010);
        let late = [closed_at(1250, "a")];
        assert!(!check(&e, &late, ms(0)).ok);
        let v = check(&e, &late, ms(500));
        assert!(v.ok, "{}", v.text);
        assert!(v.text.contains("up to 240ms outside it"), "{}", v.text);
        // The lower edge saturates at zero instead of wrapping.
        assert_eq!(
            widen(&closed_within(100, 200), ms(500)).within,
            Some((ms(0), ms(700)))
        );
    }

    #[test]
    fn tolerance_does_not_make_count_zero_stricter() {
        // Nothing may close in [0, 2000]; a close at 2001 is 1ms after the
        // window, which the tolerance must forgive, not count.
        let mut e = closed_within(0, 2000);
        e.count = Count::Exactly(0);
        let just_after = [closed_at(2001, "a")];
        assert!(check(&e, &just_after, ms(500)).ok);
        // Well inside the window it still fails.
        assert!(!check(&e, &[closed_at(1000, "a")], ms(500)).ok);
        e.count = Count::AtMost(0);
        assert!(check(&e, &just_after, ms(500)).ok);
    }
}
