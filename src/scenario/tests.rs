//! Parser tests: each error class at its exact line and column, a full file
//! into the model, and mangled input that must give errors, not panics.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::error::{Error, ErrorKind};

const FULL: &str = include_str!("../../tests/fixtures/scenario/full.yaml");

fn ok(src: &str) -> Scenario {
    match parse(src, Path::new("scenarios/t.yaml")) {
        Ok(s) => s,
        Err(e) => panic!("expected a scenario, got: {e}"),
    }
}

fn err(src: &str) -> Error {
    match parse(src, Path::new("scenarios/t.yaml")) {
        Ok(s) => panic!("expected an error, got: {s:?}"),
        Err(e) => e,
    }
}

/// Asserts an error's kind, exact position and a fragment of its message.
#[track_caller]
fn assert_err(src: &str, line: usize, column: usize, fragment: &str) {
    let e = err(src);
    assert_eq!(e.kind, ErrorKind::Scenario, "{e}");
    let loc = e
        .location
        .clone()
        .unwrap_or_else(|| panic!("no location: {e}"));
    assert_eq!(loc.file, Path::new("scenarios/t.yaml"));
    assert_eq!(
        (loc.line, loc.column),
        (line, column),
        "wrong position for: {e}"
    );
    let text = e.to_string();
    assert!(text.contains(fragment), "{text:?} lacks {fragment:?}");
}

/// A valid file's head; tests append to its last client `a`.
const HEAD: &str = "duration: 10s\nbrokers: {broker: {}}\nclients:\n  a:\n";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---- errors, one per class -------------------------------------------------

#[test]
fn typo_in_a_nested_step_key() {
    let src = format!("{HEAD}    steps:\n      - subscribe: {{filtr: a}}\n");
    assert_err(&src, 6, 21, "unknown field `filtr`, expected one of");
}

#[test]
fn unknown_step_name() {
    let src = format!("{HEAD}    steps:\n      - subscrib: {{filter: a}}\n");
    assert_err(
        &src,
        6,
        9,
        "unknown step `subscrib`, expected one of `connect`, `disconnect`, `drop`, `silence`, \
         `resume`, `subscribe`, `unsubscribe`, `publish`, `send`",
    );
    let e = err(&src);
    assert_eq!(e.message, "clients.a.steps[0]: unknown step `subscrib`");
    assert_eq!(e.help.as_deref(), Some("did you mean `subscribe`?"));
}

#[test]
fn step_with_no_action_or_two_actions() {
    let none = format!("{HEAD}    steps:\n      - at: 1s\n");
    assert_err(
        &none,
        6,
        9,
        "this step has no action, expected one of `connect`",
    );
    let two = format!("{HEAD}    steps:\n      - drop: {{}}\n        silence: {{}}\n");
    assert_err(
        &two,
        6,
        9,
        "exactly one action, but this one has `drop` and `silence`",
    );
}

#[test]
fn unknown_host_in_a_fault() {
    let src = format!("{HEAD}    steps: []\nfaults:\n  - at: 1s\n    crash: brokr\n");
    assert_err(
        &src,
        8,
        12,
        "unknown host `brokr` in `crash`, expected `broker` or `a`",
    );
    let pair = format!("{HEAD}    steps: []\nfaults:\n  - at: 1s\n    partition: [a, brokr]\n");
    assert_err(&pair, 8, 20, "unknown host `brokr` in `partition`");
}

#[test]
fn unknown_client_in_an_expectation() {
    let src =
        format!("{HEAD}    steps: []\nexpect:\n  - client: obsrver\n    receives: {{topic: t}}\n");
    assert_err(
        &src,
        7,
        13,
        "unknown client `obsrver` in expectation, expected `a`",
    );
}

#[test]
fn client_without_broker_when_there_are_two() {
    let src = "duration: 10s\nbrokers: {b1: {}, b2: {}}\nclients:\n  a: {}\n";
    assert_err(
        src,
        4,
        3,
        "client `a` has no `broker`, and there are 2 brokers (b1, b2)",
    );
}

#[test]
fn bare_number_where_a_duration_is_needed() {
    assert_err(
        "duration: 10\n",
        1,
        11,
        "a duration needs a unit, e.g. `2s` or `250ms` (a bare number is only allowed for 0)",
    );
    let nested = format!("{HEAD}    reconnect: 5\n");
    assert_err(&nested, 5, 16, "a duration needs a unit");
}

