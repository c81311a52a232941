//! Coordinates: turns a [`Diagram`] into positioned shapes, grouped by what
//! they stand for. Nothing here knows SVG; [`super::svg`] writes the shapes.
//!
//! Text widths are estimated from the character count, which is right for
//! the monospace font the SVG asks for and close enough for others.

use std::collections::BTreeMap;
use std::time::Duration;

use super::axis::{Axis, Moment};
use super::label::cut;
use super::model::{Active, Close, Diagram, FaultBand, Host, Item, Message, Note, PingRun};
use crate::trace::render::seconds;

/// Width of one character of the 11 px monospace font labels use.
const CHAR_PX: f64 = 6.7;
/// Width of one character of the 10 px font of notes and time labels.
const SMALL_CHAR_PX: f64 = 6.1;
/// Room for the time labels, left of everything else.
const TIME_AXIS_PX: f64 = 70.0;
/// Room left of the first lifeline for what is written beside it.
const OUTER_PX: f64 = 130.0;
const COLUMN_MIN_PX: f64 = 170.0;
const COLUMN_MAX_PX: f64 = 520.0;
/// Room on both sides of a label between two lifelines.
const LABEL_PAD_PX: f64 = 36.0;
/// A gap between lifelines is this many times its widest label.
const LABEL_ROOM: f64 = 1.4;
const TITLE_Y: f64 = 22.0;
const HEAD_Y: f64 = 44.0;
const HEAD_H: f64 = 26.0;
/// Where the first knot of the time axis sits.
const TOP_Y: f64 = 104.0;
/// Notes are written in a column right of the last lifeline.
const NOTE_GUTTER_PX: f64 = 40.0;
const NOTE_CHARS_MAX: usize = 70;
/// Room for `closed by broker` beside a lifeline.
const CLOSE_LABEL_PX: f64 = 110.0;
/// Space between a label and the arrow it names.
const LABEL_GAP_PX: f64 = 4.0;
/// How far a label stays from the lifeline an arrow ends at.
const LABEL_INSET_PX: f64 = 14.0;
const NOTE_ROW_PX: f64 = 13.0;
const LINE_PX: f64 = 15.0;
const MARGIN_PX: f64 = 20.0;
const ACTIVE_W: f64 = 8.0;
/// Time labels closer together than this are skipped.
const TIME_LABEL_MIN_PX: f64 = 12.0;
/// How far a fault band reaches beyond the lifelines it cuts.
const FAULT_PAD_PX: f64 = 24.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        class: &'static str,
    },
    Line {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        class: &'static str,
    },
    /// A line with an arrowhead at its second end.
    Arrow {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        class: &'static str,
    },
    Text {
        x: f64,
        y: f64,
        text: String,
        class: &'static str,
        anchor: Anchor,
    },
    /// An X of half-size `r`.
    Cross {
        x: f64,
        y: f64,
        r: f64,
        class: &'static str,
    },
    Circle {
        x: f64,
        y: f64,
        r: f64,
        class: &'static str,
    },
}

/// Shapes that stand for one thing of the diagram. `class` names the kind
/// of thing (`arrow`, `pings`, `fault`, `close`, `note`, ...), `title` is
/// its tooltip.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub class: String,
    pub title: Option<String>,
    /// `data-*` attributes: a name and a value without quotes.
    pub data: Vec<(&'static str, String)>,
    pub shapes: Vec<Shape>,
}

impl Group {
    fn new(class: impl Into<String>) -> Self {
        Group {
            class: class.into(),
            title: None,
            data: Vec::new(),
            shapes: Vec::new(),
        }
    }

