//! The diagram command's output: SVG structure, Mermaid lines, HTML page.
//!
//! Scenarios are built in code here; see `look_at_diagrams` at the end for
//! rendering them to PNG with a headless browser.

use std::path::PathBuf;
use std::time::Duration;

use mqtt_sim::diagram::{self, Options};
use mqtt_sim::scenario::{self, DurationSpec, Scenario};
use mqtt_sim::sim;
use mqtt_sim::trace::{EventKind, Report};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn load(path: &str) -> Scenario {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    scenario::load(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Loads a scenario written here, through the real parser.
fn load_text(name: &str, yaml: &str) -> Scenario {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("diagram-scenarios");
    std::fs::create_dir_all(&dir).expect("create the scenario directory");
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).expect("write the scenario");
    scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The tutorial's flapping pair: two clients with one client id push each
/// other off every second, for 10 s.
fn flapping() -> Scenario {
    load("scenarios/tutorial/duplicate-client-id.yaml")
}

/// One client pinging every second; a partition from 3 s to 5 s stalls the
/// connection until keep-alive gives up, then it reconnects.
const PARTITIONED: &str = "
name: partition and keep-alive
duration: 12s
brokers:
  broker: {}
clients:
  device:
    keep_alive: 1s
    reconnect: 500ms
    steps:
      - connect: {}
faults:
  - at: 3s
    partition: [device, broker]
  - at: 5s
    heal: [device, broker]
";

fn partitioned() -> Scenario {
    load_text("partitioned", PARTITIONED)
}

/// The flapping pair with an expectation that cannot hold.
fn flapping_yaml() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/tutorial/duplicate-client-id.yaml"),
    )
    .expect("read the tutorial scenario")
}

fn flapping_failing() -> Scenario {
    let yaml = format!(
        "{}  - client: a\n    closed: {{by: client}}\n    count: 1\n",
        flapping_yaml()
    );
    load_text("flapping-failing", &yaml)
}

/// The line of the expectation [`flapping_failing`] appends.
fn failing_line() -> usize {
    flapping_yaml().lines().count() + 1
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
    assert_eq!(closes, 10, "the tutorial's expectations say 5 + 5");
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
    let want = format!("FAIL expect line {}", failing_line());
    assert!(text.contains(&want), "{text}");
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
    let want = format!("line {}: FAIL", failing_line());
    assert!(page.contains(&want), "{page}");
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
        .arg(format!("--window-size={}", window_size(svg)))
        .arg(format!("file://{}", svg.display()))
        .status()
        .expect("run chromium");
    assert!(status.success(), "chromium failed on {}", svg.display());
}

/// The SVG's own width and height, so that the screenshot shows all of it.
fn window_size(svg: &std::path::Path) -> String {
    let text = std::fs::read_to_string(svg).expect("read the SVG");
    let doc = roxmltree::Document::parse(&text).expect("the SVG parses");
    let dim = |name: &str| {
        doc.root_element()
            .attribute(name)
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(1400, |v| v.ceil() as u64)
    };
    format!("{},{}", dim("width"), dim("height"))
}

#[test]
fn a_huge_trace_is_cut_at_the_item_limit_and_says_so() {
    let s = flapping();
    let publish = |i: usize| mqtt_sim::trace::Event {
        at: ms(i as u64),
        kind: EventKind::Send {
            client: "a".into(),
            packet: mqtt_sim::wire::Packet::PubAck(mqtt_sim::wire::Ack::new(1)),
            level: mqtt_sim::wire::LEVEL_V311,
        },
    };
    let n = diagram::model::ITEMS_MAX + 10;
    let r = Report {
        seed: 0,
        end: ms(n as u64),
        events: (0..n).map(publish).collect(),
        dropped: 0,
        verdicts: vec![],
        violations: vec![],
        harness_error: None,
    };
    let d = diagram::build(&s, &r, &Options::default());
    assert_eq!(d.items.len(), diagram::model::ITEMS_MAX);
    assert_eq!(d.omitted, 10);
    let svg = diagram::svg(&s, &r, &Options::default());
    assert!(svg.contains("10 events not drawn"));
}

/// The laid-out groups of `s`'s run, whole window.
fn laid_out(s: &Scenario) -> diagram::layout::Layout {
    let d = diagram::build(s, &run(s), &Options::default());
    diagram::layout::layout(&d)
}