#[test]
fn clean_start_under_311_and_clean_session_under_5() {
    let src = format!("{HEAD}    clean_start: true\n");
    assert_err(
        &src,
        5,
        5,
        "`clean_start` is a 5.0 option; under 3.1.1 write `clean_session`",
    );
    let v5 =
        format!("{HEAD}    protocol: 5.0\n    steps:\n      - connect: {{clean_session: true}}\n");
    assert_err(
        &v5,
        7,
        19,
        "`clean_session` is a 3.1.1 option; under 5.0 write `clean_start`",
    );
}

#[test]
fn five_only_options_under_311() {
    let expiry = format!("{HEAD}    session_expiry: 10s\n");
    assert_err(&expiry, 5, 5, "`session_expiry` is a 5.0 option");
    let delay = format!("{HEAD}    will: {{topic: w, delay: 1s}}\n");
    assert_err(&delay, 5, 22, "`delay` is a 5.0 option");
    let reason = format!("{HEAD}    steps:\n      - disconnect: {{reason: 0x04}}\n");
    assert_err(&reason, 6, 22, "`reason` is a 5.0 option");
}

#[test]
fn invalid_range() {
    let src = format!("{HEAD}    reconnect: 2s..1s\n");
    assert_err(&src, 5, 16, "invalid range `2s..1s`");
    let fixed = format!("{HEAD}    keep_alive: 1s..2s\n");
    assert_err(&fixed, 5, 17, "a range (`1s..2s`) is not accepted here");
}

#[test]
fn invalid_qos() {
    let src = format!("{HEAD}    steps:\n      - subscribe: {{filter: a, qos: 3}}\n");
    assert_err(&src, 6, 37, "invalid QoS 3, expected one of `0`, `1`, `2`");
}

#[test]
fn invalid_host_name() {
    let src = "duration: 10s\nbrokers: {broker: {}}\nclients:\n  Sensor: {}\n";
    assert_err(src, 4, 3, "invalid host name `Sensor`");
    let reserved = "duration: 10s\nbrokers: {clients: {}}\nclients:\n  a: {}\n";
    assert_err(reserved, 2, 11, "`clients` cannot be a host name");
}

#[test]
fn duplicate_host_across_brokers_and_clients() {
    let src = "duration: 10s\nbrokers: {a: {}}\nclients:\n  a: {}\n";
    assert_err(src, 4, 3, "duplicate host `a`");
    let within = "duration: 10s\nbrokers: {broker: {}}\nclients:\n  a: {}\n  a: {}\n";
    assert_err(within, 5, 3, "duplicate host `a`");
}

#[test]
fn missing_duration() {
    assert_err(
        "brokers: {broker: {}}\nclients: {a: {}}\n",
        1,
        1,
        "`duration` is required",
    );
}

#[test]
fn malformed_yaml() {
    assert_err(
        "duration: 10s\nbrokers: {broker: {}\nclients: {a: {}}\n",
        2,
        10,
        "did not find expected ',' or '}' on line 3: a flow mapping starts here and is not closed",
    );
    assert_err(
        &format!("{HEAD}    steps: []\n\tx: 1\n"),
        6,
        1,
        "a tab in the indentation",
    );
    // An unclosed flow map at the end of the file points at its `{`.
    assert_err(
        "duration: 10s\nbrokers: {broker: {}\n",
        2,
        10,
        "a flow mapping starts here and is not closed",
    );
    // A duplicate key points at its second occurrence.
    assert_err(
        "duration: 10s\nbrokers: {broker: {}}\nduration: 5s\nclients: {a: {}}\n",
        3,
        1,
        "duplicate field `duration`: this key is already given above",
    );
}

#[test]
fn unknown_top_level_key_and_second_document() {
    let src = format!("{HEAD}    steps: []\nexpct: []\n");
    assert_err(&src, 6, 1, "unknown field `expct`");
    let two = format!("{HEAD}    steps: []\n---\nduration: 1s\n");
    assert_err(&two, 6, 1, "one YAML document");
}

#[test]
fn keep_alive_must_fit_the_wire() {
    assert_err(
        &format!("{HEAD}    keep_alive: 1.5s\n"),
        5,
        17,
        "whole number of seconds",
    );
    assert_err(&format!("{HEAD}    keep_alive: 70000s\n"), 5, 17, "65535");
}

#[test]
fn payload_errors() {
    let size =
        format!("{HEAD}    steps:\n      - publish: {{topic: t, payload: {{size: 2000000}}}}\n");
    assert_err(&size, 6, 45, "at most 1048576 bytes");
    let hex = format!("{HEAD}    steps:\n      - send: {{hex: \"abc\"}}\n");
    assert_err(&hex, 6, 21, "odd number of digits");
}