    fn title(mut self, t: impl Into<String>) -> Self {
        self.title = Some(t.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    /// In drawing order: backgrounds first.
    pub groups: Vec<Group>,
}

/// Where things go across and down: the time axis, the x of each lifeline,
/// and the places derived from them.
struct Frame {
    axis: Axis,
    xs: Vec<f64>,
    last_x: f64,
    first_broker_x: f64,
    bottom: f64,
    /// Where notes are written, right of the last lifeline.
    gutter_x: f64,
}

impl Frame {
    fn new(d: &Diagram, spans: &[(Moment, Moment)]) -> Self {
        let axis = Axis::new(knot_moments(d, spans), TOP_Y);
        let xs = columns(d);
        let last_x = xs.last().copied().unwrap_or(TIME_AXIS_PX + OUTER_PX);
        let first_broker_x = d
            .hosts
            .iter()
            .position(|h| h.broker)
            .map_or(last_x, |i| x_of(&xs, i));
        let bottom = axis.bottom() + 30.0;
        // Room for a close label right of the last lifeline before the notes.
        let gutter_x = last_x + NOTE_GUTTER_PX + CLOSE_LABEL_PX;
        Frame {
            axis,
            xs,
            last_x,
            first_broker_x,
            bottom,
            gutter_x,
        }
    }

    /// The x of lifeline `i`.
    fn x(&self, i: usize) -> f64 {
        x_of(&self.xs, i)
    }
}

fn x_of(xs: &[f64], i: usize) -> f64 {
    xs.get(i).copied().unwrap_or(TIME_AXIS_PX + OUTER_PX)
}

pub fn layout(d: &Diagram) -> Layout {
    let spans = moments(d);
    let f = Frame::new(d, &spans);

    let mut backgrounds = Vec::new();
    let mut middles = Vec::new();
    let mut fronts = Vec::new();

    backgrounds.push(header(d));
    backgrounds.extend(gaps(&f.axis, f.gutter_x));
    backgrounds.push(time_labels(&f.axis));
    for (item, &(start, end)) in d.items.iter().zip(&spans) {
        if let Item::Fault(band) = item {
            backgrounds.push(fault_band(&f, band, start, end));
        }
    }
    for (i, h) in d.hosts.iter().enumerate() {
        middles.push(lifeline(&f, i, h));
    }
    let mut note_y_free = 0.0_f64;
    let mut placed_labels: Vec<(f64, f64, f64)> = Vec::new();
    for (item, &(start, end)) in d.items.iter().zip(&spans) {
        match item {
            Item::Active(a) => middles.push(active(&f, a, start, end)),
            Item::Message(m) => fronts.push(message(&f, m, start, end, &mut placed_labels)),
            // Under the messages: another client's arrow may cross the
            // gap the box fills, and its label must stay readable.
            Item::Pings(p) => middles.push(pings(&f, d, p, start, end)),
            Item::Close(c) => fronts.push(close(&f, c, start)),
            Item::Note(n) => fronts.push(note(&f, n, start, &mut note_y_free)),
            Item::Fault(_) => {}
        }
    }

    let mut width = f.gutter_x + notes_width(d) + MARGIN_PX;
    let mut height = f.bottom.max(note_y_free) + MARGIN_PX;
    if let Some(g) = failures(d, height) {
        if let Some(Shape::Rect { y, w, h, .. }) = g.shapes.first() {
            width = width.max(MARGIN_PX * 2.0 + w);
            height = y + h + MARGIN_PX;
        }
        fronts.push(g);
    }
    let mut groups = backgrounds;
    groups.extend(middles);
    groups.extend(fronts);
    Layout {
        width,
        height,
        groups,
    }
}

/// A fault's band across the lifelines it cuts, and no others: a partition
/// of one client from its broker leaves the other clients' lines clear. A
/// band for one host (a crash) is wide enough for its label.
fn fault_band(f: &Frame, band: &FaultBand, start: Moment, end: Moment) -> Group {
    let xs: Vec<f64> = band.hosts.iter().map(|&h| f.x(h)).collect();
    let (lo, hi) = match (
        xs.iter().copied().reduce(f64::min),
        xs.iter().copied().reduce(f64::max),
    ) {
        (Some(lo), Some(hi)) => (lo, hi),
        _ => (f.x(0), f.last_x),
    };
    // The label's lines: the kind, the hosts, `until 12.345s`.
    let (kind, rest) = band
        .label
        .split_once(' ')
        .unwrap_or((band.label.as_str(), ""));
    let label_chars = kind.chars().count().max(rest.chars().count()).max(13);
    let label_w = label_chars as f64 * SMALL_CHAR_PX;
    let x0 = lo - FAULT_PAD_PX;
    let x1 = (hi + FAULT_PAD_PX).max(x0 + label_w + 12.0);
    let (y0, y1) = (f.axis.y(start), f.axis.y(end).max(f.axis.y(start) + 6.0));
    let until = if band.open {
        "to the end".to_string()
    } else {
        format!("until {}", seconds(band.end))
    };
    let mut g = Group::new("fault").title(format!(
        "{} from {} {until}",
        band.label,
        seconds(band.start)
    ));
    g.shapes.push(Shape::Rect {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
        class: "fault-band",
    });
    for (i, line) in [kind, rest, until.as_str()]
        .into_iter()
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        g.shapes.push(Shape::Text {
            x: x0 + 6.0,
            y: y0 + 12.0 + i as f64 * 12.0,
            text: line.to_string(),
            class: "fault-label",
            anchor: Anchor::Start,
        });
    }
    g
}

/// Host `i`'s name in a box at the top, and its line down to the bottom.
fn lifeline(f: &Frame, i: usize, h: &Host) -> Group {
    let x = f.x(i);
    let w = (h.name.chars().count() as f64 * CHAR_PX + 20.0).max(60.0);
    let mut g = Group::new(if h.broker {
        "lifeline broker"
    } else {
        "lifeline client"
    });
    g.data.push(("host", h.name.clone()));
    g.shapes.push(Shape::Line {
        x1: x,
        y1: HEAD_Y + HEAD_H,
        x2: x,
        y2: f.bottom,
        class: "life",
    });
    g.shapes.push(Shape::Rect {
        x: x - w / 2.0,
        y: HEAD_Y,
        w,
        h: HEAD_H,
        class: "head",
    });
    g.shapes.push(Shape::Text {
        x,
        y: HEAD_Y + 17.0,
        text: h.name.clone(),
        class: "head-text",
        anchor: Anchor::Middle,
    });
    g
}

/// A connection's bar on its client's lifeline.
fn active(f: &Frame, a: &Active, start: Moment, end: Moment) -> Group {
    let mut g = Group::new("active");
    let (y0, y1) = (f.axis.y(start), f.axis.y(end));
    g.shapes.push(Shape::Rect {
        x: f.x(a.host) - ACTIVE_W / 2.0,
        y: y0,
        w: ACTIVE_W,
        h: (y1 - y0).max(2.0),
        class: "active-bar",
    });
    g
}

/// A packet's arrow with its label, placed clear of the labels before it,
/// and a ring at the client's end when it is closest to a failure.
fn message(
    f: &Frame,
    m: &Message,
    start: Moment,
    end: Moment,
    placed_labels: &mut Vec<(f64, f64, f64)>,
) -> Group {
    let (x1, x2) = (f.x(m.from), f.x(m.to));
    let (y1, y2) = (f.axis.y(start), f.axis.y(end));
    let mut class = String::from(if m.sent_by_client {
        "arrow send"
    } else {
        "arrow recv"
    });
    if m.closest {
        class.push_str(" closest");
    }
    let mut g = Group::new(class).title(m.line.clone());
    g.shapes.push(Shape::Arrow {
        x1,
        y1,
        x2,
        y2,
        class: "msg",
    });
    g.shapes.push(clear_of(
        message_label(&m.label, (x1, y1), (x2, y2)),
        placed_labels,
    ));
    if m.closest {
        let (cx, cy) = if m.sent_by_client { (x1, y1) } else { (x2, y2) };
        g.shapes.push(Shape::Circle {
            x: cx,
            y: cy,
            r: 7.0,
            class: "mark",
        });
    }
    g
}

/// The two adjacent lifelines a collapsed ping run is drawn between: the
/// client's and the next one towards its broker, so that the box never
/// covers a third host's lifeline (and whatever is drawn on it).
fn ping_span(p: &PingRun) -> (usize, usize) {
    if p.client < p.broker {
        (p.client, p.client + 1)
    } else {
        (p.client.saturating_sub(1), p.client)
    }
}

/// A collapsed run of pings: a box from the client towards its broker, as
/// far as the next lifeline, with the count and the time span.
fn pings(f: &Frame, d: &Diagram, p: &PingRun, start: Moment, end: Moment) -> Group {
    let (lo, hi) = ping_span(p);
    let (xa, xb) = (f.x(lo), f.x(hi));
    let (x0, x1) = (xa.min(xb), xa.max(xb));
    let (y0, y1) = (f.axis.y(start), f.axis.y(end));
    let h = (y1 - y0).max(18.0);
    let mut g = Group::new("pings").title(format!(
        "{}: {} between {} and {}",
        d.hosts.get(p.client).map_or("", |h| h.name.as_str()),
        p.label(),
        seconds(p.start),
        seconds(p.end)
    ));
    g.data.push(("packets", p.packets().to_string()));
    g.shapes.push(Shape::Rect {
        x: x0 + 8.0,
        y: y0,
        w: x1 - x0 - 16.0,
        h,
        class: "pings-box",
    });
    g.shapes.push(Shape::Line {
        x1: xa,
        y1: y0,
        x2: xb,
        y2: y0,
        class: "pings-edge",
    });
    g.shapes.push(Shape::Line {
        x1: xa,
        y1: y0 + h,
        x2: xb,
        y2: y0 + h,
        class: "pings-edge",
    });
    g.shapes.push(Shape::Text {
        x: (x0 + x1) / 2.0,
        y: y0 + h / 2.0 - 2.0,
        text: p.label(),
        class: "pings-label",
        anchor: Anchor::Middle,
    });
    g.shapes.push(Shape::Text {
        x: (x0 + x1) / 2.0,
        y: y0 + h / 2.0 + 11.0,
        text: format!("{} – {}", seconds(p.start), seconds(p.end)),
        class: "small",
        anchor: Anchor::Middle,
    });
    g
}

/// A cross where a connection closed, labelled on the side away from the
/// brokers.
fn close(f: &Frame, c: &Close, start: Moment) -> Group {
    let (x, y) = (f.x(c.host), f.axis.y(start));
    let mut g = Group::new(if c.closest { "close closest" } else { "close" }).title(format!(
        "{} closed by {}",
        seconds(c.at),
        c.by
    ));
    g.shapes.push(Shape::Cross {
        x,
        y,
        r: 6.0,
        class: "cross",
    });
    let left = x < f.first_broker_x;
    g.shapes.push(Shape::Text {
        x: if left { x - 12.0 } else { x + 12.0 },
        y: y + 4.0,
        text: format!("closed by {}", c.by),
        class: "close-label",
        anchor: if left { Anchor::End } else { Anchor::Start },
    });
    if c.closest {
        g.shapes.push(Shape::Circle {
            x,
            y,
            r: 10.0,
            class: "mark",
        });
    }
    g
}

/// A dot on the host's lifeline and a leader to the note's text in the
/// gutter. Notes at the same moment stack downwards in the gutter;
/// `y_free` is where the next one may start.
fn note(f: &Frame, n: &Note, start: Moment, y_free: &mut f64) -> Group {
    let (x, y) = (f.x(n.host), f.axis.y(start));
    let text_y = (y + 4.0).max(*y_free);
    *y_free = text_y + NOTE_ROW_PX;
    let mut class = String::from(if n.error { "note error" } else { "note" });
    if n.closest {
        class.push_str(" closest");
    }
    let mut g = Group::new(class).title(format!("{} {}", seconds(n.at), n.text));
    g.shapes.push(Shape::Rect {
        x: x - 4.0,
        y: y - 4.0,
        w: 8.0,
        h: 8.0,
        class: "note-dot",
    });
    g.shapes.push(Shape::Line {
        x1: x + 4.0,
        y1: y,
        x2: f.gutter_x - 4.0,
        y2: text_y - 4.0,
        class: "leader",
    });
    g.shapes.push(Shape::Text {
        x: f.gutter_x,
        y: text_y,
        text: cut(&n.text, NOTE_CHARS_MAX),
        class: "note-text",
        anchor: Anchor::Start,
    });
    g
}

/// The width of the widest note's text.
fn notes_width(d: &Diagram) -> f64 {
    d.items
        .iter()
        .filter_map(|i| match i {
            Item::Note(n) => {
                Some(cut(&n.text, NOTE_CHARS_MAX).chars().count() as f64 * SMALL_CHAR_PX)
            }
            _ => None,
        })
        .fold(0.0, f64::max)
}

/// Where each item starts and ends on the axis. Things traced at the same
/// time get consecutive slots, in trace order, so each has a row of its
/// own. The far ends of messages (the broker's, one latency away) get slots
/// of their own at their time: arrivals before departures, since within
/// one millisecond the broker can answer what arrived but nothing it sent
/// can come back. Faults and activations begin before and end after what
/// happens at their times.
fn moments(d: &Diagram) -> Vec<(Moment, Moment)> {
    fn counter() -> impl FnMut(Duration) -> u32 {
        let mut next: BTreeMap<Duration, u32> = BTreeMap::new();
        move |at| {
            let s = next.entry(at).or_insert(0);
            *s += 1;
            *s - 1
        }
    }
    let mut traced = counter();
    let mut spans: Vec<(Moment, Moment)> = d
        .items
        .iter()
        .map(|item| match item {
            Item::Message(m) => {
                let at = if m.sent_by_client {
                    m.sent_at
                } else {
                    m.received_at
                };
                let s = Moment::new(at, traced(at));
                (s, s)
            }
            Item::Pings(p) => (Moment::new(p.start, traced(p.start)), p.end.into()),
            Item::Close(c) => {
                let at = Moment::new(c.at, traced(c.at));
                (at, at)
            }
            Item::Note(n) => {
                let at = Moment::new(n.at, traced(n.at));
                (at, at)
            }
            Item::Fault(f) => (f.start.into(), Moment::new(f.end, u32::MAX)),
            Item::Active(a) => (a.start.into(), Moment::new(a.end, u32::MAX)),
        })
        .collect();
    // (time, departure, item): arrivals at the broker sort first.
    let mut far: Vec<(Duration, bool, usize)> = d
        .items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match item {
            Item::Message(m) if m.sent_by_client => Some((m.received_at, false, i)),
            Item::Message(m) => Some((m.sent_at, true, i)),
            _ => None,
        })
        .collect();
    far.sort();
    let mut far_slot = counter();
    for (at, departure, i) in far {
        if let Some(span) = spans.get_mut(i) {
            let m = Moment::new(at, far_slot(at));
            if departure {
                span.0 = m;
            } else {
                span.1 = m;
            }
        }
    }
    spans
}

