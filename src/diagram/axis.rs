//! The time axis: simulated time to a vertical position.
//!
//! A linear scale cannot show both a 1 ms round trip and a 10 s run, so the
//! axis is piecewise: every time something happens is a knot, and the
//! distance between two knots grows with the logarithm of the time between
//! them. Events 1 ms apart get a row of their own; a 1 s idle stretch takes
//! a few rows, not a thousand. Between knots the scale is linear, so an
//! arrow that spans a latency stays sloped. Stretches longer than
//! [`GAP_MIN`] are marked as gaps so that nobody reads distance as time.
//!
//! Many things can happen in one simulated millisecond (a resumed session's
//! CONNACK and the queued messages behind it), so a point on the axis is a
//! [`Moment`]: a time and a slot, the order among the things drawn at that
//! time. Each slot is a row of its own.

use std::time::Duration;

/// The distance between two knots 0 ms apart is 0; otherwise at least this.
pub const ROW_MIN_PX: f64 = 22.0;
/// Added per doubling of the time between two knots, in ms.
pub const DOUBLING_PX: f64 = 5.0;
/// Idle stretches at least this long get a gap marker.
pub const GAP_MIN: Duration = Duration::from_millis(200);

/// A point of the axis: a simulated time, and the row among those at the
/// same time (0 first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Moment {
    pub at: Duration,
    pub slot: u32,
}

impl Moment {
    pub fn new(at: Duration, slot: u32) -> Moment {
        Moment { at, slot }
    }
}

impl From<Duration> for Moment {
    fn from(at: Duration) -> Moment {
        Moment { at, slot: 0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gap {
    pub start: Duration,
    pub end: Duration,
    pub y_start: f64,
    pub y_end: f64,
}

#[derive(Debug, Clone)]
pub struct Axis {
    /// Strictly increasing in both moment and position.
    knots: Vec<(Moment, f64)>,
    gaps: Vec<Gap>,
}

impl Axis {
    /// An axis through `moments` (in any order, duplicates allowed),
    /// starting at `top`.
    pub fn new(moments: impl IntoIterator<Item = impl Into<Moment>>, top: f64) -> Axis {
        let mut moments: Vec<Moment> = moments.into_iter().map(Into::into).collect();
        moments.sort();
        moments.dedup();
        let mut knots: Vec<(Moment, f64)> = Vec::with_capacity(moments.len());
        let mut gaps = Vec::new();
        for m in moments {
            let y = match knots.last() {
                None => top,
                Some(&(prev, y_prev)) => {
                    // Rows at the same time are one step of 0 ms apart.
                    let dt = m.at - prev.at;
                    let y = y_prev + step_px(dt);
                    if dt >= GAP_MIN {
                        gaps.push(Gap {
                            start: prev.at,
                            end: m.at,
                            y_start: y_prev,
                            y_end: y,
                        });
                    }
                    y
                }
            };
            knots.push((m, y));
        }
        Axis { knots, gaps }
    }

    /// The position of `m`: linear in time between the knots around it
    /// (and in slots between two knots of the same time), and the first or
    /// last knot's position outside them.
    pub fn y(&self, m: impl Into<Moment>) -> f64 {
        let m = m.into();
        let after = self.knots.partition_point(|&(k, _)| k < m);
        match (
            after.checked_sub(1).and_then(|i| self.knots.get(i)),
            self.knots.get(after),
        ) {
            (_, Some(&(k, y))) if k == m => y,
            (Some(&(m0, y0)), Some(&(m1, y1))) => {
                let (part, span) = if m0.at == m1.at {
                    (f64::from(m.slot - m0.slot), f64::from(m1.slot - m0.slot))
                } else {
                    ((m.at - m0.at).as_secs_f64(), (m1.at - m0.at).as_secs_f64())
                };
                y0 + (y1 - y0) * part / span
            }
            (Some(&(_, y)), None) | (None, Some(&(_, y))) => y,
            (None, None) => 0.0,
        }
    }

    /// The knots, for the time labels.
    pub fn knots(&self) -> &[(Moment, f64)] {
        &self.knots
    }

    pub fn gaps(&self) -> &[Gap] {
        &self.gaps
    }

    /// The position of the last knot.
    pub fn bottom(&self) -> f64 {
        self.knots.last().map_or(0.0, |&(_, y)| y)
    }
}

/// The distance between two consecutive knots `dt` apart.
fn step_px(dt: Duration) -> f64 {
    let ms = dt.as_secs_f64() * 1000.0;
    ROW_MIN_PX + DOUBLING_PX * (1.0 + ms).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn knots_a_millisecond_apart_get_a_row_each() {
        let a = Axis::new([ms(0), ms(1), ms(2)], 0.0);
        assert!(a.y(ms(1)) - a.y(ms(0)) >= ROW_MIN_PX);
        assert!(a.y(ms(2)) - a.y(ms(1)) >= ROW_MIN_PX);
    }

    #[test]
    fn things_in_the_same_millisecond_get_a_row_each() {
        let a = Axis::new(
            [
                Moment::new(ms(5), 0),
                Moment::new(ms(5), 1),
                Moment::new(ms(5), 2),
                ms(6).into(),
            ],
            0.0,
        );
        let rows: Vec<f64> = (0..3).map(|s| a.y(Moment::new(ms(5), s))).collect();
        assert!(
            rows[1] - rows[0] >= ROW_MIN_PX && rows[2] - rows[1] >= ROW_MIN_PX,
            "{rows:?}"
        );
        assert!(a.y(ms(6)) - rows[2] >= ROW_MIN_PX);
    }

    #[test]
    fn long_idle_stretches_are_compressed_and_marked() {
        let a = Axis::new([ms(0), ms(1), ms(10_000)], 0.0);
        let idle = a.y(ms(10_000)) - a.y(ms(1));
        assert!(idle < 10.0 * ROW_MIN_PX, "idle stretch takes {idle}px");
        assert_eq!(a.gaps().len(), 1);
        assert_eq!(a.gaps()[0].start, ms(1));
    }

    #[test]
    fn position_is_monotonic_between_and_clamped_outside() {
        let a = Axis::new([ms(10), ms(20)], 5.0);
        assert_eq!(a.y(ms(0)), 5.0);
        assert!(a.y(ms(15)) > a.y(ms(10)) && a.y(ms(15)) < a.y(ms(20)));
        assert_eq!(a.y(ms(30)), a.y(ms(20)));
    }
}
