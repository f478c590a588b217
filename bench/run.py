#!/usr/bin/env python3
"""midge against Mosquitto, side by side: throughput scenarios, alternating brokers in one run.

Builds bench/loadgen.c into bench/results/ (gitignored), then for every scenario and round
starts midge (static product binary) and Mosquitto in turn on 127.0.0.1, the broker pinned
to CPU 1 and the load generator to CPU 0 (taskset), runs the same load and records msg/s,
broker CPU per delivered message (utime+stime from /proc/PID/stat between the load
generator's "phase start" and "phase end"), the load generator's own CPU, latency and the
loss/dup/order/corruption checks. Prints a markdown table of medians with midge/Mosquitto
ratios. Not yet covered here (see BENCHMARKS.md): payload sweep, strace syscall counts,
allocation counts, idle RSS (bench/idle_rss.py), connection storm, qemu smoke.

Usage: bench/run.py [--quick] [--rounds N] [--midge dist/x86_64-generic/midge]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time, socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
HZ = os.sysconf("SC_CLK_TCK")

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


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def start(kind, binary, workdir):
    port = free_port()
    conf = Path(workdir) / f"{kind}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\n" + "\n".join(MIDGE_CONF if kind == "midge" else MOSQ_CONF) + "\n")
    p = subprocess.Popen(["taskset", "-c", "1", binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); return p, port
        except OSError:
            time.sleep(0.05)
    p.kill(); raise RuntimeError(f"{kind} did not start")


def run_one(kind, binary, args, duration, workdir):
    proc, port = start(kind, binary, workdir)
    try:
        lg = subprocess.Popen(["taskset", "-c", "0", str(OUT / "loadgen"), "--port", str(port),
                               "--duration", str(duration), *args], stdout=subprocess.PIPE, text=True)
        c0 = c1 = 0
        result = None
        for line in lg.stdout:
            if line.startswith("phase start"): c0 = cpu_ticks(proc.pid)
            elif line.startswith("phase end"): c1 = cpu_ticks(proc.pid)
            elif line.startswith("{"): result = json.loads(line)
        lg.wait(timeout=120)
        if result is None: raise RuntimeError(f"loadgen failed against {kind}")
        result["broker_cpu_s"] = (c1 - c0) / HZ
        return result
    finally:
        proc.terminate(); proc.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1 s runs, 3 rounds, fewer scenarios")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--midge", default=str(ROOT / "dist/x86_64-generic/midge"))
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    a = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    subprocess.run(["gcc", "-O2", "-o", str(OUT / "loadgen"), str(ROOT / "bench/loadgen.c")], check=True)
    duration = 1.0 if a.quick else 2.0
    scen = SCENARIOS if not a.quick else [s for s in SCENARIOS if "1000" not in s[0]]
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


if __name__ == "__main__":
    sys.exit(main())