#[test]
fn fault_checks() {
    let restart = format!("{HEAD}    steps: []\nfaults:\n  - at: 1s\n    restart: a\n");
    assert_err(
        &restart,
        8,
        14,
        "`restart` must name a broker; `a` is a client",
    );
    let no_at = format!("{HEAD}    steps: []\nfaults:\n  - crash: a\n");
    assert_err(&no_at, 7, 5, "a fault needs `at`");
    let heal = format!("{HEAD}    steps: []\nfaults:\n  - at: 1s\n    heal: some\n");
    assert_err(&heal, 8, 11, "expected two hosts `[a, b]` or `all`");
    let three = format!("{HEAD}    steps: []\nfaults:\n  - at: 1s\n    hold: [a, broker, a]\n");
    assert_err(&three, 8, 11, "`hold` needs two hosts");
    let unknown = format!("{HEAD}    steps: []\nfaults:\n  - at: 1s\n    explode: a\n");
    assert_err(
        &unknown,
        8,
        5,
        "unknown fault `explode`, expected one of `partition`, `heal`",
    );
}

#[test]
fn expectation_checks() {
    let base = format!("{HEAD}    steps: []\nexpect:\n  - client: a\n");
    let two = format!("{base}    receives: {{topic: t}}\n    closed: {{}}\n");
    assert_err(
        &two,
        9,
        5,
        "one matcher, but this one has `receives` and `closed`",
    );
    let none = format!("{base}    count: 1\n");
    assert_err(
        &none,
        7,
        5,
        "no matcher, expected one of `receives`, `connack`, `closed`, `recv`, `send`",
    );
    let counts = format!("{base}    closed: {{}}\n    count: 1\n    at_most: 2\n");
    assert_err(&counts, 10, 5, "at most one of count, at_least, at_most");
    let untyped = format!("{base}    recv: {{reason: 0x8E}}\n");
    assert_err(&untyped, 8, 11, "`recv` needs a packet `type`");
    let bad_type = format!("{base}    send: {{type: pingreq}}\n");
    assert_err(
        &bad_type,
        8,
        18,
        "unknown packet type `pingreq`, expected one of `CONNECT`",
    );
    let typed = format!("{base}    receives: {{type: PUBACK}}\n");
    assert_err(&typed, 8, 16, "`receives` always matches PUBLISH");
    let window = format!("{base}    closed: {{}}\n    within: [2s, 1s]\n");
    assert_err(&window, 9, 13, "start is after its end");
    let broker = format!("{HEAD}    steps: []\nexpect:\n  - client: broker\n    closed: {{}}\n");
    assert_err(&broker, 7, 13, "`broker` is a broker");
}

#[test]
fn unknown_broker_reference() {
    let src = format!("{HEAD}    broker: brokr\n");
    assert_err(
        &src,
        5,
        13,
        "unknown host `brokr` in `broker`, expected `broker`",
    );
}

#[test]
fn protocol_and_enums() {
    assert_err(
        &format!("{HEAD}    protocol: 4\n"),
        5,
        15,
        "unknown protocol `4`",
    );
    assert_err(
        &format!("{HEAD}    ping: sometimes\n"),
        5,
        11,
        "unknown variant `sometimes`",
    );
}

