//! The diagram command's output: SVG structure, Mermaid lines, HTML page.
//!
//! Scenarios are built in code here; see `look_at_diagrams` at the end for
//! rendering them to PNG with a headless browser.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use mqtt_sim::diagram::{self, Options};
use mqtt_sim::scenario::*;
use mqtt_sim::sim;
use mqtt_sim::trace::{EventKind, Report};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn options(id: &str, keep_alive_s: u64) -> ConnectOptions {
    ConnectOptions {
        client_id: id.into(),
        protocol: Protocol::V311,
        clean: true,
        session_expiry: None,
        keep_alive: Duration::from_secs(keep_alive_s),
        username: None,
        password: None,
        will: None,
    }
}

fn connect_at(at_ms: u64) -> Step {
    Step {
        at: Some(DurationSpec::Fixed(ms(at_ms))),
        line: 0,
        action: Action::Connect(ConnectOverrides::default()),
    }
}

fn client(o: ConnectOptions, reconnect_ms: Option<u64>, steps: Vec<Step>) -> ClientSpec {
    ClientSpec {
        broker: "broker".into(),
        options: o,
        reconnect: reconnect_ms.map(|r| DurationSpec::Fixed(ms(r))),
        ping: Ping::Auto,
        ack: Ack::Auto,
        steps,
    }
}

fn scenario(name: &str, duration: Duration, clients: Vec<(&str, ClientSpec)>) -> Scenario {
    let mut brokers = IndexMap::new();
    brokers.insert("broker".to_string(), BrokerSpec::default());
    Scenario {
        name: name.into(),
        about: None,
        spec: vec![],
        protocol: Protocol::V311,
        seed: 1,
        duration,
        network: Network::default(),
        brokers,
        clients: clients
            .into_iter()
            .map(|(n, c)| (n.to_string(), c))
            .collect(),
        faults: vec![],
        expect: vec![],
    }
}

/// The tutorial's flapping pair: two clients with one client id push each
/// other off every second, for 10 s.
fn flapping() -> Scenario {
    scenario(
        "duplicate client id flapping",
        Duration::from_secs(10),
        vec![
            (
                "a",
                client(
                    options("mqtt_identical_1", 60),
                    Some(1000),
                    vec![connect_at(0)],
                ),
            ),
            (
                "b",
                client(
                    options("mqtt_identical_1", 60),
                    Some(1000),
                    vec![connect_at(500)],
                ),
            ),
        ],
    )
}

/// One client pinging every second; a partition from 3 s to 5 s stalls the
/// connection until keep-alive gives up, then it reconnects.
fn partitioned() -> Scenario {
    let mut s = scenario(
        "partition and keep-alive",
        Duration::from_secs(12),
        vec![(
            "device",
            client(options("device", 1), Some(500), vec![connect_at(0)]),
        )],
    );
    s.faults = vec![
        Fault {
            at: DurationSpec::Fixed(ms(3000)),
            line: 0,
            action: FaultAction::Partition {
                a: "device".into(),
                b: "broker".into(),
                oneway: false,
            },
        },
        Fault {
            at: DurationSpec::Fixed(ms(5000)),
            line: 0,
            action: FaultAction::Heal(Some(("device".into(), "broker".into()))),
        },
    ];
    s
}

/// The flapping pair with an expectation that cannot hold.
fn flapping_failing() -> Scenario {
    let mut s = flapping();
    s.expect = vec![Expectation {
        line: 42,
        client: "a".into(),
        matcher: Matcher::Closed {
            by: Some(ClosedBy::Client),
        },
        count: Count::Exactly(1),
        within: None,
        only_for: None,
        not_for: None,
    }];
    s
}

fn run(s: &Scenario) -> Report {
    sim::run(s, &sim::RunOptions::default())
}

fn in_window(r: &Report, o: &Options, at: Duration) -> bool {
    o.window(r).contains(at)
}

fn packets(r: &Report, o: &Options) -> usize {
    r.events
        .iter()
        .filter(|e| in_window(r, o, e.at))
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Send { .. } | EventKind::Recv { .. } | EventKind::SendRaw { .. }
            )
        })
        .count()
}