/// Every moment the axis must place exactly: both ends of each item, and
/// the window's edges. The `u32::MAX` slots that only mean "after the
/// others" are placed between knots, not made knots.
fn knot_moments(d: &Diagram, spans: &[(Moment, Moment)]) -> Vec<Moment> {
    let mut t = vec![Moment::from(d.window.from)];
    t.extend(
        spans
            .iter()
            .flat_map(|&(a, b)| [a, b])
            .map(|m| if m.slot == u32::MAX { m.at.into() } else { m }),
    );
    t.push(d.window.to.into());
    t
}

/// The x of each lifeline: each gap wide enough for the longest label
/// drawn between those two lifelines.
fn columns(d: &Diagram) -> Vec<f64> {
    let n = d.hosts.len();
    let mut gap = vec![COLUMN_MIN_PX; n.saturating_sub(1)];
    for item in &d.items {
        let (a, b, text) = match item {
            Item::Message(m) => (m.from, m.to, m.label.clone()),
            Item::Pings(p) => {
                let (lo, hi) = ping_span(p);
                (lo, hi, p.label())
            }
            _ => continue,
        };
        let (lo, hi) = (a.min(b), a.max(b));
        let span = (hi - lo).max(1) as f64;
        // Half as wide again as the label: the label sits at one end of a
        // sloped arrow, and the spare width keeps the arrow of the packet
        // before it clear of the text.
        let need = (text.chars().count() as f64 * CHAR_PX * LABEL_ROOM + LABEL_PAD_PX) / span;
        for g in gap.iter_mut().take(hi).skip(lo) {
            *g = g.max(need.min(COLUMN_MAX_PX));
        }
    }
    let mut x = TIME_AXIS_PX + OUTER_PX;
    let mut xs = Vec::with_capacity(n);
    for i in 0..n {
        xs.push(x);
        x += gap.get(i).copied().unwrap_or(0.0);
    }
    xs
}

