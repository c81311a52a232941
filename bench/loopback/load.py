#!/usr/bin/env python3
"""Loopback load: `mqtt-sim serve` and mosquitto side by side, same load.

Starts each broker on its own free loopback port, one after the other in
the same run, and runs the same load against each:

- **throughput**, for each client count N: N clients connect (MQTT 3.1.1,
  clean session), each subscribes at QoS 1 to its own topic `load/I`, and
  once all are subscribed each publishes MESSAGES QoS 1 messages to that
  topic, keeping WINDOW of them unacknowledged. Every message is routed
  back to its publisher, so N * MESSAGES messages are delivered. The figure
  is messages delivered per second, from the first PUBLISH to the last
  delivery.
- **many filters**: 100 sessions each subscribe to 1,000 filters that match
  nothing (`nm/S/J`), then one publisher sends QoS 1 messages to one
  subscriber (`rt/topic`, QoS 1). Measured before and after the 100
  sessions subscribe: the median round trip of one PUBLISH (publisher's
  write to the subscriber's read, one at a time), and the cost per PUBLISH
  of a burst (BURST messages, window WINDOW, wall time / BURST).

The clients are a minimal hand-written MQTT 3.1.1 client on one asyncio
event loop (no thread per connection), so 5,000 clients are 5,000 sockets
of one process. Whether the client or the broker was the limit is
reported: the CPU each used during the measured interval, as a share of
one core (both brokers are single-threaded). A broker well under 100% with
the client near 100% means the figure measures the client, not the broker.
On a machine busy with other work neither gets a whole core, so the
broker's CPU time per delivered message (from /proc) is reported too: it
does not depend on what else ran, and its ratio is the throughput ratio
the two brokers would have with a core each.

Bounded: loopback only (127.0.0.1, not configurable), at most CLIENTS_MAX
clients, every wait under a timeout (a run that times out reports what it
got, marked as such). Needs `ulimit -n` above 2 * N + 100 for N clients
(run.sh raises it). Prints a Markdown table; `--json FILE` also writes the
figures.
"""

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
# The most clients one measurement may open.
CLIENTS_MAX = 10_000
# Connections being opened at once (SYNs in flight); above the listen
# backlog, connects would wait for SYN retransmissions instead of the broker.
CONNECTS_AT_ONCE = 100
# The longest any one phase (connect, subscribe, publish) may take.
PHASE_TIMEOUT_S = 120.0
# How long a broker may take to start listening.
START_TIMEOUT_S = 10.0
# The many-filters case.
FILTER_SESSIONS = 100
FILTERS_PER_SESSION = 1_000
FILTERS_PER_SUBSCRIBE = 100
ROUND_TRIPS = 200
BURST = 2_000

# Messages each client publishes at least.
MESSAGES_MIN = 2

PAYLOAD = b"x" * 16


# ---------------------------------------------------------------- packets


def _remaining_length(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def packet(first, body):
    return bytes([first]) + _remaining_length(len(body)) + body


def connect_packet(client_id, keep_alive=0):
    # Protocol name, level 4 (3.1.1), flags: clean session. Keep alive 0
    # (off): a client waiting longer than 1.5 x its keep alive for a slow
    # broker would otherwise be disconnected, and these clients do not ping.
    return packet(0x10, _string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keep_alive)
                  + _string(client_id))


def subscribe_packet(pid, filters, qos=1):
    body = struct.pack("!H", pid) + b"".join(_string(f) + bytes([qos]) for f in filters)
    return packet(0x82, body)


def publish_qos1(topic, pid, payload=PAYLOAD):
    return packet(0x32, _string(topic) + struct.pack("!H", pid) + payload)


DISCONNECT = b"\xe0\x00"


# ---------------------------------------------------------------- client