#[test]
fn io_error_for_a_missing_file() {
    let e = load(Path::new("/nonexistent/dir/none.yaml")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(e.message.contains("none.yaml"), "{e}");
}

// ---- the model -------------------------------------------------------------

#[test]
fn minimal_file_gets_the_defaults() {
    let s = ok("duration: 10s\nbrokers: {broker: {}}\nclients:\n  a: {}\n");
    assert_eq!(s.name, "t");
    assert_eq!(s.protocol, Protocol::V311);
    assert_eq!(s.seed, 0);
    assert_eq!(s.network, Network::default());
    assert_eq!(s.brokers["broker"], BrokerSpec::default());
    let a = &s.clients["a"];
    assert_eq!(a.broker, "broker");
    assert_eq!(a.options.client_id, "a");
    assert!(a.options.clean);
    assert_eq!(a.options.keep_alive, Duration::from_secs(60));
    assert_eq!(a.reconnect, None);
    assert_eq!((a.ping, a.ack), (Ping::Auto, Ack::Auto));
    assert!(a.steps.is_empty() && s.faults.is_empty() && s.expect.is_empty());
    assert_eq!(s.chaos, Chaos::default());
}

#[test]
fn connect_after_connect_is_left_to_the_run() {
    let s = ok(&format!(
        "{HEAD}    steps:\n      - connect: {{}}\n      - connect: {{}}\n"
    ));
    assert_eq!(s.clients["a"].steps.len(), 2);
}

#[test]
fn full_file_parses_to_the_expected_model() {
    let s = match load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/scenario/full.yaml"
    ))) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(s.name, "full");
    assert_eq!(s.about.as_deref(), Some("Uses every key the format has.\n"));
    assert_eq!(s.spec, ["MQTT-3.1.4-2", "MQTT-4.4.0-1"]);
    assert_eq!(
        (s.protocol, s.seed, s.duration),
        (Protocol::V311, 7, ms(120_000))
    );

    assert_eq!(s.network.latency, DurationSpec::Range(ms(1), ms(5)));
    assert_eq!(s.network.tick, Some(ms(1)));
    let links: Vec<_> = s.network.links.iter().map(|l| l.between.clone()).collect();
    assert_eq!(
        links,
        [
            ("sensor".to_string(), "broker".to_string()),
            ("v5".to_string(), "broker".to_string())
        ]
    );

    let b = &s.brokers["broker"];
    assert_eq!(b.keep_alive_factor, 2.0);
    assert_eq!((b.max_keep_alive, b.max_qos), (Duration::from_secs(30), 1));
    assert!(b.persistence && !b.allow_anonymous);
    assert_eq!(
        b.users.as_ref().map(|u| u["alice"].as_str()),
        Some("secret")
    );
    assert_eq!(b.takeover_will, TakeoverWill::Mosquitto);
    assert_eq!(s.brokers["spare"], BrokerSpec::default());

    let c = &s.clients["sensor"];
    assert_eq!(c.options.client_id, "sensor-1");
    assert!(!c.options.clean);
    assert_eq!(c.options.keep_alive, Duration::from_secs(10));
    assert_eq!(c.options.username.as_deref(), Some("alice"));
    let will = c.options.will.clone().unwrap_or_else(|| panic!("no will"));
    assert_eq!(
        (will.topic.as_str(), &will.payload[..]),
        ("will/sensor", &b"gone"[..])
    );
    assert_eq!(
        (will.qos, will.retain, will.delay),
        (1, true, Duration::ZERO)
    );
    assert_eq!(c.reconnect, Some(DurationSpec::Range(ms(1000), ms(2000))));
    assert_eq!((c.ping, c.ack), (Ping::Off, Ack::Manual));

    let lines: Vec<usize> = c.steps.iter().map(|s| s.line).collect();
    assert_eq!(lines, (37..=51).filter(|l| *l != 39).collect::<Vec<_>>());
    let names: Vec<&str> = c.steps.iter().map(|s| s.action.name()).collect();
    assert_eq!(
        names,
        [
            "connect",
            "subscribe",
            "subscribe",
            "publish",
            "publish",
            "publish",
            "unsubscribe",
            "unsubscribe",
            "silence",
            "resume",
            "drop",
            "connect",
            "send",
            "disconnect"
        ]
    );
    assert_eq!(c.steps[1].at, Some(DurationSpec::Fixed(ms(1500))));
    assert_eq!(c.steps[0].at, None);
    assert_eq!(
        c.steps[2].action,
        Action::Subscribe {
            filters: vec![
                Subscription {
                    filter: "a".into(),
                    qos: 2,
                    ..Subscription::default()
                },
                Subscription {
                    filter: "b".into(),
                    qos: 0,
                    ..Subscription::default()
                },
            ],
            properties: Properties::default(),
        }
    );
    assert_eq!(
        c.steps[3].action,
        Action::Publish {
            topic: "t/1".into(),
            payload: bytes::Bytes::from_static(&[0x00, 0xff]),
            qos: 2,
            retain: true,
            properties: Properties::default(),
        }
    );
    assert_eq!(
        c.steps[4].action,
        Action::Publish {
            topic: "t/2".into(),
            payload: bytes::Bytes::from_static(b"abcdefghijklmnopqrstuvwxyzabcd"),
            qos: 0,
            retain: false,
            properties: Properties::default(),
        }
    );
    assert_eq!(
        c.steps[5].action,
        Action::Publish {
            topic: "t/3".into(),
            payload: bytes::Bytes::new(),
            qos: 0,
            retain: false,
            properties: Properties::default(),
        }
    );
    assert_eq!(
        c.steps[7].action,
        Action::Unsubscribe(vec!["a".into(), "b".into()])
    );
    assert_eq!(
        c.steps[11].action,
        Action::Connect(ConnectOverrides {
            clean: Some(true),
            keep_alive: Some(Duration::ZERO),
            will: Some(None),
            ..ConnectOverrides::default()
        })
    );
    assert_eq!(
        c.steps[12].action,
        Action::Send(bytes::Bytes::from_static(&[0xc0, 0]))
    );
    assert_eq!(
        c.steps[13].action,
        Action::Disconnect {
            reason: None,
            properties: Properties::default()
        }
    );

    let v5 = &s.clients["v5"];
    assert_eq!(v5.broker, "spare");
    assert_eq!(v5.options.client_id, "");
    assert_eq!(v5.options.protocol, Protocol::V5);
    assert!(!v5.options.clean);
    assert_eq!(
        v5.options.session_expiry,
        Some(SessionExpiry::After(Duration::from_secs(300)))
    );
    assert_eq!(v5.options.will.as_ref().map(|w| w.delay), Some(ms(2000)));
    assert_eq!(v5.steps[1].line, 61);
    assert_eq!(v5.steps[1].at, Some(DurationSpec::Fixed(ms(3000))));
    assert_eq!(
        v5.steps[1].action,
        Action::Disconnect {
            reason: Some(4),
            properties: Properties::default()
        }
    );
    let effective = v5.options.with(match &v5.steps[0].action {
        Action::Connect(o) => o,
        other => panic!("{other:?}"),
    });
    assert!(effective.clean);
    assert_eq!(
        effective.session_expiry,
        Some(SessionExpiry::After(Duration::ZERO))
    );

    let f: Vec<(usize, &FaultAction)> = s.faults.iter().map(|f| (f.line, &f.action)).collect();
    let p = |a: &str, b: &str, oneway| FaultAction::Partition {
        a: a.into(),
        b: b.into(),
        oneway,
    };
    assert_eq!(f[0], (64, &p("sensor", "broker", false)));
    assert_eq!(f[1], (66, &p("sensor", "broker", true)));
    assert_eq!(f[2], (66, &p("v5", "broker", true)));
    assert_eq!(f[3], (68, &FaultAction::Heal(None)));
    assert_eq!(
        f[4],
        (
            70,
            &FaultAction::Heal(Some(("sensor".into(), "broker".into())))
        )
    );
    assert_eq!(
        f[5],
        (72, &FaultAction::Hold("sensor".into(), "broker".into()))
    );
    assert_eq!(f[6], (72, &FaultAction::Hold("v5".into(), "broker".into())));
    assert_eq!(
        f[7],
        (74, &FaultAction::Release("v5".into(), "spare".into()))
    );
    assert_eq!(
        f[8],
        (
            76,
            &FaultAction::Latency {
                a: "sensor".into(),
                b: "broker".into(),
                value: DurationSpec::Fixed(ms(200))
            }
        )
    );
    assert_eq!(s.faults[8].at, DurationSpec::Range(ms(7000), ms(8000)));
    assert_eq!(f[9], (78, &FaultAction::Crash("broker".into())));
    assert_eq!(f[10], (80, &FaultAction::Restart("broker".into())));
    assert_eq!(f.len(), 11);

    let parts = s
        .chaos
        .partitions
        .clone()
        .unwrap_or_else(|| panic!("no partitions"));
    assert_eq!(parts.every, DurationSpec::Range(ms(2000), ms(10_000)));
    assert_eq!(parts.between.len(), 2);
    let holds = s.chaos.holds.clone().unwrap_or_else(|| panic!("no holds"));
    // Without `between`: each client with its own broker.
    assert_eq!(
        holds.between,
        [
            ("sensor".to_string(), "broker".to_string()),
            ("v5".to_string(), "spare".to_string())
        ]
    );
    let lat = s
        .chaos
        .latency
        .clone()
        .unwrap_or_else(|| panic!("no latency"));
    assert_eq!(lat.value, DurationSpec::Range(ms(50), ms(500)));
    let crashes = s
        .chaos
        .crashes
        .clone()
        .unwrap_or_else(|| panic!("no crashes"));
    assert_eq!(crashes.hosts, ["broker"]);
    assert_eq!(
        crashes.restart_after,
        Some(DurationSpec::Range(ms(1000), ms(5000)))
    );

    let e = &s.expect;
    assert_eq!(
        e.iter().map(|e| e.line).collect::<Vec<_>>(),
        [89, 93, 95, 98, 100, 105]
    );
    let json = |v: serde_json::Value| match v {
        serde_json::Value::Object(m) => m,
        other => panic!("{other}"),
    };
    assert_eq!(
        e[0].matcher,
        Matcher::Packet {
            direction: Direction::Recv,
            fields: json(
                serde_json::json!({"type": "PUBLISH", "topic": "will/#", "payload": "gone", "qos": 1})
            ),
            first: false,
        }
    );
    assert_eq!(e[0].count, Count::Exactly(1));
    assert_eq!(e[0].within, Some((ms(3000), ms(3200))));
    assert_eq!(
        e[1].matcher,
        Matcher::Packet {
            direction: Direction::Recv,
            fields: json(
                serde_json::json!({"type": "CONNACK", "session_present": true, "code": 0})
            ),
            first: false,
        }
    );
    assert_eq!(e[1].count, Count::AtLeast(1));
    assert_eq!(
        e[2].matcher,
        Matcher::Closed {
            by: Some(ClosedBy::Broker)
        }
    );
    assert_eq!(e[2].count, Count::AtMost(2));
    assert_eq!(
        e[3].matcher,
        Matcher::Packet {
            direction: Direction::Recv,
            fields: json(serde_json::json!({"type": "DISCONNECT", "reason": 142})),
            first: false,
        }
    );
    assert_eq!(
        e[4].matcher,
        Matcher::Packet {
            direction: Direction::Send,
            fields: json(serde_json::json!({"type": "PINGREQ"})),
            first: false,
        }
    );
    assert_eq!(e[4].count, Count::AtLeast(3));
    assert!(e[4].applies_to("reference") && !e[4].applies_to("mosquitto"));
    assert_eq!(e[5].matcher, Matcher::Closed { by: None });
}

