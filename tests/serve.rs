//! `mqtt-sim serve` as a user runs it: the built binary on a free loopback
//! port, spoken to over real TCP with this crate's own `wire` module.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use mqtt_sim::wire::{
    Ack, ConnAck, Connect, LEVEL_V5, LEVEL_V311, Packet, Publish, QoS, Reader, SubAck, Subscribe,
    SubscribeFilter, Writer,
};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

/// The server process; killed if a test ends without stopping it.
struct Server {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mqtt-sim serve");
        let stdout = child.stdout.take().expect("stdout is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some((_, addr)) = line.split_once("listening on ") {
                    let _ = addr_tx.send(addr.trim().to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = match addr_rx.recv_timeout(WAIT) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("no `listening on` line within {WAIT:?}");
            }
        };
        Server { child, addr, log }
    }

    /// Stops the server with a signal (`-TERM`, `-INT`) as `kill` sends it,
    /// and returns its log.
    fn stop(mut self, signal: &str) -> Vec<String> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args([signal, &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill {signal} {pid}");
        let mut waited = Duration::ZERO;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait for the server") {
                break s;
            }
            assert!(waited < WAIT, "the server did not stop within {WAIT:?}");
            std::thread::sleep(Duration::from_millis(20));
            waited += Duration::from_millis(20);
        };
        assert!(status.success(), "serve exited with {status}");
        // The reader thread sees EOF once the process is gone.
        std::thread::sleep(Duration::from_millis(100));
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Conn {
    reader: Reader<OwnedReadHalf>,
    writer: Writer<OwnedWriteHalf>,
}

impl Conn {
    async fn open(addr: &str) -> Conn {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        let (r, w) = stream.into_split();
        Conn {
            reader: Reader::new(r, Some(LEVEL_V311)),
            writer: Writer::new(w, LEVEL_V311),
        }
    }

    async fn send(&mut self, p: Packet) {
        timeout(WAIT, self.writer.write(&p))
            .await
            .expect("write in time")
            .expect("write");
    }

    async fn recv(&mut self) -> Packet {
        timeout(WAIT, self.reader.read())
            .await
            .expect("a packet in time")
            .expect("a well-formed packet")
            .expect("a packet, not EOF")
    }
}

fn connect(client_id: &str, username: Option<&str>) -> Packet {
    Packet::Connect(Connect {
        protocol_name: "MQTT".into(),
        protocol_level: LEVEL_V311,
        client_id: client_id.into(),
        clean: true,
        keep_alive_s: 30,
        will: None,
        username: username.map(Into::into),
        password: username.map(|_| "secret".into()),
        properties: Default::default(),
    })
}

fn subscribe(filter: &str, qos: u8) -> Packet {
    Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![SubscribeFilter::new(
            filter,
            QoS::try_from(qos).expect("test QoS"),
        )],
        properties: Default::default(),
    })
}