fn header(d: &Diagram) -> Group {
    let mut g = Group::new("header");
    let status = if d.failures.is_empty() && d.harness_error.is_none() {
        "ok"
    } else {
        "FAILED"
    };
    if d.omitted > 0 {
        g.shapes.push(Shape::Text {
            x: MARGIN_PX,
            y: TITLE_Y + 16.0,
            text: format!(
                "{} events not drawn (over the limit of {} items): narrow the window with --from/--to",
                d.omitted,
                super::model::ITEMS_MAX
            ),
            class: "failed-text",
            anchor: Anchor::Start,
        });
    }
    g.shapes.push(Shape::Text {
        x: MARGIN_PX,
        y: TITLE_Y,
        text: format!(
            "{}  —  seed {}, {} to {}: {status}",
            d.title,
            d.seed,
            seconds(d.window.from),
            seconds(d.window.to)
        ),
        class: "title",
        anchor: Anchor::Start,
    });
    g
}

fn time_labels(axis: &Axis) -> Group {
    let mut g = Group::new("time-axis");
    let mut last = f64::NEG_INFINITY;
    let mut last_time = None;
    for &(m, y) in axis.knots() {
        // Rows of the same millisecond share its label.
        if y - last < TIME_LABEL_MIN_PX || last_time == Some(m.at) {
            continue;
        }
        last_time = Some(m.at);
        let t = m.at;
        last = y;
        g.shapes.push(Shape::Line {
            x1: TIME_AXIS_PX - 4.0,
            y1: y,
            x2: TIME_AXIS_PX,
            y2: y,
            class: "tick",
        });
        g.shapes.push(Shape::Text {
            x: TIME_AXIS_PX - 6.0,
            y: y + 3.5,
            text: seconds(t),
            class: "time",
            anchor: Anchor::End,
        });
    }
    if let (Some(&(_, top)), Some(&(_, bottom))) = (axis.knots().first(), axis.knots().last()) {
        g.shapes.push(Shape::Line {
            x1: TIME_AXIS_PX,
            y1: top,
            x2: TIME_AXIS_PX,
            y2: bottom,
            class: "axis",
        });
    }
    g
}