fn count_events(r: &Report, o: &Options, pred: impl Fn(&EventKind) -> bool) -> usize {
    r.events
        .iter()
        .filter(|e| in_window(r, o, e.at) && pred(&e.kind))
        .count()
}

/// The `g` elements whose class has `token`.
fn groups<'a>(doc: &'a roxmltree::Document<'a>, token: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| n.has_tag_name("g"))
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split_whitespace().any(|t| t == token))
        })
        .collect()
}

fn pinged_packets(doc: &roxmltree::Document<'_>) -> usize {
    groups(doc, "pings")
        .iter()
        .map(|g| {
            g.attribute("data-packets")
                .and_then(|p| p.parse::<usize>().ok())
                .unwrap_or(0)
        })
        .sum()
}

fn mermaid_messages(m: &str) -> usize {
    m.lines().filter(|l| l.contains("->>")).count()
}

#[test]
fn flapping_svg_has_one_arrow_per_packet_and_a_cross_per_close() {
    let s = flapping();
    let r = run(&s);
    let o = Options::default();
    let svg = diagram::svg(&s, &r, &o);
    let doc = roxmltree::Document::parse(&svg).expect("the SVG parses as XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let n = packets(&r, &o);
    assert!(n >= 20, "the flapping run has packets: {n}");
    assert_eq!(groups(&doc, "arrow").len() + pinged_packets(&doc), n);
    // Keep-alive 60 s: no pings to collapse here.
    assert!(groups(&doc, "pings").is_empty());
    let closes = count_events(&r, &o, |k| matches!(k, EventKind::Closed { .. }));
    assert_eq!(closes, 10);
    assert_eq!(groups(&doc, "close").len(), closes);
    let notes = count_events(&r, &o, |k| matches!(k, EventKind::Note { .. }));
    assert_eq!(groups(&doc, "note").len(), notes);
    assert!(groups(&doc, "failed").is_empty(), "the run passed");
    assert!(groups(&doc, "fault").is_empty());
    // Two clients: the broker's lifeline is in the middle.
    let hosts: Vec<&str> = groups(&doc, "lifeline")
        .iter()
        .filter_map(|g| g.attribute("data-host"))
        .collect();
    assert_eq!(hosts, ["a", "broker", "b"]);
}

#[test]
fn arrows_slope_by_the_link_latency() {
    let mut s = flapping();
    s.network.latency = DurationSpec::Fixed(ms(20));
    let r = run(&s);
    let d = diagram::build(&s, &r, &Options::default());
    let messages: Vec<_> = d
        .items
        .iter()
        .filter_map(|i| match i {
            diagram::model::Item::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert!(!messages.is_empty());
    for m in messages {
        assert_eq!(m.received_at - m.sent_at, ms(20), "{}", m.line);
    }
}

#[test]
fn window_keeps_only_what_happens_inside_it() {
    let s = flapping();
    let r = run(&s);
    let o = Options {
        from: Some(ms(2000)),
        to: Some(ms(5000)),
    };
    let svg = diagram::svg(&s, &r, &o);
    let doc = roxmltree::Document::parse(&svg).expect("the SVG parses as XML");
    let n = packets(&r, &o);
    assert!(n > 0 && n < packets(&r, &Options::default()));
    assert_eq!(groups(&doc, "arrow").len(), n);
    let m = diagram::mermaid(&s, &r, &o);
    assert_eq!(mermaid_messages(&m), n);
}

#[test]
fn pings_collapse_faults_band_and_closes_cross() {
    let s = partitioned();
    let r = run(&s);
    let o = Options::default();
    let svg = diagram::svg(&s, &r, &o);
    let doc = roxmltree::Document::parse(&svg).expect("the SVG parses as XML");
    let runs = groups(&doc, "pings");
    assert!(!runs.is_empty(), "pings every second are collapsed");
    let label = runs
        .iter()
        .flat_map(|g| g.descendants())
        .filter_map(|n| n.text())
        .find(|t| t.contains("x PINGREQ"));
    assert!(label.is_some(), "the ping marker is labelled");
    assert_eq!(
        groups(&doc, "arrow").len() + pinged_packets(&doc),
        packets(&r, &o)
    );
    let bands = groups(&doc, "fault");
    assert_eq!(bands.len(), 1, "one partition, healed once");
    let band_title = bands[0]
        .children()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap_or_default();
    assert!(band_title.contains("until 5.000s"), "{band_title}");
    let closes = count_events(&r, &o, |k| matches!(k, EventKind::Closed { .. }));
    assert!(closes >= 1, "keep-alive ends the stalled connection");
    assert_eq!(groups(&doc, "close").len(), closes);

    let m = diagram::mermaid(&s, &r, &o);
    assert!(m.starts_with("sequenceDiagram\n"));
    assert_eq!(mermaid_messages(&m) + pinged_packets(&doc), packets(&r, &o));
    assert!(m.contains("partition device"), "{m}");
}

#[test]
fn failed_expectation_is_highlighted_and_closest_events_marked() {
    let s = flapping_failing();
    let r = run(&s);
    assert!(!r.ok());
    let svg = diagram::svg(&s, &r, &Options::default());
    let doc = roxmltree::Document::parse(&svg).expect("the SVG parses as XML");
    let failed = groups(&doc, "failed");
    assert_eq!(failed.len(), 1);
    let text: String = failed[0]
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("expect line 42"), "{text}");
    let marked = groups(&doc, "closest");
    assert!(!marked.is_empty(), "the closest events are marked");
    assert!(marked.len() <= 3);

    let passing = diagram::svg(&flapping(), &run(&flapping()), &Options::default());
    let doc = roxmltree::Document::parse(&passing).expect("the SVG parses as XML");
    assert!(groups(&doc, "failed").is_empty());
    assert!(groups(&doc, "closest").is_empty());
}

#[test]
fn mermaid_has_one_message_line_per_packet() {
    let s = flapping();
    let r = run(&s);
    let o = Options::default();
    let m = diagram::mermaid(&s, &r, &o);
    assert!(m.starts_with("sequenceDiagram\n"));
    assert_eq!(mermaid_messages(&m), packets(&r, &o));
    assert!(m.contains("participant h1 as broker"));
    assert!(m.contains("closed by broker"));
}

#[test]
fn html_page_holds_the_svg_trace_and_expectations_without_scripts() {
    let s = flapping_failing();
    let r = run(&s);
    let page = diagram::html(&s, &r, &Options::default());
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg"));
    assert!(page.contains("line 42: FAIL"));
    assert!(page.contains("takeover: closing old connection"));
    assert!(!page.to_lowercase().contains("<script"));
    let body = page.trim_start_matches("<!DOCTYPE html>");
    roxmltree::Document::parse(body).expect("the page is well-formed XML");
}

/// Where `look_at_diagrams` writes its files.
fn shots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("diagram-shots")
}

/// Renders the example diagrams to PNG with headless Chromium, for a person
/// to look at. Needs `chromium` on the PATH (Debian: `apt-get install
/// chromium`). Run with
/// `cargo test --test diagram -- --ignored look_at_diagrams --nocapture`;
/// it prints where the SVG and PNG files are.
#[test]
#[ignore = "needs chromium; renders PNGs for a person to look at"]
fn look_at_diagrams() {
    let dir = shots_dir();
    std::fs::create_dir_all(&dir).expect("create the output directory");
    let cases = [
        ("flapping", flapping(), Options::default()),
        (
            "flapping-2s-5s",
            flapping(),
            Options {
                from: Some(ms(2000)),
                to: Some(ms(5000)),
            },
        ),
        ("partitioned", partitioned(), Options::default()),
        ("flapping-failing", flapping_failing(), Options::default()),
    ];
    for (name, s, o) in cases {
        let r = run(&s);
        let svg_path = dir.join(format!("{name}.svg"));
        let png_path = dir.join(format!("{name}.png"));
        std::fs::write(&svg_path, diagram::svg(&s, &r, &o)).expect("write the SVG");
        screenshot(&svg_path, &png_path);
        println!("{} -> {}", svg_path.display(), png_path.display());
    }
}

fn screenshot(svg: &std::path::Path, png: &std::path::Path) {
    let profile = shots_dir().join("chromium-profile");
    let status = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1400,2000")
        .arg(format!("file://{}", svg.display()))
        .status()
        .expect("run chromium");
    assert!(status.success(), "chromium failed on {}", svg.display());
}
