//! Message sequence charts of a run: SVG, an HTML page around it, or
//! Mermaid text.
//!
//! How the picture relates to the trace:
//!
//! - **Lifelines** are the scenario's hosts: half the clients, the brokers,
//!   then the other clients, so that arrows fan out on both sides of the
//!   broker. A client's connection shows as a bar on its lifeline.
//! - **One arrow per traced packet** (each `send`, `recv` and raw `send`
//!   event), except for runs of at least [`model::PING_RUN_MIN`]
//!   PINGREQ/PINGRESP packets of one client with nothing else of that
//!   client in between: such a run is one marker labelled
//!   `N x PINGREQ/PINGRESP` whose `data-packets` attribute says how many
//!   packets it stands for. So arrows + the markers' packets = packets in
//!   the window. In SVG an arrow is a `<g class="arrow ...">`, a marker a
//!   `<g class="pings">`.
//! - **Arrow slopes.** The trace records only the client's side: the time a
//!   client sent a packet, or the time it received one. The broker's end is
//!   drawn at that time plus (for sent packets) or minus (for received
//!   ones) the link's one-way latency: the link's override in
//!   `network.links`, else `network.latency`, as changed by any `latency`
//!   fault before the packet; for a range, its minimum. It is the earliest
//!   the broker can have seen the packet, not a measurement.
//! - **Time axis.** Time runs down on a piecewise scale (see [`axis`]):
//!   moments where something happens are spaced by the logarithm of the
//!   time between them, and stretches of [`axis::GAP_MIN`] or more are
//!   marked with a dotted line and their length.
//! - **Faults** are shaded bands over the lifelines they involve, from the
//!   fault to its heal, release or restart (or the end); **closes** are red
//!   crosses on the client's lifeline saying who closed; **broker notes**
//!   and client errors are dots on the lifeline with their text in a
//!   column at the right.
//! - **Failed expectations** are listed in a red box at the bottom, and the
//!   events the report names as closest to them are circled in red.
//!
//! Layout (coordinates) lives in [`layout`]; writing SVG in [`svg`].

pub mod axis;
mod html;
pub mod label;
pub mod layout;
mod mermaid;
pub mod model;
mod svg;

use std::time::Duration;

use crate::scenario::Scenario;
use crate::trace::Report;

pub use model::{Diagram, Window};

/// Which part of the run to draw; `None` means from the start or to the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub from: Option<Duration>,
    pub to: Option<Duration>,
}

impl Options {
    pub fn window(&self, report: &Report) -> Window {
        Window {
            from: self.from.unwrap_or(Duration::ZERO),
            to: self.to.unwrap_or(report.end),
        }
    }
}

/// What would be drawn, before any coordinates.
pub fn build(scenario: &Scenario, report: &Report, opts: &Options) -> Diagram {
    model::build(scenario, report, opts.window(report))
}

/// A standalone SVG document.
pub fn svg(scenario: &Scenario, report: &Report, opts: &Options) -> String {
    let d = build(scenario, report, opts);
    svg::write(&layout::layout(&d))
}

/// An HTML page with the SVG, the expectations and the text trace.
pub fn html(scenario: &Scenario, report: &Report, opts: &Options) -> String {
    let d = build(scenario, report, opts);
    let svg = svg::write(&layout::layout(&d));
    html::page(&d.title, &svg, report)
}

/// A Mermaid `sequenceDiagram`.
pub fn mermaid(scenario: &Scenario, report: &Report, opts: &Options) -> String {
    mermaid::write(&build(scenario, report, opts))
}