class Conn(asyncio.Protocol):
    """One MQTT 3.1.1 connection. Parses what arrives, answers a QoS 1
    PUBLISH with PUBACK, and calls back the owner; everything it answers
    while handling one read goes out in one write."""

    def __init__(self, name, on_publish=None, on_puback=None):
        self.name = name
        self.buf = bytearray()
        self.transport = None
        self.connack = asyncio.get_running_loop().create_future()
        self.subacks = {}
        self.on_publish = on_publish
        self.on_puback = on_puback
        self.out = bytearray()
        self.lost = None

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.lost = exc or "closed by the broker"
        if not self.connack.done():
            self.connack.set_exception(ConnectionError(f"{self.name}: {self.lost}"))
        for f in self.subacks.values():
            if not f.done():
                f.set_exception(ConnectionError(f"{self.name}: {self.lost}"))

    def data_received(self, data):
        buf = self.buf
        buf += data
        pos = 0
        end = len(buf)
        while True:
            if end - pos < 2:
                break
            first = buf[pos]
            # Remaining length: at most 4 bytes.
            length = 0
            mult = 1
            i = pos + 1
            while True:
                if i >= end:
                    length = -1
                    break
                b = buf[i]
                length += (b & 0x7F) * mult
                i += 1
                if not b & 0x80:
                    break
                mult *= 128
            if length < 0 or i + length > end:
                break
            kind = first >> 4
            if kind == 3:
                tlen = (buf[i] << 8) | buf[i + 1]
                if first & 0x06:
                    p = i + 2 + tlen
                    self.out += b"\x40\x02" + buf[p:p + 2]
                if self.on_publish:
                    self.on_publish(self, bytes(buf[i + 2:i + 2 + tlen]))
            elif kind == 4:
                if self.on_puback:
                    self.on_puback(self, (buf[i] << 8) | buf[i + 1])
            elif kind == 2:
                if not self.connack.done():
                    code = buf[i + 1]
                    if code:
                        self.connack.set_exception(
                            ConnectionError(f"{self.name}: CONNACK return code {code}"))
                    else:
                        self.connack.set_result(None)
            elif kind == 9:
                pid = (buf[i] << 8) | buf[i + 1]
                codes = bytes(buf[i + 2:i + length])
                f = self.subacks.pop(pid, None)
                if f and not f.done():
                    if 0x80 in codes:
                        f.set_exception(ConnectionError(f"{self.name}: SUBACK refused {codes!r}"))
                    else:
                        f.set_result(codes)
            pos = i + length
        if pos:
            del buf[:pos]
        self.flush()

    def send(self, data):
        self.out += data

    def flush(self):
        if self.out and self.transport and not self.transport.is_closing():
            self.transport.write(bytes(self.out))
        self.out.clear()

    async def subscribe(self, pid, filters):
        f = asyncio.get_running_loop().create_future()
        self.subacks[pid] = f
        self.send(subscribe_packet(pid, filters))
        self.flush()
        return await f

    def close(self):
        if self.transport and not self.transport.is_closing():
            self.transport.write(DISCONNECT)
            self.transport.close()


async def open_conn(port, name, sem, **callbacks):
    async with sem:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: Conn(name, **callbacks), HOST, port)
        conn.send(connect_packet(name))
        conn.flush()
        await conn.connack
        return conn


async def within(what, aw):
    try:
        return await asyncio.wait_for(aw, PHASE_TIMEOUT_S)
    except asyncio.TimeoutError:
        raise TimeoutError(f"{what} did not finish within {PHASE_TIMEOUT_S:.0f}s") from None


# ---------------------------------------------------------------- CPU