/// A dashed line across the picture in the middle of each long idle
/// stretch, saying how long it is.
fn gaps(axis: &Axis, right: f64) -> Vec<Group> {
    axis.gaps()
        .iter()
        .map(|gap| {
            let y = (gap.y_start + gap.y_end) / 2.0;
            let idle = gap.end - gap.start;
            let mut g = Group::new("gap").title(format!(
                "nothing happens for {} (the time axis is compressed here)",
                seconds(idle)
            ));
            g.shapes.push(Shape::Line {
                x1: TIME_AXIS_PX + 4.0,
                y1: y,
                x2: right,
                y2: y,
                class: "gap-line",
            });
            g.shapes.push(Shape::Text {
                x: TIME_AXIS_PX + 8.0,
                y: y - 3.0,
                text: format!("≈ {}", seconds(idle)),
                class: "gap-label",
                anchor: Anchor::Start,
            });
            g
        })
        .collect()
}

/// The red box at the bottom listing what failed.
fn failures(d: &Diagram, top: f64) -> Option<Group> {
    let mut lines = Vec::new();
    if let Some(e) = &d.harness_error {
        lines.push((0.0, format!("harness error: {e}")));
    }
    for f in &d.failures {
        lines.push((0.0, format!("FAIL expect line {}: {}", f.line, f.text)));
        for c in &f.closest {
            lines.push((4.0 * CHAR_PX, format!("closest: {c}")));
        }
    }
    if lines.is_empty() {
        return None;
    }
    let w = lines
        .iter()
        .map(|(indent, l)| indent + l.chars().count() as f64 * CHAR_PX)
        .fold(0.0, f64::max)
        + 24.0;
    let h = lines.len() as f64 * LINE_PX + 16.0;
    let mut g = Group::new("failed");
    g.shapes.push(Shape::Rect {
        x: MARGIN_PX,
        y: top,
        w,
        h,
        class: "failed-box",
    });
    for (i, (indent, l)) in lines.into_iter().enumerate() {
        g.shapes.push(Shape::Text {
            x: MARGIN_PX + 12.0 + indent,
            y: top + 20.0 + i as f64 * LINE_PX,
            text: l,
            class: "failed-text",
            anchor: Anchor::Start,
        });
    }
    Some(g)
}