#[test]
fn protocol_forms_and_payload_scalars() {
    for (text, want) in [
        ("5.0", Protocol::V5),
        ("\"5.0\"", Protocol::V5),
        ("3.1.1", Protocol::V311),
        ("\"3.1.1\"", Protocol::V311),
    ] {
        let s = ok(&format!("protocol: {text}\n{HEAD}"));
        assert_eq!(s.protocol, want, "{text}");
        assert_eq!(s.clients["a"].options.protocol, want);
    }
    let s = ok(&format!(
        "{HEAD}    steps:\n      - publish: {{topic: t, payload: 42}}\n"
    ));
    match &s.clients["a"].steps[0].action {
        Action::Publish { payload, .. } => assert_eq!(&payload[..], b"42"),
        other => panic!("{other:?}"),
    }
    let s = ok(&format!(
        "{HEAD}    steps: []\nexpect:\n  - client: a\n    receives: {{payload: 1.50}}\n"
    ));
    match &s.expect[0].matcher {
        Matcher::Packet { fields, .. } => assert_eq!(fields["payload"], "1.50"),
        other => panic!("{other:?}"),
    }
}

// ---- robustness ------------------------------------------------------------

/// Every prefix of a valid file, and the file with each line removed, must
/// give a scenario or a located error, never a panic.
#[test]
fn mangled_input_never_panics() {
    let check = |src: &str| {
        if let Err(e) = parse(src, Path::new("m.yaml")) {
            assert_eq!(e.kind, ErrorKind::Scenario);
            assert!(e.location.is_some(), "unlocated error: {e}");
        }
    };
    for cut in (0..=FULL.len()).filter(|i| FULL.is_char_boundary(*i)) {
        check(&FULL[..cut]);
    }
    let lines: Vec<&str> = FULL.lines().collect();
    for skip in 0..lines.len() {
        let mangled: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, l)| *l)
            .collect();
        check(&mangled.join("\n"));
    }
    for junk in [
        "",
        "~",
        "[]",
        "- a",
        "{",
        "}",
        "a: *x",
        "&a [*a]",
        "? [a]\n: b",
        "duration: !!binary aGk=",
        "\t",
        "key: 'unterminated",
        "%YAML 9.9\n---\n",
    ] {
        check(junk);
    }
    // Nesting far past serde_yaml's recursion limit, and an alias fan-out.
    check(&format!("duration: {}", "[".repeat(5000)));
    check(&format!(
        "duration: 1s\nbrokers: {}1{}\n",
        "{a: ".repeat(300),
        "}".repeat(300)
    ));
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..8 {
        bomb.push_str(&format!(
            "b{i}: &b{i} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n",
            p = if i == 0 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            }
        ));
    }
    check(&bomb);
}