#[tokio::test]
async fn serves_a_real_tcp_client_and_stops_on_sigterm() {
    let server = Server::start(&[]);
    let mut c = Conn::open(&server.addr).await;

    c.send(connect("serve-test", None)).await;
    assert_eq!(
        c.recv().await,
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: 0,
            properties: Default::default()
        })
    );

    c.send(subscribe("serve/t", 1)).await;
    assert_eq!(
        c.recv().await,
        Packet::SubAck(SubAck {
            packet_id: 1,
            codes: vec![1],
            properties: Default::default()
        })
    );

    c.send(Packet::Publish(Publish {
        topic: "serve/t".into(),
        payload: "round trip".into(),
        qos: QoS::AtLeastOnce,
        retain: false,
        dup: false,
        packet_id: 7,
        properties: Default::default(),
    }))
    .await;
    // Our PUBACK and the delivery to our own subscription: either order.
    let (mut acked, mut delivered) = (false, None);
    for _ in 0..2 {
        match c.recv().await {
            Packet::PubAck(Ack { packet_id: 7, .. }) => acked = true,
            Packet::Publish(p) => delivered = Some(p),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(acked, "no PUBACK for packet 7");
    let p = delivered.expect("the message delivered back");
    assert_eq!(
        (p.topic.as_str(), &p.payload[..], p.qos.level()),
        ("serve/t", &b"round trip"[..], 1)
    );
    assert!(!p.retain && !p.dup && p.packet_id != 0);
    c.send(Packet::PubAck(Ack::new(p.packet_id))).await;

    c.send(Packet::PingReq).await;
    assert_eq!(c.recv().await, Packet::PingResp);

    c.send(Packet::Disconnect(Default::default())).await;
    let end = timeout(WAIT, c.reader.read()).await.expect("EOF in time");
    assert!(
        matches!(end, Ok(None)),
        "the broker closes after DISCONNECT: {end:?}"
    );

    let log = server.stop("-TERM");
    let has = |needle: &str| log.iter().any(|l| l.contains(needle));
    assert!(has("] accepted"), "{log:#?}");
    assert!(
        has("CONNECT client id \"serve-test\", clean session 1, keep alive 30s"),
        "{log:#?}"
    );
    assert!(has("CONNACK 0 (accepted), session present 0"), "{log:#?}");
    assert!(
        has("\"serve-test\"] closed after the client's DISCONNECT"),
        "{log:#?}"
    );
    assert!(has("stopping: terminated (SIGTERM)"), "{log:#?}");
    // Every line starts with a UTC timestamp, e.g. 2026-01-01T12:00:00.000Z.
    for l in &log {
        let stamp = l.split(' ').next().unwrap_or_default();
        assert!(stamp.len() == 24 && stamp.ends_with('Z'), "{l}");
    }
}

#[tokio::test]
async fn the_config_file_sets_the_brokers_options() {
    let dir = temp_dir("config-ok");
    let file = dir.join("broker.yaml");
    std::fs::write(&file, "max_qos: 1\nusers: {alice: secret}\n").unwrap();
    let server = Server::start(&["--config", file.to_str().unwrap()]);

    let mut anon = Conn::open(&server.addr).await;
    anon.send(connect("anon", None)).await;
    assert_eq!(
        anon.recv().await,
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: 4,
            properties: Default::default()
        })
    );

    let mut alice = Conn::open(&server.addr).await;
    alice.send(connect("alice-1", Some("alice"))).await;
    assert!(matches!(
        alice.recv().await,
        Packet::ConnAck(ConnAck { code: 0, .. })
    ));
    alice.send(subscribe("a/#", 2)).await;
    assert_eq!(
        alice.recv().await,
        Packet::SubAck(SubAck {
            packet_id: 1,
            codes: vec![1],
            properties: Default::default()
        }),
        "max_qos: 1 grants QoS 1 for a QoS 2 subscription"
    );

    let log = server.stop("-INT");
    assert!(
        log.iter().any(|l| l.contains("note: refused anon")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.ends_with("stopping: interrupted (Ctrl-C)")),
        "{log:#?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Persistent sessions cannot lock a public broker: with `sessions_max: 3`
/// (the config file lowers SESSIONS_MAX so the test needs 4 clients, not
/// 10,001), a new client id evicts the least recently disconnected session,
/// and only a table of connected sessions refuses, 0x03 in 3.1.1 and 0x97
/// in 5.0. Real TCP, real time.
#[tokio::test]
async fn a_full_session_table_evicts_rather_than_locking_out_new_clients() {
    let dir = temp_dir("sessions-max");
    let file = dir.join("broker.yaml");
    std::fs::write(&file, "sessions_max: 3\n").unwrap();
    let server = Server::start(&["--config", file.to_str().unwrap()]);
    let persistent = |id: &str| {
        let Packet::Connect(mut c) = connect(id, None) else {
            unreachable!()
        };
        c.clean = false;
        Packet::Connect(c)
    };
    let code = |p: Packet| match p {
        Packet::ConnAck(a) => (a.code, a.session_present),
        other => panic!("expected CONNACK, got {other:?}"),
    };
    for id in ["s1", "s2", "s3"] {
        let mut c = Conn::open(&server.addr).await;
        c.send(persistent(id)).await;
        assert_eq!(code(c.recv().await), (0, false));
        c.send(Packet::Disconnect(Default::default())).await;
        // The broker closes once it has taken the session offline.
        let closed = timeout(WAIT, c.reader.read())
            .await
            .expect("closed in time");
        assert!(matches!(closed, Ok(None)), "{closed:?}");
    }
    // Full of offline sessions: a fourth id gets in, evicting s1.
    let mut s4 = Conn::open(&server.addr).await;
    s4.send(persistent("s4")).await;
    assert_eq!(code(s4.recv().await), (0, false));
    // s2 and s3 are still stored, and now connected with s4.
    let mut s2 = Conn::open(&server.addr).await;
    s2.send(persistent("s2")).await;
    assert_eq!(code(s2.recv().await), (0, true));
    let mut s3 = Conn::open(&server.addr).await;
    s3.send(persistent("s3")).await;
    assert_eq!(code(s3.recv().await), (0, true));
    // Every stored session is connected: refused, in each version.
    let mut s5 = Conn::open(&server.addr).await;
    s5.send(persistent("s5")).await;
    assert_eq!(code(s5.recv().await), (3, false));
    let stream = TcpStream::connect(&server.addr).await.unwrap();
    let (r, w) = stream.into_split();
    let mut v5 = Conn {
        reader: Reader::new(r, Some(LEVEL_V5)),
        writer: Writer::new(w, LEVEL_V5),
    };
    let Packet::Connect(mut c) = persistent("s6") else {
        unreachable!()
    };
    c.protocol_level = LEVEL_V5;
    v5.send(Packet::Connect(c)).await;
    assert_eq!(code(v5.recv().await), (0x97, false));

    let log = server.stop("-TERM");
    let evicted =
        "session limit of 3 reached: evicted the session of s1, the least recently disconnected";
    assert!(log.iter().any(|l| l.ends_with(evicted)), "{log:#?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_config_file_is_a_located_error_with_exit_2() {
    let dir = temp_dir("config-bad");
    let file = dir.join("broker.yaml");
    std::fs::write(&file, "max_qos: 1\nmax_qso: 2\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:2:1", file.display())) && err.contains("max_qso"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_port_in_use_is_a_clear_error_with_exit_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(["serve", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mqtt-sim-serve-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_broker_config_parser_checks_values_where_they_are() {
    use mqtt_sim::broker::{BrokerConfig, TakeoverWill};
    use mqtt_sim::scenario::parse_broker_config;
    let path = std::path::Path::new("broker.yaml");

    assert_eq!(
        parse_broker_config("", path).unwrap(),
        BrokerConfig::default()
    );
    let c =
        parse_broker_config("takeover_will: mosquitto\nallow_anonymous: false\n", path).unwrap();
    assert_eq!(c.takeover_will, TakeoverWill::Mosquitto);
    assert!(!c.allow_anonymous);

    let e = parse_broker_config("max_qos: 1\nkeep_alive_factor: 0\n", path).unwrap_err();
    assert_eq!(
        e.to_string(),
        "broker.yaml:2:20: `keep_alive_factor` must be more than 0 and at most 100, got 0"
    );
    let e = parse_broker_config("max_qos: 3\n", path).unwrap_err();
    assert!(e.to_string().starts_with("broker.yaml:1:10: "), "{e}");

    // The 5.0 options and the session limits.
    let c = parse_broker_config(
        "session_expiry_max: 1h\nreceive_maximum: 20\nmaximum_packet_size: 2048\n\
         topic_alias_maximum: 0\nretain_available: false\n\
         wildcard_subscription_available: false\nshared_subscription_available: false\n\
         subscription_identifiers_available: false\npersistent_session_expiry: 2h\n\
         sessions_max: 5\n",
        path,
    )
    .unwrap();
    assert_eq!(
        c,
        BrokerConfig {
            session_expiry_max: Some(Duration::from_secs(3600)),
            receive_maximum: 20,
            maximum_packet_size: 2048,
            topic_alias_maximum: 0,
            retain_available: false,
            wildcard_subscription_available: false,
            shared_subscription_available: false,
            subscription_identifiers_available: false,
            persistent_session_expiry: Some(Duration::from_secs(7200)),
            sessions_max: 5,
            ..BrokerConfig::default()
        }
    );
    for (yaml, error) in [
        (
            "receive_maximum: 0\n",
            "broker.yaml:1:18: `receive_maximum` must be 1 to 65535; 0 is a protocol error in 5.0",
        ),
        (
            "maximum_packet_size: 10\n",
            "broker.yaml:1:22: `maximum_packet_size` must be 64 to 268435460 bytes, got 10",
        ),
        (
            "session_expiry_max: 1.5s\n",
            "broker.yaml:1:21: `session_expiry_max` must be whole seconds; it goes on the wire in seconds",
        ),
        (
            "sessions_max: 0\n",
            "broker.yaml:1:15: `sessions_max` must be 1 to 10000, got 0",
        ),
    ] {
        let e = parse_broker_config(yaml, path).unwrap_err();
        assert_eq!(e.to_string(), error);
    }
}

#[test]
fn a_target_that_stops_mid_run_is_named_as_the_cause() {
    let server = Server::start(&[]);
    let target = format!("tcp://{}", server.addr);
    let run = std::thread::spawn(move || {
        Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
            .args([
                "run",
                "tests/fixtures/cli/target-dies.yaml",
                "--target",
                &target,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("MQTT_SIM_SEED")
            .output()
            .expect("the run")
    });
    std::thread::sleep(Duration::from_secs(1));
    server.stop("-TERM");
    let out = run.join().expect("the run thread");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("the target stopped accepting connections during the run"),
        "{stdout}"
    );
}

#[test]
fn serve_refuses_a_mutant_in_its_config() {
    let dir = std::env::temp_dir().join(format!("mqtt-sim-serve-mutant-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let config = dir.join("broker.yaml");
    std::fs::write(&config, "max_qos: 1\nmutant: no-keep-alive\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .expect("serve runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mutant"), "{stderr}");
    assert!(stderr.contains("broker.yaml:2:"), "{stderr}");
}
