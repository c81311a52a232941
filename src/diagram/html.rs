//! A standalone page: the SVG, the expectations and the text trace. No
//! scripts, no external resources. The SVG is scaled down to the page's
//! width rather than scrolled: the broker notes sit at its right edge, and
//! a scrolled figure hid them.

use svg::Node as _;
use svg::node::element::Element;
use svg::node::{Blob, Text};

use crate::trace::{Report, render};

const STYLE: &str = "
body { font-family: sans-serif; margin: 1.5em; color: #222; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 12px; }
.ok { color: #1e7b34; } .fail { color: #a4161a; font-weight: bold; }
li { font-family: monospace; margin: 0.2em 0; }
.figure { border: 1px solid #ddd; }
.figure svg { max-width: 100%; height: auto; display: block; }
";

fn el(name: &str) -> Element {
    Element::new(name)
}

fn with_text(name: &str, text: &str) -> Element {
    let mut e = el(name);
    e.append(Text::new(text));
    e
}

/// The page around `svg`, a document made by [`super::svg::write`].
pub fn page(title: &str, svg: &str, report: &Report) -> String {
    let mut head = el("head");
    let mut meta = el("meta");
    meta.assign("charset", "utf-8");
    head.append(meta);
    head.append(with_text("title", title));
    head.append(with_text("style", STYLE));

    let mut body = el("body");
    body.append(with_text("h1", title));
    let mut figure = el("div");
    figure.assign("class", "figure");
    // The SVG is our own output, already escaped where it holds text.
    figure.append(Blob::new(svg));
    body.append(figure);

    body.append(with_text("h2", "Expectations"));
    if report.verdicts.is_empty() && report.harness_error.is_none() {
        body.append(with_text("p", "This scenario has no expectations."));
    }
    let mut list = el("ul");
    if let Some(e) = &report.harness_error {
        let mut li = with_text("li", &format!("harness error: {e}"));
        li.assign("class", "fail");
        list.append(li);
    }
    for v in &report.verdicts {
        let status = v.outcome.status();
        let mut li = with_text("li", &format!("line {}: {status}  {}", v.line, v.text));
        li.assign("class", if v.failed() { "fail" } else { "ok" });
        for c in &v.closest {
            li.append(el("br"));
            li.append(Text::new(format!("closest: {c}")));
        }
        list.append(li);
    }
    body.append(list);
    body.append(with_text("h2", "Trace"));
    body.append(with_text("pre", &render::text(report)));

    let mut html = el("html");
    html.assign("lang", "en");
    html.append(head);
    html.append(body);
    format!("<!DOCTYPE html>\n{html}\n")
}
