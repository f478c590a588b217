#!/usr/bin/env python3
"""midge against Mosquitto (and FlashMQ), side by side: throughput scenarios, alternating brokers in one run.

Builds bench/loadgen.c into bench/results/ (gitignored), then for every scenario and round
starts midge (static product binary) and Mosquitto in turn on 127.0.0.1, the broker pinned
to CPU 1 and the load generator to CPU 0 (taskset), runs the same load and records msg/s,
broker CPU per delivered message (utime+stime from /proc/PID/stat between the load
generator's "phase start" and "phase end"), the load generator's own CPU, latency and the
loss/dup/order/corruption checks. Prints a markdown table of medians with midge/Mosquitto
ratios and p50/p99 latency. --flashmq PATH adds FlashMQ (built from source outside the repo,
see BENCHMARKS.md) as a third broker in every part, with one worker thread, and midge/FlashMQ
ratios. Then, on count-bounded runs: syscalls per delivered message (strace -c -f around the
broker), allocations per delivered message (midge counts its own and prints them at exit;
Mosquitto through the LD_PRELOAD shim bench/alloccount.c), connections per second in a
connection storm, a payload sweep (full run only) and RSS per idle connection
(bench/idle_rss.py, full run only). --qemu PREFIX runs the midge side under qemu-user
(relative figures only).

Scenarios may carry their own config: "default" runs every broker on its default config
(listener and anonymous access only), "set" changes keys of the benchmark config per broker,
and "phone" leaves one full offline persistent session behind before the load (a 3.1.1
client "phone", clean session 0, subscribed to bench/# at QoS 1, disconnected), so every
message also goes to a queue that fills up; after the load the phone returns and the
messages it gets are counted.

Usage: bench/run.py [--quick] [--rounds N] [--midge dist/x86_64-generic/midge] [--qemu qemu-aarch64-static]
                    [--flashmq /work/flashmq-build/flashmq] [--only 'SCENARIO TEXT' ...]
"""
import argparse, json, os, resource, statistics, subprocess, sys, tempfile, time, socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
HZ = os.sysconf("SC_CLK_TCK")
QEMU = []  # --qemu: the midge side runs under qemu-user

MIDGE_CONF = ["max_connections 2048", "memory_budget 256MiB", "max_queued_messages 100000",
              "max_inflight_messages 32"]
MOSQ_CONF = ["allow_anonymous true", "max_connections -1", "persistence false", "set_tcp_nodelay true",
             "max_queued_messages 100000", "max_inflight_messages 32"]
# FlashMQ (flashmq.conf(5)): one worker thread (the broker is pinned to one core); no storage_dir
# (persistence off); tcp_nodelay on the listener (FLASHMQ_LISTEN). It has no separate in-flight
# window: max_qos_msg_pending_per_client bounds a session's unacknowledged QoS 1/2 messages,
# in flight and queued alike (3.1.1 clients get it as their window, MQTT 5 clients as Receive
# Maximum), so it stands for max_queued_messages, at its maximum 65535 (a uint16). Its byte
# bound only applies to persistent sessions' queues; raised so that the message count binds,
# as in midge and Mosquitto (max_queued_bytes 0). rlimit_nofile: the hard limit we have (its
# default, 1000000, fails without CAP_SYS_RESOURCE and logs an error).
FLASHMQ_CONF = ["thread_count 1", "allow_anonymous true", "max_qos_msg_pending_per_client 65535",
                "max_qos_bytes_pending_per_client 16777216",
                f"rlimit_nofile {resource.getrlimit(resource.RLIMIT_NOFILE)[1]}"]
FLASHMQ_LISTEN = ["tcp_nodelay true"]
BENCH_CONF = {"midge": MIDGE_CONF, "mosquitto": MOSQ_CONF, "flashmq": FLASHMQ_CONF}
# Each broker's default config: the listener and anonymous access only (FlashMQ keeps one worker
# thread: it sizes the broker to the one core it is pinned to, it is not a limit).
DEFAULT_CONF = {"midge": ["allow_anonymous true"], "mosquitto": ["allow_anonymous true"],
                "flashmq": ["thread_count 1", "allow_anonymous true"]}
