#!/usr/bin/env python3
"""Abuse probes for `mqtt-sim serve` and mosquitto, side by side (the
hardening issue's items 1, 3, 5 and 6); not run by `cargo test`.

usage: python3 tests/serve_abuse_probe.py <case> <new|old|mosq>
cases: deep (DEPTH levels, default 30000), flood, dup, props, topics,
unfinished (CONNS connections), wild (FILTERS filters), acl-retained,
acl-will, acl-takeover, sys, anon.
Prints one result line."""
import os, socket, struct, subprocess, sys, time, resource

resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
# The builds compared: this branch's and an older one (PROBE_OLD).
NEW = os.environ.get("PROBE_NEW", "target/debug/mqtt-sim")
OLD = os.environ.get("PROBE_OLD", "/work/main/target/debug/mqtt-sim")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

ACL_CASES = ("acl-retained", "acl-will", "acl-takeover")

def start(kind, port):
    acl = sys.argv[1] in ACL_CASES
    if kind == "mosq":
        conf = f"/tmp/mosq-probe-{port}.conf"
        text = f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        if acl:
            pw, af = f"/tmp/mosq-probe-{port}.pw", f"/tmp/mosq-probe-{port}.acl"
            open(pw, "w").write("alice:a-pass\nbob:b-pass\n")
            subprocess.run(["mosquitto_passwd", "-U", pw], check=True)
            open(af, "w").write("user alice\ntopic readwrite #\nuser bob\ntopic readwrite #\ntopic deny private/#\ntopic deny admin/#\n")
            text = f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {pw}\nacl_file {af}\n"
        open(conf, "w").write(text)
        p = subprocess.Popen(["/usr/sbin/mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        b = NEW if kind == "new" else OLD
        extra = []
        if acl:
            cf = f"/tmp/serve-probe-{port}.yaml"
            open(cf, "w").write("users: {alice: a-pass, bob: b-pass}\nacl:\n  - {deny: subscribe, topic: private/#, user: bob}\n  - {deny: [subscribe, publish], topic: admin/#, user: bob}\n")
            extra = ["--config", cf]
        p = subprocess.Popen([b, "serve", "--listen", f"127.0.0.1:{port}"] + extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close(); break
        except OSError:
            time.sleep(0.02)
    return p

def rl(n):
    out = b""
    while True:
        b = n % 128; n //= 128
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out

def s16(x): x = x.encode() if isinstance(x, str) else x; return struct.pack(">H", len(x)) + x

def connect(cid, clean=True):
    vh = s16("MQTT") + bytes([4, 0x02 if clean else 0]) + struct.pack(">H", 30)
    pl = s16(cid)
    return bytes([0x10]) + rl(len(vh + pl)) + vh + pl

def subscribe(filters, pid=1, qos=0):
    body = struct.pack(">H", pid) + b"".join(s16(f) + bytes([qos]) for f in filters)
    return bytes([0x82]) + rl(len(body)) + body

def publish(topic, payload, retain=False):
    body = s16(topic) + payload
    return bytes([0x30 | (1 if retain else 0)]) + rl(len(body)) + body

def connect_as(cid, user, pw, clean=True, will=None):
    flags = 0xC0 | (0x02 if clean else 0)
    pl = s16(cid)
    if will:
        topic, payload = will
        flags |= 0x04 | 0x08 | 0x20  # will, QoS 1, retained
        pl += s16(topic) + s16(payload)
    pl += s16(user) + s16(pw)
    vh = s16("MQTT") + bytes([4, flags]) + struct.pack(">H", 30)
    return bytes([0x10]) + rl(len(vh + pl)) + vh + pl

def login(port, cid, user, pw, clean=True, will=None):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.sendall(connect_as(cid, user, pw, clean, will))
    t, b = read_packet(s)
    assert t == 0x20 and b[1] == 0, (t, b)
    return s, b[0] & 1

def publish1(topic, payload, pid, retain=False):
    body = s16(topic) + struct.pack(">H", pid) + payload
    return bytes([0x32 | (1 if retain else 0)]) + rl(len(body)) + body

def topics_within(s, secs):
    s.settimeout(secs); got = []
    try:
        while True:
            r = read_packet(s)
            if r is None: break
            t, b = r
            if t >> 4 == 3:
                n = struct.unpack(">H", b[:2])[0]; got.append(b[2:2 + n].decode())
    except (socket.timeout, OSError):
        pass
    return got

def client(port, cid):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.sendall(connect(cid))
    d = s.recv(4)
    assert d[:1] == b"\x20", d
    return s

def read_packet(s):
    h = s.recv(1)
    if not h: return None
    mult, n = 1, 0
    while True:
        b = s.recv(1)[0]; n += (b & 127) * mult; mult *= 128
        if not b & 128: break
    body = b""
    while len(body) < n:
        c = s.recv(n - len(body))
        if not c: return None
        body += c
    return h[0], body

def rss_kb(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])

case, kind = sys.argv[1], sys.argv[2]
port = free_port(); p = start(kind, port)
try:
    if case == "deep":
        s = client(port, "deep")
        s.sendall(subscribe(["u" + "/" * int(os.environ.get("DEPTH", "30000"))]))
        time.sleep(0.5); s.close(); time.sleep(1.0)
        alive = p.poll() is None
        ok = False
        if alive:
            try: client(port, "after").close(); ok = True
            except Exception: pass
        print(f"deep {kind}: server alive={alive}, new client connects={ok}, exit={p.poll()}")
    elif case == "flood":
        silent = []
        t0 = time.time()
        for i in range(10050):
            try: silent.append(socket.create_connection(("127.0.0.1", port), 5))
            except OSError as e: print("open failed", i, e); break
        time.sleep(1.0)
        try:
            c = client(port, "real"); res = "CONNACK"
        except Exception as e:
            res = f"refused ({type(e).__name__}: {e})"
        print(f"flood {kind}: {len(silent)} silent connections in {time.time()-t0:.1f}s, then a real client: {res}")
    elif case == "dup":
        s = client(port, "pub")
        for i in range(10000):
            s.sendall(publish(f"r/{i}", b"x", retain=True))
        time.sleep(2)
        c = client(port, "sub")
        t0 = time.time()
        c.sendall(subscribe(["r/#"] * 100))
        while True:
            t, b = read_packet(c)
            if t == 0x90: break
        print(f"dup {kind}: SUBSCRIBE with 100 copies of r/# over 10,000 retained: SUBACK after {time.time()-t0:.2f}s")
    elif case == "props":
        # 3.1.1 cannot carry properties; measure a 5.0 publisher.
        def connect5(cid, clean, expiry):
            props = b"\x11" + struct.pack(">I", expiry)
            vh = s16("MQTT") + bytes([5, 0x02 if clean else 0]) + struct.pack(">H", 30) + rl(len(props)) + props
            pl = s16(cid)
            return bytes([0x10]) + rl(len(vh + pl)) + vh + pl
        def publish5(topic, pid, up):
            props = b"".join(b"\x26" + s16("k") + s16(up) for _ in range(8))
            body = s16(topic) + struct.pack(">H", pid) + rl(len(props)) + props + b"x"
            return bytes([0x32]) + rl(len(body)) + body
        s = socket.create_connection(("127.0.0.1", port), 5); s.sendall(connect5("sub", False, 3600)); read_packet(s)
        s.sendall(bytes([0x82]) + rl(2 + 3 + 1 + 1) + struct.pack(">H", 1) + b"\x00" + s16("t") + b"\x01"); read_packet(s)
        s.close(); time.sleep(0.3)
        before = rss_kb(p.pid)
        q = socket.create_connection(("127.0.0.1", port), 5); q.sendall(connect5("pub", True, 0)); read_packet(q)
        up = "v" * 60000
        for i in range(200):
            q.sendall(publish5("t", i + 1, up)); read_packet(q)
        time.sleep(0.5)
        print(f"props {kind}: 200 QoS 1 messages, 1-byte payload, 480 KB user properties each, to an offline session: RSS +{(rss_kb(p.pid)-before)//1024} MB")
    elif case == "topics":
        for i in range(500):
            s = socket.create_connection(("127.0.0.1", port), 5)
            s.sendall(connect(f"s{i}", clean=False)); read_packet(s)
            s.sendall(subscribe(["#"], qos=1)); read_packet(s)
            s.close()
        time.sleep(0.5)
        before = rss_kb(p.pid)
        q = client(port, "pub")
        for i in range(10):
            topic = f"t{i}/" + "x" * 60000
            body = s16(topic) + struct.pack(">H", i + 1) + b"x"
            q.sendall(bytes([0x32]) + rl(len(body)) + body); read_packet(q)
        time.sleep(1.0)
        print(f"topics {kind}: 500 offline # sessions, 10 QoS 1 messages with 60 KB topics: RSS +{(rss_kb(p.pid)-before)//1024} MB")
    elif case == "unfinished":
        # 100 connections, each with a 1 MB PUBLISH short of its last byte.
        n = int(os.environ.get("CONNS", "100")); size = 1 << 20
        before = rss_kb(p.pid); held = []
        for i in range(n):
            s = client(port, f"u{i}")
            body = s16("t") + b"x" * (size - 16)
            s.sendall((bytes([0x30]) + rl(len(body)) + body)[:-1]); held.append(s)
        time.sleep(1.0)
        print(f"unfinished {kind}: {n} connections, each 1 MB of an unfinished PUBLISH: RSS +{(rss_kb(p.pid)-before)//1024} MB ({(rss_kb(p.pid)-before)/n/1024:.2f} MB per connection)")
    elif case == "wild":
        # One SUBSCRIBE of N distinct wildcard filters over 10,000 retained.
        n = int(os.environ.get("FILTERS", "1000"))
        s = client(port, "pub")
        for i in range(10000):
            s.sendall(publish(f"r/{i}", b"x", retain=True))
        s.sendall(b"\xc0\x00"); read_packet(s)  # PINGREQ: all retained
        c = client(port, "sub")
        t0 = time.time()
        c.sendall(subscribe([f"+/{i}" for i in range(n)]))
        while True:
            t, b = read_packet(c)
            if t == 0x90: break
        print(f"wild {kind}: SUBSCRIBE of {n} distinct wildcard filters over 10,000 retained: SUBACK after {time.time()-t0:.2f}s")
    elif case == "acl-retained":
        a, _ = login(port, "alice", "alice", "a-pass")
        a.sendall(publish1("private/secret", b"s", 1, retain=True)); read_packet(a)
        res = []
        for f in ["#", "+/secret"]:
            b, _ = login(port, "bob", "bob", "b-pass")
            b.sendall(subscribe([f], qos=1))
            res.append(f"{f}: {[t for t in topics_within(b, 0.5) if t.startswith('private/')] or 'nothing'}")
            b.close()
        print(f"acl-retained {kind}: bob (denied private/#) subscribes, gets alice's retained " + "; ".join(res))
    elif case == "acl-will":
        w, _ = login(port, "watch", "alice", "a-pass")
        w.sendall(subscribe(["admin/#"], qos=1)); read_packet(w)
        b, _ = login(port, "bob", "bob", "b-pass", will=("admin/cmd", "reboot"))
        b.close()
        live = topics_within(w, 0.5)
        l, _ = login(port, "late", "alice", "a-pass")
        l.sendall(subscribe(["admin/#"], qos=1))
        kept = topics_within(l, 0.5)
        print(f"acl-will {kind}: bob's retained will to admin/cmd (publish denied): delivered {live or 'nothing'}, retained {kept or 'nothing'}")
    elif case == "acl-takeover":
        d, _ = login(port, "alice-dev", "alice", "a-pass", clean=False)
        d.sendall(subscribe(["private/#"], qos=1)); read_packet(d); d.close()
        time.sleep(0.2)
        a, _ = login(port, "alice", "alice", "a-pass")
        a.sendall(publish1("private/q", b"q", 1)); read_packet(a)
        time.sleep(0.2)
        try:
            b, present = login(port, "alice-dev", "bob", "b-pass", clean=False)
            got = topics_within(b, 0.5)
            print(f"acl-takeover {kind}: bob connects as alice-dev (clean 0): session present {present}, receives {got or 'nothing'}")
        except AssertionError as e:
            print(f"acl-takeover {kind}: bob connects as alice-dev: refused {e}")
    elif case == "sys":
        s = client(port, "p")
        s.sendall(publish1("$SYS/fake", b"x", 1, retain=True))
        r = read_packet(s)
        c = client(port, "q"); c.sendall(subscribe(["$SYS/fake"], qos=1))
        got = topics_within(c, 0.5)
        print(f"sys {kind}: a client publishes retained $SYS/fake: PUBACK {r is not None}, a subscriber then gets {got or 'nothing'}")
    elif case == "anon":
        held = []
        for i in range(10000):
            try: held.append(client(port, f"a{i}"))
            except Exception as e: print("connect failed", i, e); break
        try:
            c = client(port, "real"); res = "CONNACK"
        except Exception as e:
            res = f"refused ({type(e).__name__}: {e})"
        print(f"anon {kind}: {len(held)} connected anonymous sessions, then a real client: {res}")
finally:
    p.kill(); p.wait()