#[test]
fn the_5_0_options_and_steps_reach_the_model() {
    use crate::wire::Property;
    let s = ok("
protocol: 5.0
duration: 5s
brokers: {broker: {}}
clients:
  a:
    session_expiry: never
    receive_maximum: 10
    maximum_packet_size: 1024
    topic_alias_maximum: 5
    user_properties: [[site, lab], [rack, \"7\"], [site, annex]]
    will: {topic: w, payload: gone, delay: 2s, properties: {content_type: text/plain}}
    steps:
      - connect: {session_expiry: 30s}
      - subscribe: {filter: t/#, qos: 1, no_local: true, retain_handling: 2, properties: {subscription_identifier: 7}}
      - publish: {topic: t, payload: hi, properties: {topic_alias: 3, correlation_data: {hex: \"0a0b\"}}}
      - publish: {topic: \"\", payload: again, properties: {topic_alias: 3}}
      - disconnect: {reason: 0x04, properties: {session_expiry_interval: 0}}
");
    let a = &s.clients["a"];
    assert_eq!(a.options.session_expiry, Some(SessionExpiry::Never));
    assert_eq!(SessionExpiry::Never.wire(), 0xFFFF_FFFF);
    assert_eq!(a.options.receive_maximum, Some(10));
    assert_eq!(a.options.maximum_packet_size, Some(1024));
    assert_eq!(a.options.topic_alias_maximum, Some(5));
    let pairs: Vec<(&str, &str)> = a
        .options
        .user_properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(pairs, [("site", "lab"), ("rack", "7"), ("site", "annex")]);
    let will = a.options.will.as_ref().expect("a will");
    assert_eq!(will.delay, ms(2000));
    assert_eq!(
        will.properties.0,
        [Property::ContentType("text/plain".into())]
    );
    let Action::Connect(o) = &a.steps[0].action else {
        panic!("{:?}", a.steps[0].action)
    };
    assert_eq!(
        a.options.with(o).session_expiry,
        Some(SessionExpiry::After(Duration::from_secs(30)))
    );
    assert_eq!(
        a.steps[1].action,
        Action::Subscribe {
            filters: vec![Subscription {
                filter: "t/#".into(),
                qos: 1,
                no_local: true,
                retain_as_published: false,
                retain_handling: 2,
            }],
            properties: Properties(vec![Property::SubscriptionIdentifier(7)]),
        }
    );
    let Action::Publish { properties, .. } = &a.steps[2].action else {
        panic!("{:?}", a.steps[2].action)
    };
    assert_eq!(
        properties.0,
        [
            Property::TopicAlias(3),
            Property::CorrelationData(bytes::Bytes::from_static(&[0x0a, 0x0b]))
        ]
    );
    assert!(matches!(&a.steps[3].action, Action::Publish { topic, .. } if topic.is_empty()));
    assert_eq!(
        a.steps[4].action,
        Action::Disconnect {
            reason: Some(4),
            properties: Properties(vec![Property::SessionExpiryInterval(0)]),
        }
    );
}

// ---- adversarial files -----------------------------------------------------

/// `name: "\0"` validated, then `run` panicked naming its thread.
#[test]
fn a_name_with_a_control_character_is_refused() {
    let e = err(&format!("name: \"a\\0b\"\n{HEAD}    steps: []\n"));
    assert!(e.to_string().contains("control characters"), "{e}");
    assert!(e.location.is_some_and(|l| l.line == 1));
}

/// 10,000 clients publishing 1 MiB each validated, then the run aborted
/// on allocation.
#[test]
fn payloads_adding_up_past_the_bound_are_refused_at_their_step() {
    let src = "duration: 10s\nbrokers: {broker: {}}\nclients:\n  c{i}:\n    count: 100\n    steps:\n      - {at: 1s, publish: {topic: t, payload: {size: 1048576}}}\n";
    let e = err(src);
    assert!(e.to_string().contains("add up to more than"), "{e}");
    assert!(
        e.location.is_some_and(|l| l.line == 7),
        "located at the step"
    );
    // Within the bound it loads.
    ok(&src.replace("count: 100", "count: 60"));
}

/// A byte order mark was reported as "remove the `---`".
#[test]
fn a_byte_order_mark_is_allowed() {
    ok(&format!("\u{feff}{HEAD}    steps: []\n"));
}

/// A file is read at most one byte past the size limit (a symlink to
/// /dev/zero grew the read to 2.1 GB).
#[test]
fn an_endless_file_is_read_only_to_the_size_limit() {
    if !Path::new("/dev/zero").exists() {
        return;
    }
    let e = load(Path::new("/dev/zero")).expect_err("too large");
    assert!(e.to_string().contains("at most"), "{e}");
}

/// What the never-matching check must still accept: a `count: 0` on a
/// topic someone publishes but the client did not subscribe to (the
/// broker must not deliver it), a topic reached through a shared
/// subscription or through another client's session under the same client
/// id, a file that writes raw bytes, and a `trace_only` file.
#[test]
fn matchers_that_can_match_are_accepted() {
    let base = |clients: &str, expect: &str| {
        format!(
            "duration: 5s\nprotocol: 5.0\nbrokers: {{broker: {{}}}}\nclients:\n{clients}expect:\n{expect}"
        )
    };
    let publisher =
        "  pub:\n    steps:\n      - connect: {}\n      - publish: {topic: other/x, payload: p}\n";
    // Published but not subscribed: checks the broker's routing.
    ok(&base(
        &format!("  sub:\n    steps:\n      - connect: {{}}\n{publisher}"),
        "  - {client: sub, receives: {topic: other/x}, count: 0}\n",
    ));
    // A shared subscription's filter counts without its `$share/g/`.
    ok(&base(
        "  sub:\n    steps:\n      - connect: {}\n      - subscribe: {filter: $share/g/jobs/+, qos: 1}\n",
        "  - {client: sub, receives: {topic: jobs/a}, count: 0}\n",
    ));
    // `later` takes over `first`'s session under the same client id.
    ok(&base(
        "  first:\n    client_id: same\n    steps:\n      - connect: {}\n      - subscribe: {filter: s/#, qos: 1}\n  later:\n    client_id: same\n    steps:\n      - {at: 1s, connect: {}}\n",
        "  - {client: later, receives: {topic: s/x}, count: 0}\n",
    ));
    // Raw bytes may be a SUBSCRIBE the file does not show.
    ok(&base(
        "  raw:\n    steps:\n      - connect: {}\n      - send: {hex: \"c000\"}\n",
        "  - {client: raw, receives: {topic: a/b}, count: 0}\n  - {client: raw, send: {type: PINGRESP}, count: 0}\n",
    ));
    // Comparisons are checked for their kind only, not their range.
    ok(&base(
        "  sub:\n    steps:\n      - connect: {}\n",
        "  - {client: sub, connack: {properties: {server_keep_alive: {lt: 70000}}}}\n",
    ));
    let s = ok(
        "duration: 1s\ntrace_only: true\ninvariants: off\nbrokers: {broker: {}}\nclients: {a: {steps: [connect: {}]}}\n",
    );
    assert!(s.expect.is_empty());
}

#[test]
fn a_heal_after_a_partition_of_one_of_its_pairs_is_accepted() {
    ok(
        "duration: 5s\nbrokers: {broker: {}}\nclients: {a: {}, b: {}}\nfaults:\n  - {at: 1s, partition: [a, broker]}\n  - {at: 2s, heal: [clients, broker]}\n  - {at: 3s, hold: [b, broker]}\n  - {at: 4s, heal: all}\n",
    );
    assert_err(
        "duration: 5s\nbrokers: {broker: {}}\nclients: {a: {}, b: {}}\nfaults:\n  - {at: 1s, partition: [a, broker]}\n  - {at: 2s, heal: [b, broker]}\n",
        6,
        14,
        "nothing to heal",
    );
}

#[test]
fn wire_seconds_may_pass_a_day() {
    let s = ok(
        "duration: 1s\nprotocol: 5.0\nbrokers: {broker: {session_expiry_max: 4294967295s}}\nclients:\n  a:\n    session_expiry: 48h\n    will: {topic: w, payload: x, delay: 72h}\n    steps: [connect: {}]\nexpect: [{client: a, connack: {code: 0}}]\n",
    );
    assert_eq!(
        s.clients["a"].options.session_expiry,
        Some(SessionExpiry::After(Duration::from_secs(48 * 3600)))
    );
    assert_err(
        "duration: 1s\nprotocol: 5.0\nbrokers: {broker: {}}\nclients:\n  a:\n    session_expiry: 4294967296s\n    steps: [connect: {}]\n",
        6,
        21,
        "longer than the maximum of 4294967295s",
    );
    assert_err(
        "duration: 48h\nbrokers: {broker: {}}\nclients: {a: {}}\n",
        1,
        11,
        "longer than the maximum of 24h",
    );
}