NAMES = {"midge": "midge", "mosquitto": "Mosquitto", "flashmq": "FlashMQ"}

# max_queued_messages at Mosquitto's and midge's default (1000) for the phone's queue. FlashMQ's
# max_qos_msg_pending_per_client is also a live 3.1.1 subscriber's window, hence the end-to-end
# window of 1000 in the rows that use 1000-message queues: a live subscriber's backlog then
# never reaches the limit, so a loss or a stall there is the broker's, not one the load caused.
QUEUE_1000 = {"midge": {"max_queued_messages": "1000"}, "mosquitto": {"max_queued_messages": "1000"},
              "flashmq": {"max_qos_msg_pending_per_client": "1000"}}

SCENARIOS = [  # name, loadgen args, options: conf "default" (each broker's default config), set
    # {kind: {key: value}} (changes to the benchmark config), phone (a full offline persistent
    # session present), full_only (not in --quick)
    ("p2p QoS 0 (16 pairs)", ["--topology", "p2p", "--pubs", "16", "--qos", "0"], {}),
    ("p2p QoS 1 (16 pairs, 32 in flight)", ["--topology", "p2p", "--pubs", "16", "--qos", "1"], {}),
    ("p2p QoS 2 (16 pairs, 32 in flight)", ["--topology", "p2p", "--pubs", "16", "--qos", "2"], {}),
    ("fan-in 16->1 QoS 0", ["--topology", "fanin", "--pubs", "16", "--qos", "0"], {}),
    ("fan-in 16->1 QoS 1", ["--topology", "fanin", "--pubs", "16", "--qos", "1"], {}),
    ("fan-out 1->16 QoS 0", ["--topology", "fanout", "--subs", "16", "--qos", "0", "--window", "16000"], {}),
    ("fan-out 1->1000 QoS 0", ["--topology", "fanout", "--subs", "1000", "--qos", "0", "--window", "64000"],
     {"full_only": True}),
    ("latency p2p QoS 0 at 10k msg/s", ["--topology", "p2p", "--pubs", "16", "--qos", "0", "--rate", "10000"], {}),
    ("p2p QoS 1 default config (16 pairs, window 1000)",
     ["--topology", "p2p", "--pubs", "16", "--qos", "1", "--window", "1000"], {"conf": "default"}),
    ("phone: p2p QoS 1 (16 pairs, window 1000), full offline session, queue limit 1k",
     ["--topology", "p2p", "--pubs", "16", "--qos", "1", "--window", "1000"], {"set": QUEUE_1000, "phone": True}),
]