/// Height a message label needs to itself.
const LABEL_H_PX: f64 = 12.0;

/// Moves `label` up until it overlaps none of the labels placed before
/// (x from, x to, baseline), and records it. A burst of arrows in one
/// millisecond is steep, and their labels would otherwise print over each
/// other.
fn clear_of(mut label: Shape, placed: &mut Vec<(f64, f64, f64)>) -> Shape {
    if let Shape::Text {
        x, y, text, anchor, ..
    } = &mut label
    {
        let w = text.chars().count() as f64 * CHAR_PX;
        let x0 = match anchor {
            Anchor::Start => *x,
            Anchor::Middle => *x - w / 2.0,
            Anchor::End => *x - w,
        };
        let x1 = x0 + w;
        // Each move goes above one label, so this ends within
        // `placed.len()` rounds.
        for _ in 0..=placed.len() {
            let hit = placed
                .iter()
                .find(|&&(a, b, py)| a < x1 && x0 < b && (py - *y).abs() < LABEL_H_PX);
            match hit {
                Some(&(_, _, py)) => *y = py - LABEL_H_PX,
                None => break,
            }
        }
        placed.push((x0, x1, *y));
    }
    label
}

/// A message's label: above the arrow, near the end it points at (where
/// the reader's eye lands), and high enough that the sloped line stays
/// below the text along its whole width. A label wider than its arrow is
/// centred on it.
fn message_label(text: &str, from: (f64, f64), to: (f64, f64)) -> Shape {
    let (x1, y1) = from;
    let (x2, y2) = to;
    let w = text.chars().count() as f64 * CHAR_PX;
    let span = (x2 - x1).abs();
    let rightwards = x2 >= x1;
    let (left, anchor, x) = if w + 2.0 * LABEL_INSET_PX > span {
        let mid = (x1 + x2) / 2.0;
        (mid - w / 2.0, Anchor::Middle, mid)
    } else if rightwards {
        let right = x2 - LABEL_INSET_PX;
        (right - w, Anchor::End, right)
    } else {
        let left = x2 + LABEL_INSET_PX;
        (left, Anchor::Start, left)
    };
    let line_y = |x: f64| {
        if span == 0.0 {
            y1.min(y2)
        } else {
            y1 + (y2 - y1) * (x - x1) / (x2 - x1)
        }
    };
    let y = line_y(left).min(line_y(left + w)) - LABEL_GAP_PX;
    Shape::Text {
        x,
        y,
        text: text.to_string(),
        class: "msg-label",
        anchor,
    }
}