fn lifeline_x(l: &diagram::layout::Layout, host: &str) -> f64 {
    l.groups
        .iter()
        .filter(|g| g.data.iter().any(|(k, v)| *k == "host" && v == host))
        .find_map(|g| match g.shapes.first() {
            Some(diagram::layout::Shape::Line { x1, .. }) => Some(*x1),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no lifeline for {host}"))
}

#[test]
fn events_in_the_same_millisecond_get_rows_of_their_own() {
    use diagram::layout::{Anchor, Shape};
    // A resumed session: CONNACK and three queued PUBLISH arrive in one
    // millisecond, and three PUBACK leave in it.
    let l = laid_out(&load("scenarios/session/offline-queue.yaml"));
    let sub = lifeline_x(&l, "sub");
    let mut ends_at_sub: Vec<f64> = Vec::new();
    let mut labels: Vec<(f64, f64, f64, String)> = Vec::new();
    for g in l.groups.iter().filter(|g| g.class.starts_with("arrow")) {
        for shape in &g.shapes {
            match shape {
                Shape::Arrow { x1, y1, x2, y2, .. } => {
                    if (*x2 - sub).abs() < 0.5 {
                        ends_at_sub.push(*y2);
                    }
                    if (*x1 - sub).abs() < 0.5 {
                        ends_at_sub.push(*y1);
                    }
                }
                Shape::Text {
                    x, y, text, anchor, ..
                } => {
                    let w = text.chars().count() as f64 * 6.7;
                    let x0 = match anchor {
                        Anchor::Start => *x,
                        Anchor::Middle => *x - w / 2.0,
                        Anchor::End => *x - w,
                    };
                    labels.push((x0, x0 + w, *y, text.clone()));
                }
                _ => {}
            }
        }
    }
    ends_at_sub.sort_by(f64::total_cmp);
    assert!(ends_at_sub.len() >= 11, "{ends_at_sub:?}");
    for pair in ends_at_sub.windows(2) {
        assert!(
            pair[1] - pair[0] >= diagram::axis::ROW_MIN_PX - 0.01,
            "two arrow ends on sub's lifeline share a row: {ends_at_sub:?}"
        );
    }
    for (i, a) in labels.iter().enumerate() {
        for b in labels.iter().skip(i + 1) {
            let overlap = a.0 < b.1 && b.0 < a.1 && (a.2 - b.2).abs() < 11.0;
            assert!(!overlap, "labels print over each other: {a:?} and {b:?}");
        }
    }
}

#[test]
fn a_partition_band_covers_only_the_lifelines_it_cuts() {
    use diagram::layout::Shape;
    let s = load("scenarios/faults/oneway-partition-heal-all.yaml");
    let l = laid_out(&s);
    let (observer, broker, sensor) = (
        lifeline_x(&l, "observer"),
        lifeline_x(&l, "broker"),
        lifeline_x(&l, "sensor"),
    );
    let bands: Vec<(f64, f64)> = l
        .groups
        .iter()
        .filter(|g| g.class == "fault")
        .filter_map(|g| match g.shapes.first() {
            Some(Shape::Rect { x, w, .. }) => Some((*x, *x + *w)),
            _ => None,
        })
        .collect();
    assert!(!bands.is_empty());
    for (x0, x1) in bands {
        assert!(
            x0 < broker && sensor < x1,
            "the band covers broker and sensor"
        );
        assert!(observer < x0, "the band leaves observer's lifeline clear");
    }
}

#[test]
fn broker_notes_fit_the_picture_and_the_page_does_not_clip_it() {
    use diagram::layout::Shape;
    let s = load("scenarios/faults/oneway-partition-heal-all.yaml");
    let l = laid_out(&s);
    let mut notes = 0;
    for g in l.groups.iter().filter(|g| g.class.starts_with("note")) {
        for shape in &g.shapes {
            if let Shape::Text { x, text, .. } = shape {
                notes += 1;
                let end = x + text.chars().count() as f64 * 6.1;
                assert!(end <= l.width, "`{text}` ends at {end}, past {}", l.width);
            }
        }
    }
    assert!(notes > 0);
    // The page scales the picture to its width instead of scrolling it,
    // which hid the notes at its right edge.
    let page = diagram::html(&s, &run(&s), &Options::default());
    assert!(page.contains(".figure svg { max-width: 100%; height: auto;"));
    assert!(
        !page.contains("overflow-x: auto; border"),
        "the figure must not scroll"
    );
}

/// A folded run of pings is drawn from its client to the next lifeline
/// towards the broker (pinger and talker left of the broker, the other two
/// right of it), never across a third host's lifeline, and under the
/// messages, so that another client's PUBLISH label stays on top.
#[test]
fn a_ping_box_stays_off_other_lifelines_and_under_the_messages() {
    let s = load_text(
        "pings beside traffic",
        "
name: pings beside traffic
duration: 10s
brokers:
  broker: {}
clients:
  pinger:
    keep_alive: 1s
    steps:
      - connect: {}
  talker:
    steps:
      - connect: {}
      - {at: 4s, publish: {topic: news, payload: hello}}
  reader:
    steps:
      - connect: {}
      - subscribe: {filter: news}
  idle:
    steps:
      - connect: {}
",
    );
    let l = laid_out(&s);
    let (pinger, talker, broker) = (
        lifeline_x(&l, "pinger"),
        lifeline_x(&l, "talker"),
        lifeline_x(&l, "broker"),
    );
    assert!(
        pinger < talker && talker < broker,
        "{pinger} {talker} {broker}"
    );
    let boxes: Vec<(usize, f64, f64)> = l
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.class == "pings")
        .flat_map(|(i, g)| {
            g.shapes.iter().filter_map(move |sh| match sh {
                diagram::layout::Shape::Rect { x, w, class, .. } if *class == "pings-box" => {
                    Some((i, *x, *x + *w))
                }
                _ => None,
            })
        })
        .collect();
    assert!(!boxes.is_empty(), "pinger's pings are folded");
    let first_arrow = l
        .groups
        .iter()
        .position(|g| g.class.starts_with("arrow"))
        .expect("talker's packets are arrows");
    for (i, x0, x1) in boxes {
        assert!(
            pinger <= x0 && x1 < talker,
            "the box {x0}..{x1} covers talker's lifeline at {talker}"
        );
        assert!(i < first_arrow, "the box is drawn over an arrow");
    }
}