def payload_window(payload):
    """Deliveries outstanding per publisher in the payload sweep: at most 512 KiB, at most 2000."""
    return max(16, min(2000, (512 << 10) // payload))


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def config_text(kind, port, conf=None):
    """The broker's config file: the benchmark config, or with conf={"default": True} the broker's
    default config; conf["set"] = {key: value} replaces (or adds) keys."""
    conf = conf or {}
    lines = list(DEFAULT_CONF[kind] if conf.get("default") else BENCH_CONF[kind])
    for key, value in conf.get("set", {}).items():
        at = [i for i, l in enumerate(lines) if l.split()[0] == key]
        if at: lines[at[0]] = f"{key} {value}"
        else: lines.append(f"{key} {value}")
    if kind == "flashmq":
        listen = ["protocol mqtt", "inet_protocol ip4", "inet4_bind_address 127.0.0.1", f"port {port}",
                  *([] if conf.get("default") else FLASHMQ_LISTEN)]
        return "\n".join(lines) + "\nlisten {\n" + "".join(f"  {l}\n" for l in listen) + "}\n"
    return f"listener {port} 127.0.0.1\n" + "\n".join(lines) + "\n"


def start(kind, binary, workdir, wrap=(), env=None, conf=None):
    port = free_port()
    path = Path(workdir) / f"{kind}.conf"
    path.write_text(config_text(kind, port, conf))
    prefix = QEMU if kind == "midge" and QEMU else []
    err = open(Path(workdir) / f"{kind}.stderr", "w")
    # FlashMQ logs to stdout without a log_file: keep its log with the others' (stderr).
    p = subprocess.Popen(["taskset", "-c", "1", *wrap, *prefix, binary, "-c", str(path)],
                         stdout=err if kind == "flashmq" else subprocess.DEVNULL, stderr=err, env=env)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); return p, port
        except OSError:
            time.sleep(0.05)
    p.kill(); raise RuntimeError(f"{kind} did not start")


def mqtt_packet(sock, deadline):
    """One MQTT packet (type byte, body) from a blocking socket, or None at EOF or the deadline."""
    def take(n):
        b = b""
        while len(b) < n:
            left = deadline - time.monotonic()
            if left <= 0: return None
            sock.settimeout(left)
            try:
                chunk = sock.recv(n - len(b))
            except socket.timeout:
                return None
            if not chunk: return None
            b += chunk
        return b
    h = take(1)
    if h is None: return None
    n, shift = 0, 0
    while True:
        b = take(1)
        if b is None: return None
        n |= (b[0] & 0x7F) << shift
        shift += 7
        if not b[0] & 0x80: break
    body = take(n) if n else b""
    return None if body is None else (h[0], body)


PHONE_CONNECT = bytes([0x10, 17, 0, 4]) + b"MQTT" + bytes([4, 0x00, 0, 0, 0, 5]) + b"phone"  # 3.1.1, clean session 0


def phone_leave(port):
    """The phone: a persistent session (clean session 0, client id "phone") subscribed to bench/#
    at QoS 1 (the load generator's topics are bench/<run tag>/..., the tag unpredictable), then
    gone: every message of the run is queued for it until its queue is full."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(PHONE_CONNECT)
        p = mqtt_packet(s, time.monotonic() + 5)
        if not p or p[0] >> 4 != 2 or p[1][1] != 0: raise RuntimeError(f"phone: CONNACK {p}")
        f = b"bench/#"
        s.sendall(bytes([0x82, 2 + 2 + len(f) + 1, 0, 1, 0, len(f)]) + f + bytes([1]))
        p = mqtt_packet(s, time.monotonic() + 5)
        if not p or p[0] >> 4 != 9 or p[1][2:] != bytes([1]): raise RuntimeError(f"phone: SUBACK {p}")
        s.sendall(bytes([0xE0, 0]))


def phone_return(port):
    """The phone comes back (clean session 0): the messages its session kept, each acknowledged,
    counted until nothing arrives for 1 s (at most 20 s)."""
    got = 0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(PHONE_CONNECT)
        end = time.monotonic() + 20
        while True:
            p = mqtt_packet(s, min(end, time.monotonic() + 1.0))
            if p is None: break
            kind, body = p[0] >> 4, p[1]
            if kind == 3:
                got += 1
                qos = (p[0] >> 1) & 3
                if qos:
                    tl = int.from_bytes(body[:2], "big")
                    pid = body[2 + tl:4 + tl]
                    s.sendall(bytes([0x40 if qos == 1 else 0x50, 2]) + pid)
            elif kind == 6:  # PUBREL (QoS 2): complete it
                s.sendall(bytes([0x70, 2]) + body[:2])
        try:
            s.sendall(bytes([0xE0, 0]))
        except OSError:
            pass
    return got


def run_one(kind, binary, args, duration, workdir, wrap=(), env=None, on_phase=None, opts=None):
    opts = opts or {}
    conf = {"default": opts.get("conf") == "default", "set": opts.get("set", {}).get(kind, {})}
    proc, port = start(kind, binary, workdir, wrap, env, conf)
    try:
        if opts.get("phone"): phone_leave(port)
        limit = ["--duration", str(duration)] if duration else []
        lg = subprocess.Popen(["taskset", "-c", "0", str(OUT / "loadgen"), "--port", str(port),
                               *limit, *args], stdout=subprocess.PIPE, text=True)
        c0 = c1 = 0
        result = None
        for line in lg.stdout:
            if line.startswith("phase start"): c0 = cpu_ticks(proc.pid); on_phase and on_phase(0)
            elif line.startswith("phase end"): c1 = cpu_ticks(proc.pid); on_phase and on_phase(1)
            elif line.startswith("{"): result = json.loads(line)
        lg.wait(timeout=120)
        if result is None: raise RuntimeError(f"loadgen failed against {kind}")
        result["broker_cpu_s"] = (c1 - c0) / HZ
        if duration:
            # The load generator divides by the time to the last receipt: when a broker stops
            # delivering early (its publishers held back) that would inflate the rate, so the
            # rate is over the publishing time at least. The same as before for a healthy run.
            result["msg_per_s_loadgen"] = result["msg_per_s"]
            result["rate_s"] = max(result["elapsed_s"], duration)
            result["msg_per_s"] = result["received"] / result["rate_s"]
        if opts.get("phone"): result["phone_got"] = phone_return(port)
        return result
    finally:
        stop(proc)


def stop(proc):
    """SIGTERM to the broker itself (under strace: strace's child), then wait for the whole chain."""
    kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    target = proc.pid
    if kids.exists() and kids.read_text().split() and Path(f"/proc/{proc.pid}/comm").read_text().strip() == "strace":
        target = int(kids.read_text().split()[0])
    os.kill(target, 15)
    proc.wait(timeout=30)


# Count-bounded runs for per-message costs: 16 pairs x COUNT messages each.
COST_SCENARIOS = [
    ("p2p QoS 0", ["--topology", "p2p", "--pubs", "16", "--qos", "0", "--count", "4000"]),
    ("p2p QoS 1", ["--topology", "p2p", "--pubs", "16", "--qos", "1", "--count", "4000"]),
    ("fan-out 1->16 QoS 0", ["--topology", "fanout", "--subs", "16", "--qos", "0", "--count", "4000",
                             "--window", "16000"]),
]


def syscalls(kind, binary, args, wd):
    """Syscalls made by the broker over a whole count-bounded run (startup and shutdown
    included, a few hundred), per delivered message."""
    out = Path(wd) / f"{kind}.strace"
    r = run_one(kind, binary, args, 0, wd, wrap=["strace", "-f", "-c", "-o", str(out)])
    total = [l.split() for l in out.read_text().splitlines() if l.rstrip().endswith("total")]
    calls = int(total[-1][3])
    return calls / max(r["received"], 1), r


def allocations(kind, binary, args, wd):
    """malloc-family calls between the load generator's phase start and end, per delivered message."""
    if kind == "midge":
        r = run_one(kind, binary, args, 0, wd)
        err = (Path(wd) / "midge.stderr").read_text()
        line = [l for l in err.splitlines() if "allocations:" in l]
        if not line:
            return None, r  # built without the allocation guard (e.g. the host debug build)
        after = int(line[-1].split("at startup,")[1].split()[0])
        return after / max(r["received"], 1), r
    counter = Path(wd) / "alloc.count"
    counter.write_bytes(bytes(8))
    env = dict(os.environ, LD_PRELOAD=str(OUT / "alloccount.so"), ALLOC_COUNT_FILE=str(counter))
    seen = []
    r = run_one(kind, binary, args, 0, wd, env=env,
                on_phase=lambda _: seen.append(int.from_bytes(counter.read_bytes()[:8], "little")))
    return (seen[1] - seen[0]) / max(r["received"], 1), r


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"


def storm(kind, binary, wd, n):
    r = run_one(kind, binary, ["--storm", str(n), "--concurrency", "64"], 0, wd)
    return r["conn_per_s"] if r["ok"] else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1 s runs, 3 rounds, fewer scenarios")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--midge", default=str(ROOT / "dist/x86_64-generic/midge"))
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    ap.add_argument("--flashmq", default="", metavar="PATH",
                    help="also run FlashMQ (built from source outside the repo, see BENCHMARKS.md) in every part")
    ap.add_argument("--qemu", default="", help="run midge under this qemu-user binary (relative figures only)")
    ap.add_argument("--only", action="append", default=[], metavar="TEXT",
                    help="run only the throughput scenarios whose name contains TEXT (repeatable; payload "
                         "rows included, e.g. --only 'payload 4096'); skips the cost, storm and RSS parts")
    a = ap.parse_args()
    if a.qemu: QEMU.append(a.qemu)
    OUT.mkdir(exist_ok=True)
    subprocess.run(["gcc", "-O2", "-o", str(OUT / "loadgen"), str(ROOT / "bench/loadgen.c")], check=True)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(OUT / "alloccount.so"),
                    str(ROOT / "bench/alloccount.c")], check=True)
    duration = 1.0 if a.quick else 2.0
    scen = SCENARIOS if not a.quick else [s for s in SCENARIOS if not s[2].get("full_only")]
    if not a.quick or a.only:
        # The end-to-end window is bounded in bytes too (512 KiB per pair, at most 2000 messages):
        # with 2000 x 16 KiB = 32 MiB outstanding per pair a broker that bounds a client's
        # send queue (midge: max_queued_bytes, 1 MiB) must drop QoS 0, and the loss would be
        # the load's fault, not the broker's. Same window for every broker.
        scen = scen + [(f"payload {n} B p2p QoS 0", ["--topology", "p2p", "--pubs", "16", "--qos", "0",
                                                      "--payload", str(n), "--window", str(payload_window(n))], {})
                       for n in (16, 256, 1024, 4096, 16384)]
    if a.only:
        scen = [x for x in scen if any(t in x[0] for t in a.only)]
    brokers = [("midge", a.midge), ("mosquitto", a.mosquitto)] + ([("flashmq", a.flashmq)] if a.flashmq else [])
    fq = bool(a.flashmq)
    rows, phones = [], []
    with tempfile.TemporaryDirectory() as wd:
        for name, args, opts in scen:
            res = {k: [] for k, _ in brokers}
            for _ in range(a.rounds):
                for kind, b in brokers:
                    res[kind].append(run_one(kind, b, args, duration, wd, opts=opts))
            med = lambda k, key: statistics.median(r[key] for r in res[k])
            cpu = lambda k: statistics.median(r["broker_cpu_s"] / max(r["received"], 1) * 1e6 for r in res[k])
            lgcpu = lambda k: statistics.median(r["loadgen_cpu_s"] / r.get("rate_s", r["elapsed_s"]) for r in res[k])
            ok = lambda k: "yes" if all(r["ok"] for r in res[k]) else "NO (%s)" % ",".join(
                f"lost {r['lost']} dup {r['dup']} order {r['order']} corrupt {r['corrupt']}"
                + (f" closed {r['closed']}" if r["closed"] else "") + (f" unacked {r['unacked']}" if r["unacked"] else "")
                for r in res[k] if not r["ok"])
            row = {k: dict(rate=med(k, "msg_per_s"), cpu=cpu(k), p50=med(k, "lat_p50_us"), p99=med(k, "lat_p99_us"),
                           lg=lgcpu(k), ok=ok(k)) for k, _ in brokers}
            rows.append((name, row))
            if opts.get("phone"):
                phones.append((name, {k: [r["phone_got"] for r in res[k]] for k, _ in brokers}))
            print(f"  {name}: " + ", ".join(f"{k} {row[k]['rate']:.0f} msg/s" for k, _ in brokers), file=sys.stderr)
    print(f"\n{'quick' if a.quick else 'full'} run, {a.rounds} rounds, median; {duration} s per run\n")
    print("| scenario | midge msg/s | Mosquitto msg/s | ratio | midge CPU us/msg | Mosquitto CPU us/msg "
          "| midge p50 us | Mosquitto p50 us | midge p99 us | Mosquitto p99 us | loadgen CPU (midge/mosq) "
          "| loss-free midge | loss-free Mosquitto |"
          + (" FlashMQ msg/s | midge/FlashMQ | FlashMQ CPU us/msg | FlashMQ p50 us | FlashMQ p99 us "
             "| loadgen CPU (FlashMQ) | loss-free FlashMQ |" if fq else ""))
    print("|---" * (13 + (7 if fq else 0)) + "|")
    for name, r in rows:
        m, q = r["midge"], r["mosquitto"]
        line = (f"| {name} | {m['rate']:.0f} | {q['rate']:.0f} | {ratio(m['rate'], q['rate'])} | {m['cpu']:.2f} "
                f"| {q['cpu']:.2f} | {m['p50']:.0f} | {q['p50']:.0f} | {m['p99']:.0f} | {q['p99']:.0f} "
                f"| {m['lg']:.0%} / {q['lg']:.0%} | {m['ok']} | {q['ok']} |")
        if fq:
            f = r["flashmq"]
            line += (f" {f['rate']:.0f} | {ratio(m['rate'], f['rate'])} | {f['cpu']:.2f} | {f['p50']:.0f} "
                     f"| {f['p99']:.0f} | {f['lg']:.0%} | {f['ok']} |")
        print(line)
    for name, got in phones:
        print(f"\n{name}: messages the phone got when it returned after the run (per round): "
              + "; ".join(f"{NAMES[k]} {', '.join(map(str, v))}" for k, v in got.items()))
    if a.only:
        return 0
    kinds = tuple(brokers)
    print("\nPer delivered message, count-bounded runs (16 x 4000 messages; one run each):\n")
    print("| scenario | midge syscalls/msg | Mosquitto syscalls/msg | midge allocations/msg | Mosquitto allocations/msg |"
          " loss-free (midge/mosq) |" + (" FlashMQ syscalls/msg | FlashMQ allocations/msg (approx.) | loss-free FlashMQ |"
                                        if fq else ""))
    print("|---" * (6 + (3 if fq else 0)) + "|")
    with tempfile.TemporaryDirectory() as wd:
        for name, args in COST_SCENARIOS:
            sc = {k: syscalls(k, b, args, wd) for k, b in kinds}
            al = {k: allocations(k, b, args, wd) for k, b in kinds}
            fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
            okk = lambda k: "yes" if sc[k][1]["ok"] and al[k][1]["ok"] else "NO"
            line = (f"| {name} | {fmt(sc['midge'][0])} | {fmt(sc['mosquitto'][0])} | {fmt(al['midge'][0])} "
                    f"| {fmt(al['mosquitto'][0])} | {okk('midge')}/{okk('mosquitto')} |")
            if fq:
                line += f" {fmt(sc['flashmq'][0])} | {fmt(al['flashmq'][0])} | {okk('flashmq')} |"
            print(line)
        n = 2000 if a.quick else 10000
        st = {k: [] for k, _ in kinds}
        for _ in range(a.rounds):
            for k, b in kinds:
                st[k].append(storm(k, b, wd, n))
        m, q = statistics.median(st["midge"]), statistics.median(st["mosquitto"])
        line = (f"\nConnection storm ({n} x CONNECT/CONNACK/DISCONNECT, 64 at a time, median of {a.rounds}): "
                f"midge {m:.0f}/s, Mosquitto {q:.0f}/s, ratio {m / q:.2f}x")
        if fq:
            f = statistics.median(st["flashmq"])
            line += f"; FlashMQ {f:.0f}/s, midge/FlashMQ {ratio(m, f)}"
        print(line)
    if not a.quick and not QEMU:
        print()
        sys.stdout.flush()
        subprocess.run([sys.executable, str(ROOT / "bench/idle_rss.py"), "--midge", a.midge, "--mosquitto",
                        a.mosquitto, "--rounds", str(a.rounds)], check=True)


if __name__ == "__main__":
    sys.exit(main())
