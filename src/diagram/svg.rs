//! Writes a [`Layout`] as a standalone SVG document: styles inline, no
//! scripts, no external fonts or images.

use svg::Document;
use svg::Node as _;
use svg::node::element::{
    Circle, Definitions, Element, Group as G, Line, Marker, Path, Rectangle, Style, Text, Title,
};

use super::layout::{Anchor, Group, Layout, Shape};

const STYLE: &str = "
text { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 11px; fill: #222; }
.title { font-size: 14px; font-weight: bold; }
.head { fill: #eef3fb; stroke: #4a6fa5; stroke-width: 1.2; rx: 4; }
.broker .head { fill: #fff4dd; stroke: #b07d10; }
.head-text { font-size: 12px; font-weight: bold; }
.life { stroke: #999; stroke-width: 1; stroke-dasharray: 4 3; }
.active-bar { fill: #dfe8f5; stroke: #4a6fa5; stroke-width: 0.8; }
.msg { stroke-width: 1.3; marker-end: url(#head); }
.send .msg { stroke: #1f4e9c; }
.recv .msg { stroke: #444; }
.send .msg-label { fill: #1f4e9c; }
.msg-label { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.pings-box { fill: #f1f1f1; fill-opacity: 0.6; stroke: #aaa; stroke-dasharray: 3 2; rx: 6; }
.pings-edge { stroke: #aaa; stroke-width: 1; }
.pings-label { font-weight: bold; fill: #555; }
.small { font-size: 10px; fill: #777; }
.fault-band { fill: #f6c343; fill-opacity: 0.22; stroke: #d9a400; stroke-opacity: 0.6; }
.fault-label { font-size: 10px; fill: #8a6500; font-weight: bold; paint-order: stroke; stroke: #fdf3dc; stroke-width: 3px; }
.cross { stroke: #c0392b; stroke-width: 2.2; }
.close-label { font-size: 10px; fill: #c0392b; }
.note-dot { fill: #fff4dd; stroke: #b07d10; }
.leader { stroke: #c9a860; stroke-width: 0.8; stroke-dasharray: 2 2; }
.note-text { font-size: 10px; fill: #7a5a00; }
.error .note-text { fill: #c0392b; }
.error .note-dot { fill: #fbe3e0; stroke: #c0392b; }
.time { font-size: 10px; fill: #666; }
.tick, .axis { stroke: #bbb; stroke-width: 1; }
.gap-line { stroke: #bbb; stroke-width: 1; stroke-dasharray: 1 5; }
.gap-label { font-size: 10px; fill: #999; font-style: italic; }
.mark { fill: none; stroke: #e01b1b; stroke-width: 2; }
.closest .msg-label { fill: #e01b1b; font-weight: bold; }
.failed-box { fill: #fdecea; stroke: #e01b1b; stroke-width: 1.5; }
.failed-text { fill: #a4161a; }
";

/// The document as a string.
pub fn write(layout: &Layout) -> String {
    let marker = Marker::new()
        .set("id", "head")
        .set("viewBox", "0 0 10 10")
        .set("refX", 10)
        .set("refY", 5)
        .set("markerWidth", 7)
        .set("markerHeight", 7)
        .set("orient", "auto-start-reverse")
        .add(
            Path::new()
                .set("d", "M 0 0 L 10 5 L 0 10 z")
                .set("fill", "context-stroke"),
        );
    let mut doc = Document::new()
        .set("width", round(layout.width))
        .set("height", round(layout.height))
        .set("viewBox", (0, 0, round(layout.width), round(layout.height)))
        .add(Style::new(STYLE))
        .add(Definitions::new().add(marker))
        .add(
            Rectangle::new()
                .set("width", "100%")
                .set("height", "100%")
                .set("fill", "#fff"),
        );
    for g in &layout.groups {
        doc = doc.add(group(g));
    }
    doc.to_string()
}

fn group(g: &Group) -> G {
    let mut out = G::new().set("class", g.class.as_str());
    for (k, v) in &g.data {
        out = out.set(format!("data-{k}"), v.as_str());
    }
    if let Some(t) = &g.title {
        out = out.add(Title::new(t.as_str()));
    }
    for s in &g.shapes {
        out = out.add(shape(s));
    }
    out
}

fn shape(s: &Shape) -> Box<dyn svg::Node> {
    match s {
        Shape::Rect { x, y, w, h, class } => Box::new(
            Rectangle::new()
                .set("x", round(*x))
                .set("y", round(*y))
                .set("width", round(*w))
                .set("height", round(*h))
                .set("class", *class),
        ),
        Shape::Line {
            x1,
            y1,
            x2,
            y2,
            class,
        }
        | Shape::Arrow {
            x1,
            y1,
            x2,
            y2,
            class,
        } => Box::new(
            Line::new()
                .set("x1", round(*x1))
                .set("y1", round(*y1))
                .set("x2", round(*x2))
                .set("y2", round(*y2))
                .set("class", *class),
        ),
        Shape::Text {
            x,
            y,
            text,
            class,
            anchor,
        } => Box::new(
            Text::new(text.as_str())
                .set("x", round(*x))
                .set("y", round(*y))
                .set("class", *class)
                .set(
                    "text-anchor",
                    match anchor {
                        Anchor::Start => "start",
                        Anchor::Middle => "middle",
                        Anchor::End => "end",
                    },
                ),
        ),
        Shape::Cross { x, y, r, class } => {
            let d = format!(
                "M {} {} L {} {} M {} {} L {} {}",
                round(x - r),
                round(y - r),
                round(x + r),
                round(y + r),
                round(x - r),
                round(y + r),
                round(x + r),
                round(y - r)
            );
            let mut e = Element::new("path");
            e.assign("d", d);
            e.assign("class", *class);
            Box::new(e)
        }
        Shape::Circle { x, y, r, class } => Box::new(
            Circle::new()
                .set("cx", round(*x))
                .set("cy", round(*y))
                .set("r", round(*r))
                .set("class", *class),
        ),
    }
}

/// Coordinates to a tenth of a pixel: enough for the eye, and the output
/// stays short and stable.
fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
