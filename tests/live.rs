//! The live runner against the project's own reference broker, served on a
//! real loopback port by a thread of this test process. Each scenario lasts
//! a second or two of real time.

use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use mqtt_sim::broker::{Broker, BrokerConfig};
use mqtt_sim::live::{self, LiveOptions, Outcome, Target};
use mqtt_sim::scenario::{self, Scenario};
use mqtt_sim::trace::{EventKind, Report, render};

/// Serves a fresh reference broker on 127.0.0.1 and returns its address.
/// The thread lives until the test process ends.
fn serve_reference() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            let addr = listener.local_addr().expect("an address");
            tx.send(addr.to_string()).expect("the test waits");
            let broker = Broker::new(BrokerConfig::default(), Rc::new(|_| {}));
            let _ = broker.serve(listener).await;
        });
    });
    rx.recv().expect("the broker thread sends its address")
}

fn parse(text: &str) -> Scenario {
    // `live`, the default target name, is a name the user gave.
    scenario::parse_with(text, Path::new("live-test.yaml"), &["live".into()])
        .expect("a valid scenario")
}

fn options(addr: String, tolerance_ms: u64) -> LiveOptions {
    let mut o = LiveOptions::new(Target::Addr(addr));
    o.tolerance = Duration::from_millis(tolerance_ms);
    o
}

fn ran(outcome: Outcome) -> Report {
    match outcome {
        Outcome::Ran(r) => r,
        Outcome::Skipped(why) => panic!("skipped: {why}"),
    }
}

const PUBSUB: &str = r#"
duration: 800ms
brokers: {broker: {}}
clients:
  sub:
    steps:
      - connect: {}
      - subscribe: {filter: t/#, qos: 1}
  pub:
    steps:
      - {at: 300ms, connect: {}}
      - publish: {topic: t/1, payload: hi, qos: 1}
expect:
  - client: sub
    recv: {type: SUBACK, codes: [1]}
  - client: sub
    receives: {topic: t/1, payload: hi, qos: 1}
    count: 1
    within: [300ms, 350ms]
  - client: pub
    recv: {type: PUBACK}
"#;

#[test]
fn pubsub_passes_live() {
    let report = ran(live::run(&parse(PUBSUB), &options(serve_reference(), 150)));
    assert!(report.ok(), "{}", render::text(&report));
    assert_eq!(report.verdicts.len(), 3);
    // The trace is real: CONNACKs came from the broker over TCP.
    let connacks = report
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Recv { packet, .. } if packet.type_name() == "CONNACK"))
        .count();
    assert_eq!(connacks, 2, "{}", render::text(&report));
}

