#!/usr/bin/env python3
"""midge against Mosquitto, side by side: throughput scenarios, alternating brokers in one run.

Builds bench/loadgen.c into bench/results/ (gitignored), then for every scenario and round
starts midge (static product binary) and Mosquitto in turn on 127.0.0.1, the broker pinned
to CPU 1 and the load generator to CPU 0 (taskset), runs the same load and records msg/s,
broker CPU per delivered message (utime+stime from /proc/PID/stat between the load
generator's "phase start" and "phase end"), the load generator's own CPU, latency and the
loss/dup/order/corruption checks. Prints a markdown table of medians with midge/Mosquitto
ratios. Then, on count-bounded runs: syscalls per delivered message (strace -c -f around the
broker), allocations per delivered message (midge counts its own and prints them at exit;
Mosquitto through the LD_PRELOAD shim bench/alloccount.c), connections per second in a
connection storm, a payload sweep (full run only) and RSS per idle connection
(bench/idle_rss.py, full run only). --qemu PREFIX runs the midge side under qemu-user
(relative figures only).

Usage: bench/run.py [--quick] [--rounds N] [--midge dist/x86_64-generic/midge] [--qemu qemu-aarch64-static]
                    [--only 'SCENARIO TEXT' ...]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time, socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
HZ = os.sysconf("SC_CLK_TCK")
QEMU = []  # --qemu: the midge side runs under qemu-user

MIDGE_CONF = ["max_connections 2048", "memory_budget 256MiB", "max_queued_messages 100000",
              "max_inflight_messages 32"]
MOSQ_CONF = ["allow_anonymous true", "max_connections -1", "persistence false", "set_tcp_nodelay true",
             "max_queued_messages 100000", "max_inflight_messages 32"]

SCENARIOS = [  # name, loadgen args
    ("p2p QoS 0 (16 pairs)", ["--topology", "p2p", "--pubs", "16", "--qos", "0"]),
    ("p2p QoS 1 (16 pairs, 32 in flight)", ["--topology", "p2p", "--pubs", "16", "--qos", "1"]),
    ("p2p QoS 2 (16 pairs, 32 in flight)", ["--topology", "p2p", "--pubs", "16", "--qos", "2"]),
    ("fan-in 16->1 QoS 0", ["--topology", "fanin", "--pubs", "16", "--qos", "0"]),
    ("fan-in 16->1 QoS 1", ["--topology", "fanin", "--pubs", "16", "--qos", "1"]),
    ("fan-out 1->16 QoS 0", ["--topology", "fanout", "--subs", "16", "--qos", "0", "--window", "16000"]),
    ("fan-out 1->1000 QoS 0", ["--topology", "fanout", "--subs", "1000", "--qos", "0", "--window", "64000"]),
    ("latency p2p QoS 0 at 10k msg/s", ["--topology", "p2p", "--pubs", "16", "--qos", "0", "--rate", "10000"]),
]


def payload_window(payload):
    """Deliveries outstanding per publisher in the payload sweep: at most 512 KiB, at most 2000."""
    return max(16, min(2000, (512 << 10) // payload))


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def start(kind, binary, workdir, wrap=(), env=None):
    port = free_port()
    conf = Path(workdir) / f"{kind}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\n" + "\n".join(MIDGE_CONF if kind == "midge" else MOSQ_CONF) + "\n")
    prefix = QEMU if kind == "midge" and QEMU else []
    p = subprocess.Popen(["taskset", "-c", "1", *wrap, *prefix, binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                         stderr=open(Path(workdir) / f"{kind}.stderr", "w"), env=env)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); return p, port
        except OSError:
            time.sleep(0.05)
    p.kill(); raise RuntimeError(f"{kind} did not start")


def run_one(kind, binary, args, duration, workdir, wrap=(), env=None, on_phase=None):
    proc, port = start(kind, binary, workdir, wrap, env)
    try:
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


def storm(kind, binary, wd, n):
    r = run_one(kind, binary, ["--storm", str(n), "--concurrency", "64"], 0, wd)
    return r["conn_per_s"] if r["ok"] else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1 s runs, 3 rounds, fewer scenarios")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--midge", default=str(ROOT / "dist/x86_64-generic/midge"))
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
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
    scen = SCENARIOS if not a.quick else [s for s in SCENARIOS if "1000" not in s[0]]
    if not a.quick or a.only:
        # The end-to-end window is bounded in bytes too (512 KiB per pair, at most 2000 messages):
        # with 2000 x 16 KiB = 32 MiB outstanding per pair a broker that bounds a client's
        # send queue (midge: max_queued_bytes, 1 MiB) must drop QoS 0, and the loss would be
        # the load's fault, not the broker's. Same window for both brokers.
        scen = scen + [(f"payload {n} B p2p QoS 0", ["--topology", "p2p", "--pubs", "16", "--qos", "0",
                                                      "--payload", str(n), "--window", str(payload_window(n))])
                       for n in (16, 256, 1024, 4096, 16384)]
    if a.only:
        scen = [x for x in scen if any(t in x[0] for t in a.only)]
    rows = []
    with tempfile.TemporaryDirectory() as wd:
        for name, args in scen:
            res = {"midge": [], "mosquitto": []}
            for _ in range(a.rounds):
                for kind, b in (("midge", a.midge), ("mosquitto", a.mosquitto)):
                    res[kind].append(run_one(kind, b, args, duration, wd))
            med = lambda k, key: statistics.median(r[key] for r in res[k])
            cpu = lambda k: statistics.median(r["broker_cpu_s"] / max(r["received"], 1) * 1e6 for r in res[k])
            lgcpu = lambda k: statistics.median(r["loadgen_cpu_s"] / r["elapsed_s"] for r in res[k])
            ok = lambda k: "yes" if all(r["ok"] for r in res[k]) else "NO (%s)" % ",".join(
                f"lost {r['lost']} dup {r['dup']} order {r['order']} corrupt {r['corrupt']}" for r in res[k] if not r["ok"])
            row = (name, med("midge", "msg_per_s"), med("mosquitto", "msg_per_s"), cpu("midge"), cpu("mosquitto"),
                   med("midge", "lat_p50_us"), med("mosquitto", "lat_p50_us"), lgcpu("midge"), lgcpu("mosquitto"),
                   ok("midge"), ok("mosquitto"))
            rows.append(row)
            print(f"  {name}: midge {row[1]:.0f} msg/s, mosquitto {row[2]:.0f} msg/s", file=sys.stderr)
    print(f"\n{'quick' if a.quick else 'full'} run, {a.rounds} rounds, median; {duration} s per run\n")
    print("| scenario | midge msg/s | Mosquitto msg/s | ratio | midge CPU us/msg | Mosquitto CPU us/msg "
          "| midge p50 us | Mosquitto p50 us | loadgen CPU (midge/mosq) | loss-free midge | loss-free Mosquitto |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.0f} | {r[2]:.0f} | {r[1] / r[2]:.2f}x | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.0f} | "
              f"{r[6]:.0f} | {r[7]:.0%} / {r[8]:.0%} | {r[9]} | {r[10]} |")
    if a.only:
        return 0
    kinds = (("midge", a.midge), ("mosquitto", a.mosquitto))
    print("\nPer delivered message, count-bounded runs (16 x 4000 messages; one run each):\n")
    print("| scenario | midge syscalls/msg | Mosquitto syscalls/msg | midge allocations/msg | Mosquitto allocations/msg |"
          " loss-free (midge/mosq) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as wd:
        for name, args in COST_SCENARIOS:
            sc = {k: syscalls(k, b, args, wd) for k, b in kinds}
            al = {k: allocations(k, b, args, wd) for k, b in kinds}
            fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
            ok = "/".join("yes" if sc[k][1]["ok"] and al[k][1]["ok"] else "NO" for k, _ in kinds)
            print(f"| {name} | {fmt(sc['midge'][0])} | {fmt(sc['mosquitto'][0])} | {fmt(al['midge'][0])} "
                  f"| {fmt(al['mosquitto'][0])} | {ok} |")
        n = 2000 if a.quick else 10000
        st = {k: [] for k, _ in kinds}
        for _ in range(a.rounds):
            for k, b in kinds:
                st[k].append(storm(k, b, wd, n))
        m, q = statistics.median(st["midge"]), statistics.median(st["mosquitto"])
        print(f"\nConnection storm ({n} x CONNECT/CONNACK/DISCONNECT, 64 at a time, median of {a.rounds}): "
              f"midge {m:.0f}/s, Mosquitto {q:.0f}/s, ratio {m / q:.2f}x")
    if not a.quick and not QEMU:
        print()
        sys.stdout.flush()
        subprocess.run([sys.executable, str(ROOT / "bench/idle_rss.py"), "--midge", a.midge, "--mosquitto",
                        a.mosquitto, "--rounds", str(a.rounds)], check=True)


if __name__ == "__main__":
    sys.exit(main())
