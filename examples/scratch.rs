use indexmap::IndexMap;
use mqtt_sim::scenario::*;
use mqtt_sim::sim;
use mqtt_sim::trace::render;
use std::time::Duration;

fn opts(id: &str, clean: bool, ka: u64) -> ConnectOptions {
    ConnectOptions {
        client_id: id.into(),
        protocol: Protocol::V311,
        clean,
        session_expiry: None,
        keep_alive: Duration::from_secs(ka),
        username: None,
        password: None,
        will: None,
    }
}
fn step(at_ms: Option<u64>, action: Action) -> Step {
    Step {
        at: at_ms.map(|m| DurationSpec::Fixed(Duration::from_millis(m))),
        line: 0,
        action,
    }
}
fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let mut brokers = IndexMap::new();
    brokers.insert("broker".to_string(), BrokerSpec::default());
    let mut clients = IndexMap::new();
    let mk = |o, reconnect: Option<u64>, ping, steps| ClientSpec {
        broker: "broker".into(),
        options: o,
        reconnect: reconnect.map(|r| DurationSpec::Fixed(Duration::from_millis(r))),
        ping,
        ack: Ack::Auto,
        steps,
    };
    let duration;
    if which == "flap" {
        duration = Duration::from_secs(10);
        clients.insert(
            "a".to_string(),
            mk(
                opts("mqtt_identical_1", true, 60),
                Some(1000),
                Ping::Auto,
                vec![step(None, Action::Connect(Default::default()))],
            ),
        );
        clients.insert(
            "b".to_string(),
            mk(
                opts("mqtt_identical_1", true, 60),
                Some(1000),
                Ping::Auto,
                vec![step(Some(500), Action::Connect(Default::default()))],
            ),
        );
    } else {
        duration = Duration::from_secs(8);
        let mut o = opts("sensor", true, 2);
        o.will = Some(Will {
            topic: "will/s".into(),
            payload: "gone".into(),
            qos: 1,
            retain: false,
            delay: Duration::ZERO,
        });
        clients.insert(
            "observer".to_string(),
            mk(
                opts("obs", true, 60),
                None,
                Ping::Auto,
                vec![
                    step(None, Action::Connect(Default::default())),
                    step(
                        None,
                        Action::Subscribe(vec![Subscription {
                            filter: "will/#".into(),
                            qos: 1,
                        }]),
                    ),
                ],
            ),
        );
        clients.insert(
            "sensor".to_string(),
            mk(
                o,
                None,
                Ping::Auto,
                vec![
                    step(Some(100), Action::Connect(Default::default())),
                    step(
                        None,
                        Action::Publish {
                            topic: "t/x".into(),
                            payload: "hi".into(),
                            qos: 1,
                            retain: false,
                        },
                    ),
                    step(Some(1000), Action::Silence),
                ],
            ),
        );
    }
    let s = Scenario {
        name: which.clone(),
        about: None,
        spec: vec![],
        protocol: Protocol::V311,
        seed: 1,
        duration,
        network: Network::default(),
        brokers,
        clients,
        faults: vec![],
        expect: vec![],
    };
    let r = sim::run(&s, &sim::RunOptions::default());
    print!("{}", render::text(&r));
}