#[test]
fn will_on_drop_passes_live() {
    let s = parse(
        r#"
duration: 1s
brokers: {broker: {}}
clients:
  observer:
    steps:
      - connect: {}
      - subscribe: {filter: will/#, qos: 0}
  sensor:
    will: {topic: will/sensor, payload: gone}
    steps:
      - {at: 200ms, connect: {}}
      - {at: 500ms, drop: {}}
expect:
  - client: observer
    receives: {topic: will/sensor, payload: gone}
    count: 1
    within: [500ms, 550ms]
"#,
    );
    let report = ran(live::run(&s, &options(serve_reference(), 150)));
    assert!(report.ok(), "{}", render::text(&report));
}

/// A partition through the proxy stalls the open connection: nothing tells
/// either side, the broker's keep-alive expires 1.5 x 1s after the last
/// packet and publishes the will, and the client gives up when its PINGREQ
/// goes unanswered. A connect during the partition is refused.
#[test]
fn partition_makes_keep_alive_expire() {
    let s = parse(
        r#"
duration: 2500ms
brokers: {broker: {}}
clients:
  observer:
    steps:
      - connect: {}
      - subscribe: {filter: will/#, qos: 0}
  sensor:
    keep_alive: 1s
    will: {topic: will/sensor, payload: lost}
    steps:
      - connect: {}
  late:
    steps:
      - {at: 500ms, connect: {}}
faults:
  - {at: 200ms, partition: [sensor, broker]}
  - {at: 200ms, partition: [late, broker]}
expect:
  - client: observer
    receives: {topic: will/sensor, payload: lost}
    count: 1
    within: [1.5s, 1.6s]
  - client: sensor
    closed: {by: broker}
    count: 0
  - client: sensor
    closed: {by: client}
    count: 1
    within: [2s, 2.1s]
"#,
    );
    let report = ran(live::run(&s, &options(serve_reference(), 150)));
    assert!(report.ok(), "{}", render::text(&report));
    let refused = report.events.iter().any(|e| {
        matches!(&e.kind, EventKind::ConnectFailed { client, error } if client == "late" && error.contains("refused"))
    });
    assert!(refused, "{}", render::text(&report));
}

/// Held messages arrive on release, in order, and not before.
#[test]
fn hold_delivers_on_release_in_order() {
    let s = parse(
        r#"
duration: 1200ms
brokers: {broker: {}}
clients:
  sub:
    steps:
      - connect: {}
      - subscribe: {filter: t, qos: 0}
  pub:
    steps:
      - {at: 100ms, connect: {}}
      - {at: 400ms, publish: {topic: t, payload: one}}
      - publish: {topic: t, payload: two}
faults:
  - {at: 300ms, hold: [sub, broker]}
  - {at: 800ms, release: [sub, broker]}
expect:
  - client: sub
    receives: {topic: t}
    count: 0
    within: [0s, 600ms]
  - client: sub
    receives: {topic: t}
    count: 2
    within: [800ms, 850ms]
"#,
    );
    // The tolerance must stay below the 200ms between the two windows.
    let report = ran(live::run(&s, &options(serve_reference(), 150)));
    assert!(report.ok(), "{}", render::text(&report));
    let payloads: Vec<String> = report
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Recv {
                client,
                packet: mqtt_sim::wire::Packet::Publish(p),
                ..
            } if client == "sub" => Some(String::from_utf8_lossy(&p.payload).into_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(payloads, ["one", "two"]);
}

#[test]
fn broker_crash_is_skipped_with_reason() {
    let s = parse(
        r#"
duration: 1s
brokers: {broker: {}}
clients:
  a:
    steps: [connect: {}]
faults:
  - {at: 500ms, crash: broker}
"#,
    );
    match live::run(&s, &options("127.0.0.1:9".into(), 0)) {
        Outcome::Skipped(why) => {
            assert!(why.contains("crash: broker"), "{why}");
            assert!(why.contains("--target-cmd"), "{why}");
        }
        Outcome::Ran(r) => panic!("ran:\n{}", render::text(&r)),
    }
}

#[test]
fn non_default_broker_options_skip_unless_the_profile_configures_them() {
    let text = r#"
duration: 1s
brokers: {broker: {max_qos: 1}}
clients:
  a:
    steps: [connect: {}]
expect:
  - client: a
    connack: {code: 0}
"#;
    let opts = options("127.0.0.1:9".into(), 0);
    match live::run(&parse(text), &opts) {
        Outcome::Skipped(why) => assert!(why.contains("max_qos: 1"), "{why}"),
        Outcome::Ran(r) => panic!("ran:\n{}", render::text(&r)),
    }
    let long = text.replace("duration: 1s", "duration: 2m");
    match live::run(&parse(&long), &opts) {
        Outcome::Skipped(why) => assert!(why.contains("--duration-max"), "{why}"),
        Outcome::Ran(r) => panic!("ran:\n{}", render::text(&r)),
    }
    // Naming the target in only_for no longer vouches for its
    // configuration: a profile that lists the option does.
    let named = text.replace("  - client: a", "  - only_for: [live]\n    client: a");
    match live::run(&parse(&named), &opts) {
        Outcome::Skipped(why) => assert!(why.contains("--target-profile"), "{why}"),
        Outcome::Ran(r) => panic!("ran:\n{}", render::text(&r)),
    }
    let mut o = options(serve_reference(), 0);
    o.profile = Some(std::sync::Arc::new(
        mqtt_sim::profile::Profile::parse(
            "name: qos1-broker\nprotocols: [\"3.1.1\"]\noptions: [max_qos]\n",
            "test",
        )
        .expect("a valid profile"),
    ));
    let report = ran(live::run(&parse(text), &o));
    assert!(report.ok(), "{}", render::text(&report));
}

/// The message arrives about 300ms after the start; a window that ends at
/// 100ms fails without tolerance and passes with 400ms of it, and the
/// verdict says how far outside the window the event was.
#[test]
fn tolerance_widens_within_windows() {
    let s = parse(
        r#"
duration: 600ms
brokers: {broker: {}}
clients:
  sub:
    steps:
      - connect: {}
      - subscribe: {filter: t, qos: 0}
  pub:
    steps:
      - {at: 300ms, connect: {}}
      - publish: {topic: t, payload: late}
expect:
  - client: sub
    receives: {topic: t, payload: late}
    count: 1
    within: [0s, 100ms]
"#,
    );
    let addr = serve_reference();
    // An untagged window is the reference's choice: against a live target
    // it differs rather than fails, so the verdicts are what to read.
    let strict = ran(live::run(&s, &options(addr.clone(), 0)));
    assert!(!strict.verdicts[0].ok, "{}", render::text(&strict));
    let loose = ran(live::run(&s, &options(addr, 400)));
    assert!(loose.verdicts[0].ok, "{}", render::text(&loose));
    let text = &loose.verdicts[0].text;
    assert!(text.contains("give or take 400ms"), "{text}");
    let off_ms: u64 = text
        .split("up to ")
        .nth(1)
        .and_then(|r| r.split("ms").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no distance in {text}"));
    assert!((190..390).contains(&off_ms), "{text}");
}

/// One way only: the broker hears nothing from the client and expires it,
/// and the close does reach the client, since the other direction is open.
#[test]
fn one_way_partition_lets_the_close_through() {
    let s = parse(
        r#"
duration: 2s
brokers: {broker: {}}
clients:
  sensor:
    keep_alive: 1s
    steps:
      - connect: {}
faults:
  - {at: 200ms, partition: {from: sensor, to: broker}}
expect:
  - client: sensor
    send: {type: PINGREQ}
    count: 1
    within: [1s, 1.05s]
  - client: sensor
    recv: {type: PINGRESP}
    count: 0
  - client: sensor
    closed: {by: broker}
    count: 1
    within: [1.5s, 1.6s]
"#,
    );
    let report = ran(live::run(&s, &options(serve_reference(), 150)));
    assert!(report.ok(), "{}", render::text(&report));
}

/// A broker that answers CONNECT with CONNACK (session present 0) and
/// PINGREQ with PINGRESP until `wedged` is set; from then on it accepts
/// connections and reads them but never answers, as a hung broker does.
fn serve_fake(wedged: std::sync::Arc<std::sync::atomic::AtomicBool>) -> String {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("an address").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let wedged = wedged.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    let mut head = [0u8; 2];
                    if s.read_exact(&mut head).is_err() {
                        return;
                    }
                    // Remaining lengths here are under 128: one byte.
                    let len = usize::from(head[1] & 0x7f);
                    if s.read_exact(&mut buf[..len]).is_err() {
                        return;
                    }
                    if wedged.load(Ordering::SeqCst) {
                        continue;
                    }
                    let answer: &[u8] = match head[0] >> 4 {
                        1 => &[0x20, 0x02, 0x00, 0x00],
                        12 => &[0xd0, 0x00],
                        14 => return,
                        _ => &[],
                    };
                    if s.write_all(answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

const CONNECTS: &str = r#"
duration: 600ms
brokers: {broker: {}}
clients:
  a:
    keep_alive: 0s
    steps:
      - {at: 100ms, connect: {}}
expect:
  - client: a
    connack: {code: 0}
"#;

/// Passes on any broker that accepts TCP: its only expectation is that
/// the broker does not close the connection. (A `receives` nothing could
/// deliver, which it was, is now refused as a matcher that can never
/// match.)
const EXPECTS_NOTHING: &str = r##"
duration: 600ms
brokers: {broker: {}}
clients:
  a:
    keep_alive: 0s
    steps:
      - {at: 300ms, connect: {}}
expect:
  - client: a
    closed: {by: broker}
    count: 0
"##;

/// A broker that stops answering mid-lane: no scenario after that point
/// passes, not even one whose expectations an empty trace meets, and the
/// reason names the target, not the scenario.
#[test]
fn a_wedged_broker_fails_every_scenario_after_it_never_passes_one() {
    use std::sync::atomic::Ordering;
    let wedged = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let addr = serve_fake(wedged.clone());
    let mut lane = live::Lane::new(options(addr, 150));
    for text in [CONNECTS, EXPECTS_NOTHING] {
        let r = ran(lane.run(&parse(text)));
        assert!(r.ok(), "{}", render::text(&r));
    }
    // It wedges during this run: the run's own verdicts would pass, but
    // the broker does not answer after it, so the result is not trusted.
    let w = wedged.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        w.store(true, Ordering::SeqCst);
    });
    let during = ran(lane.run(&parse(EXPECTS_NOTHING)));
    assert!(!during.ok(), "{}", render::text(&during));
    let why = during.harness_error.clone().unwrap_or_default();
    assert!(why.contains("stopped answering"), "{why}");
    for text in [EXPECTS_NOTHING, CONNECTS, EXPECTS_NOTHING] {
        let r = ran(lane.run(&parse(text)));
        assert!(!r.ok(), "{}", render::text(&r));
        let why = r.harness_error.clone().unwrap_or_default();
        assert!(why.starts_with("target unhealthy"), "{why}");
    }
    assert!(lane.unhealthy().is_some());
}

/// A broker the harness started that dies between scenarios is started
/// again, said in the lane's notes, and the next scenario runs on it.
#[test]
fn a_started_broker_that_dies_is_restarted_and_named() {
    let bin = env!("CARGO_BIN_EXE_mqtt-sim");
    let mut o = options(String::new(), 150);
    o.target = Target::Command(format!("exec {bin} serve --listen 127.0.0.1:{{port}}"));
    let mut lane = live::Lane::new(o);
    let r = ran(lane.run(&parse(CONNECTS)));
    assert!(r.ok(), "{}", render::text(&r));
    assert!(lane.take_notes().is_empty());
    // Kill the lane's broker behind its back.
    let pid = lane.broker_pid().expect("the lane started a broker");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(100));
    let r = ran(lane.run(&parse(CONNECTS)));
    assert!(r.ok(), "{}", render::text(&r));
    let notes = lane.take_notes();
    assert!(notes.iter().any(|n| n.contains("restarted")), "{notes:?}");
}
