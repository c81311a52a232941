//! `mqtt-sim serve` under the codecs' fuzz inputs, over real TCP: each
//! input goes to the broker on a connection of its own, after a valid
//! CONNECT (3.1.1 and 5.0 in turn), and the connection is then half-closed.
//! The broker must close every connection within `CLOSE_WAIT`, stay up,
//! still accept a client at the end, and keep its memory within
//! `RSS_MAX_KIB`. The inputs are `wire::fuzz::input`'s: random bytes,
//! mutations of valid packets, and one in 64 a hostile packet (a topic of up
//! to 30,000 levels, a filter repeated up to 5,000 times, up to 5,000 user
//! properties). Run by `.ci/wire-fuzz.sh`:
//!
//! ```text
//! cargo run --release --example serve_fuzz -- BINARY [inputs] [seed]
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use mqtt_sim::wire::{self, Connect, LEVEL_V5, LEVEL_V311, Packet, fuzz};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const INPUTS_DEFAULT: u64 = 1_000_000;
const SEED_DEFAULT: u64 = 0x5eed_0005;
/// Connections in flight at once.
const WORKERS: u64 = 16;
/// How long the broker may take to close a connection whose client has
/// sent its input and then EOF; longer is a hang.
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// The broker's resident memory may not pass this (KiB): its limits hold
/// one client's input far below it.
const RSS_MAX_KIB: u64 = 512 * 1024;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(bin) = args.next() else {
        eprintln!("usage: serve_fuzz BINARY [inputs] [seed]");
        return ExitCode::from(2);
    };
    let number = |a: Option<String>, d: u64| a.map_or(Ok(d), |a| a.parse::<u64>());
    let (Ok(inputs), Ok(seed)) = (
        number(args.next(), INPUTS_DEFAULT),
        number(args.next(), SEED_DEFAULT),
    ) else {
        eprintln!("usage: serve_fuzz BINARY [inputs] [seed]");
        return ExitCode::from(2);
    };
    let mut child = match Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start {bin}: {e}");
            return ExitCode::from(2);
        }
    };
    // The log is read (and counted) so that it never fills the pipe.
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    let lines = Arc::new(AtomicU64::new(0));
    let counted = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some((_, addr)) = line.split_once("listening on ") {
                let _ = tx.send(addr.trim().to_string());
            }
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    let Ok(addr) = rx.recv_timeout(Duration::from_secs(10)) else {
        let _ = child.kill();
        eprintln!("no `listening on` line");
        return ExitCode::from(1);
    };
    let pid = child.id();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let result = runtime.block_on(drive(&addr, inputs, seed, pid));
    let alive = child.try_wait().map(|s| s.is_none()).unwrap_or(false);
    let _ = child.kill();
    let _ = child.wait();
    match result {
        Ok(peak) if alive => {
            println!(
                "serve: {inputs} inputs over TCP in {:.0}s, seed {seed:#x}: no crash, no hang, \
                 every connection closed, a client served after them; peak RSS {} MiB; {} log lines",
                started.elapsed().as_secs_f64(),
                peak / 1024,
                lines.load(Ordering::Relaxed)
            );
            ExitCode::SUCCESS
        }
        Ok(_) => {
            eprintln!("serve exited during the run");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("serve: {e}");
            ExitCode::from(1)
        }
    }
}

/// Sends every input, `WORKERS` connections at a time; returns the peak
/// RSS seen (KiB).
async fn drive(addr: &str, inputs: u64, seed: u64, pid: u32) -> Result<u64, String> {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WORKERS {
        let addr = addr.to_string();
        tasks.spawn(async move { worker(&addr, w, inputs, seed, pid).await });
    }
    let mut peak = 0;
    while let Some(done) = tasks.join_next().await {
        peak = peak.max(done.map_err(|e| e.to_string())??);
    }
    // Still serving: a fresh client gets its CONNACK.
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("no connection after the run: {e}"))?;
    let connect = wire::encode(&connect_packet(LEVEL_V311, "after"), LEVEL_V311)
        .map_err(|e| e.to_string())?;
    s.write_all(&connect).await.map_err(|e| e.to_string())?;
    let mut ack = [0u8; 4];
    tokio::time::timeout(CLOSE_WAIT, s.read_exact(&mut ack))
        .await
        .map_err(|_| "no CONNACK after the run".to_string())?
        .map_err(|e| format!("no CONNACK after the run: {e}"))?;
    if ack != [0x20, 0x02, 0x00, 0x00] {
        return Err(format!("CONNACK after the run: {ack:02x?}"));
    }
    Ok(peak.max(rss_kib(pid)))
}

/// Inputs `w`, `w + WORKERS`, ... each on its own connection; each level's
/// inputs come from its own seeded generator, as in `wire_fuzz`.
async fn worker(addr: &str, w: u64, inputs: u64, seed: u64, pid: u32) -> Result<u64, String> {
    let mut gens = [LEVEL_V311, LEVEL_V5].map(|level| {
        let samples = if level == LEVEL_V5 {
            fuzz::samples_v5()
        } else {
            fuzz::samples_v4()
        };
        let encoded = fuzz::encode_all(&samples, level).expect("samples encode");
        (
            level,
            ChaCha8Rng::seed_from_u64(seed ^ w ^ u64::from(level) << 32),
            encoded,
        )
    });
    let mut bytes = Vec::new();
    let mut peak = 0;
    let mut i = w;
    while i < inputs {
        let (level, rng, encoded) = &mut gens[(i / WORKERS % 2) as usize];
        fuzz::input(rng, i, *level, encoded, &mut bytes);
        let connect = wire::encode(&connect_packet(*level, &format!("f{w}")), *level)
            .map_err(|e| e.to_string())?;
        one(addr, &connect, &bytes).await.map_err(|e| {
            format!(
                "input {i} ({} bytes {:02x?}...): {e}",
                bytes.len(),
                &bytes[..bytes.len().min(16)]
            )
        })?;
        if i % 10_000 == w {
            peak = peak.max(rss_kib(pid));
            if peak > RSS_MAX_KIB {
                return Err(format!(
                    "RSS {peak} KiB over {RSS_MAX_KIB} KiB at input {i}"
                ));
            }
        }
        i += WORKERS;
    }
    Ok(peak)
}

/// One connection: CONNECT, the input, EOF; then everything the broker
/// sends until it closes, within `CLOSE_WAIT`.
async fn one(addr: &str, connect: &[u8], input: &[u8]) -> Result<(), String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // The broker may close before reading it all: a failed write is fine.
    let _ = s.write_all(connect).await;
    let _ = s.write_all(input).await;
    let _ = s.shutdown().await;
    let mut sink = vec![0u8; 64 * 1024];
    let closed = tokio::time::timeout(CLOSE_WAIT, async {
        loop {
            match s.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    closed.map_err(|_| format!("not closed within {CLOSE_WAIT:?} of EOF"))
}

fn connect_packet(level: u8, id: &str) -> Packet {
    Packet::Connect(Connect {
        protocol_name: "MQTT".into(),
        protocol_level: level,
        client_id: id.into(),
        clean: true,
        keep_alive_s: 30,
        will: None,
        username: None,
        password: None,
        properties: Default::default(),
    })
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}