def cpu_seconds(pid):
    """User + system CPU of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    def __init__(self, broker_pid):
        self.pid = broker_pid

    def __enter__(self):
        self.wall = time.perf_counter()
        self.broker = cpu_seconds(self.pid)
        self.client = time.process_time()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.wall
        self.elapsed = wall
        self.broker_cpu_s = cpu_seconds(self.pid) - self.broker
        self.broker_share = self.broker_cpu_s / wall
        self.client_share = (time.process_time() - self.client) / wall


# ---------------------------------------------------------------- loads


async def throughput(port, broker_pid, clients, messages, window):
    """N clients, each its own topic; returns the figures."""
    loop = asyncio.get_running_loop()
    expected = clients * messages
    state = {"delivered": 0}
    all_delivered = loop.create_future()
    # Per connection: how many it has still to publish, next packet id.
    left = {}
    topics = {}

    def on_publish(conn, topic):
        state["delivered"] += 1
        if state["delivered"] == expected and not all_delivered.done():
            all_delivered.set_result(None)

    def publish_next(conn):
        n = left[conn]
        if n:
            left[conn] = n - 1
            pid = messages - n + 1
            conn.send(publish_qos1(topics[conn], pid))

    def on_puback(conn, pid):
        publish_next(conn)

    sem = asyncio.Semaphore(CONNECTS_AT_ONCE)
    t = time.perf_counter()
    conns = await within(f"connecting {clients} clients", asyncio.gather(
        *(open_conn(port, f"load-{i}", sem, on_publish=on_publish, on_puback=on_puback)
          for i in range(clients))))
    connect_s = time.perf_counter() - t
    try:
        for i, c in enumerate(conns):
            topics[c] = f"load/{i}"
            left[c] = messages
        await within("subscribing", asyncio.gather(
            *(c.subscribe(1, [topics[c]]) for c in conns)))
        with CpuMeter(broker_pid) as cpu:
            for c in conns:
                for _ in range(min(window, messages)):
                    publish_next(c)
                c.flush()
            timed_out = False
            try:
                await asyncio.wait_for(asyncio.shield(all_delivered), PHASE_TIMEOUT_S)
            except asyncio.TimeoutError:
                timed_out = True
        lost = [c.name for c in conns if c.lost]
    finally:
        for c in conns:
            c.close()
        await asyncio.sleep(0.2)
    return {
        "clients": clients,
        "messages_per_client": messages,
        "window": window,
        "connect_s": round(connect_s, 3),
        "delivered": state["delivered"],
        "expected": expected,
        "seconds": round(cpu.elapsed, 4),
        "msgs_per_s": round(state["delivered"] / cpu.elapsed, 1),
        "broker_cpu": round(cpu.broker_share, 3),
        "client_cpu": round(cpu.client_share, 3),
        # Broker CPU per delivered message: what the throughput would be
        # bounded by with a core of its own, whatever else the machine ran.
        "broker_cpu_us_per_msg": round(cpu.broker_cpu_s / max(state["delivered"], 1) * 1e6, 2),
        # The same for the load client: if it is near the broker's, the client
        # would be the limit on an idle machine with a core for each.
        "client_cpu_us_per_msg": round(cpu.client_share * cpu.elapsed
                                       / max(state["delivered"], 1) * 1e6, 2),
        "timed_out": timed_out,
        "connections_lost": len(lost),
    }


async def many_filters(port, broker_pid, window):
    """Publish cost with and without 100 sessions of 1,000 non-matching
    filters."""
    loop = asyncio.get_running_loop()
    waiting = {"future": None, "count": 0, "target": 0}

    def on_publish(conn, topic):
        waiting["count"] += 1
        f = waiting["future"]
        if f and not f.done() and waiting["count"] >= waiting["target"]:
            f.set_result(time.perf_counter())

    acked = {"future": None, "left": 0, "next": 1}

    def on_puback(conn, pid):
        if acked["left"]:
            acked["left"] -= 1
            conn.send(publish_qos1("rt/topic", acked["next"] % 65535 + 1))
            acked["next"] += 1

    sem = asyncio.Semaphore(CONNECTS_AT_ONCE)
    sub = await within("connecting", open_conn(port, "rt-sub", sem, on_publish=on_publish))
    pub = await within("connecting", open_conn(port, "rt-pub", sem, on_puback=on_puback))
    await within("subscribing", sub.subscribe(1, ["rt/topic"]))

    async def measure():
        # Round trips, one at a time.
        samples = []
        for k in range(ROUND_TRIPS):
            waiting["future"] = loop.create_future()
            waiting["count"], waiting["target"] = 0, 1
            t = time.perf_counter()
            pub.send(publish_qos1("rt/topic", k % 65535 + 1))
            pub.flush()
            got = await within("a round trip", waiting["future"])
            samples.append(got - t)
        # A burst: BURST messages, `window` unacknowledged at most.
        await asyncio.sleep(0.1)
        waiting["future"] = loop.create_future()
        waiting["count"], waiting["target"] = 0, BURST
        with CpuMeter(broker_pid) as cpu:
            acked["left"] = BURST - window
            for _ in range(window):
                pub.send(publish_qos1("rt/topic", acked["next"] % 65535 + 1))
                acked["next"] += 1
            pub.flush()
            await within("a burst", waiting["future"])
        return {
            "round_trip_ms": round(statistics.median(samples) * 1e3, 4),
            "burst_ms_per_publish": round(cpu.elapsed / BURST * 1e3, 4),
            "burst_broker_cpu": round(cpu.broker_share, 3),
            "burst_broker_cpu_ms_per_publish": round(cpu.broker_cpu_s / BURST * 1e3, 4),
            "burst_client_cpu": round(cpu.client_share, 3),
        }

    result = {"without": await measure()}
    filter_conns = await within("connecting the filter sessions", asyncio.gather(
        *(open_conn(port, f"nm-{s}", sem) for s in range(FILTER_SESSIONS))))
    t = time.perf_counter()
    for s, c in enumerate(filter_conns):
        for b in range(FILTERS_PER_SESSION // FILTERS_PER_SUBSCRIBE):
            filters = [f"nm/{s}/{b * FILTERS_PER_SUBSCRIBE + j}"
                       for j in range(FILTERS_PER_SUBSCRIBE)]
            await within("subscribing the filters", c.subscribe(b + 1, filters))
    result["subscribe_s"] = round(time.perf_counter() - t, 3)
    result["with"] = await measure()
    for c in [sub, pub, *filter_conns]:
        c.close()
    await asyncio.sleep(0.2)
    return result


# ---------------------------------------------------------------- brokers


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_listening(port, proc, what):
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {START_TIMEOUT_S:.0f}s")


class Broker:
    """A broker process on a free loopback port, stopped by its PID."""

    def __init__(self, name, argv, port, workdir):
        self.name = name
        self.port = port
        self.log = open(os.path.join(workdir, f"{name}.log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        wait_listening(port, self.proc, name)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_serve(binary, workdir):
    port = free_port()
    return Broker("serve", [binary, "serve", "--listen", f"{HOST}:{port}"], port, workdir)


def start_mosquitto(binary, workdir):
    port = free_port()
    conf = os.path.join(workdir, "mosquitto.conf")
    # Like serve: no persistence, anonymous clients, 1,000 queued messages
    # per client (mosquitto's default too).
    with open(conf, "w") as f:
        f.write(f"listener {port} {HOST}\nallow_anonymous true\npersistence false\n"
                "max_queued_messages 1000\nlog_dest stdout\nlog_type error\nlog_type warning\n")
    return Broker("mosquitto", [binary, "-c", conf], port, workdir)


# ---------------------------------------------------------------- main


def ratio(a, b):
    """a / b as "1.23x", or "n/a" when b is 0 (a run too short for one
    clock tick of CPU time)."""
    return f"{a / b:.2f}x" if b else "n/a"


def bad_runs(results):
    """The measurements that count for nothing. A timed-out run still gives
    a throughput (what it delivered, over the time it had); lost
    connections or nothing delivered do not."""
    return [r for row in results["throughput"] for r in row.values()
            if r["connections_lost"] or not r["delivered"]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--serve", required=True, help="the mqtt-sim binary (release build)")
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto", help="the mosquitto binary")
    ap.add_argument("--clients", default="100,1000,5000",
                    help="client counts, comma-separated (default 100,1000,5000)")
    ap.add_argument("--total", type=int, default=50_000,
                    help="messages delivered per measurement, split over the clients "
                         "(at least MESSAGES_MIN each; default 50000)")
    ap.add_argument("--window", type=int, default=10,
                    help="unacknowledged QoS 1 messages per publisher (default 10)")
    ap.add_argument("--skip-filters", action="store_true", help="skip the many-filters case")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    counts = [int(n) for n in args.clients.split(",")]
    if any(n < 1 or n > CLIENTS_MAX for n in counts):
        sys.exit(f"load.py: client counts must be 1..{CLIENTS_MAX}")
    import resource
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if 2 * max(counts) + 100 > soft:
        sys.exit(f"load.py: ulimit -n is {soft}; {max(counts)} clients need {2 * max(counts) + 100}")

    load = os.getloadavg()
    workdir = tempfile.mkdtemp(prefix="mqtt-load-")
    starters = [("mosquitto", lambda: start_mosquitto(args.mosquitto, workdir)),
                ("serve", lambda: start_serve(args.serve, workdir))]
    results = {"load_average": load, "throughput": [], "many_filters": {}}
    for n in counts:
        messages = max(MESSAGES_MIN, args.total // n)
        row = {}
        for name, start in starters:
            broker = start()
            try:
                row[name] = asyncio.run(throughput(broker.port, broker.proc.pid, n, messages,
                                                   args.window))
            finally:
                broker.stop()
            print(f"{name} {n} clients: {json.dumps(row[name])}", file=sys.stderr)
        results["throughput"].append(row)
    if not args.skip_filters:
        for name, start in starters:
            broker = start()
            try:
                results["many_filters"][name] = asyncio.run(
                    many_filters(broker.port, broker.proc.pid, args.window))
            finally:
                broker.stop()
            print(f"{name} many filters: {json.dumps(results['many_filters'][name])}",
                  file=sys.stderr)
    if bad_runs(results):
        print(f"load.py: the brokers' logs are kept in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"Load average at the start: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} "
          f"({os.cpu_count()} cores)")
    print()
    print("| clients | msgs/client | mosquitto msg/s | serve msg/s | serve / mosquitto "
          "| broker CPU µs/msg, mosquitto / serve | serve / mosquitto by CPU "
          "| client CPU µs/msg, with mosquitto / with serve "
          "| CPU share broker / client, mosquitto | the same, serve |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in results["throughput"]:
        m, s = row["mosquitto"], row["serve"]
        note = lambda r: " (timed out: %d of %d)" % (r["delivered"], r["expected"]) \
            if r["timed_out"] else ""
        print(f"| {m['clients']:,} | {m['messages_per_client']} | {m['msgs_per_s']:,.0f}{note(m)} "
              f"| {s['msgs_per_s']:,.0f}{note(s)} | {ratio(s['msgs_per_s'], m['msgs_per_s'])} "
              f"| {m['broker_cpu_us_per_msg']:.1f} / {s['broker_cpu_us_per_msg']:.1f} "
              f"| {ratio(m['broker_cpu_us_per_msg'], s['broker_cpu_us_per_msg'])} "
              f"| {m['client_cpu_us_per_msg']:.1f} / {s['client_cpu_us_per_msg']:.1f} "
              f"| {m['broker_cpu']:.0%} / {m['client_cpu']:.0%} "
              f"| {s['broker_cpu']:.0%} / {s['client_cpu']:.0%} |")
    if results["many_filters"]:
        print()
        print(f"Many filters ({FILTER_SESSIONS} sessions x {FILTERS_PER_SESSION:,} non-matching "
              f"filters), ms per PUBLISH, without and with the filter sessions:")
        print()
        print("| broker | round trip, without / with | burst wall time, without / with "
              "| burst broker CPU, without / with | CPU share broker / client in the burst, with |")
        print("|---|---|---|---|---|")
        for name, r in results["many_filters"].items():
            w, o = r["with"], r["without"]
            print(f"| {name} | {o['round_trip_ms']:.3f} / {w['round_trip_ms']:.3f} "
                  f"| {o['burst_ms_per_publish']:.4f} / {w['burst_ms_per_publish']:.4f} "
                  f"| {o['burst_broker_cpu_ms_per_publish']:.4f} / "
                  f"{w['burst_broker_cpu_ms_per_publish']:.4f} "
                  f"| {w['burst_broker_cpu']:.0%} / {w['burst_client_cpu']:.0%} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 1 if bad_runs(results) else 0


if __name__ == "__main__":
    sys.exit(main())
