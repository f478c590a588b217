#!/usr/bin/env python3
"""Instruction counts per delivered message (noise-free, unlike wall-clock throughput on a shared
machine): runs a broker under valgrind --tool=callgrind with the benchmark's config, drives it
with a count-bounded bench/loadgen run, counts only the measured phase (callgrind_control
--zero at the load generator's "phase start", --dump at "phase end") and prints the
instructions (Ir) of that phase divided by the messages delivered. The dump file stays in
--out for callgrind_annotate (function-level hot spots; use the unstripped build, e.g.
.build-x86_64-generic/x86_64-unknown-linux-gnu/release/midge, copied without its DWARF).

Usage: bench/profile.py [--broker midge|mosquitto] [--binary PATH] [--out DIR] -- LOADGEN ARGS
  (--storm N: instructions per connection instead of per message)
  e.g. bench/profile.py -- --topology p2p --pubs 16 --qos 0 --payload 4096 --count 500
"""
import argparse, json, re, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (configs, ports, loadgen build location)

ROOT = bench.ROOT


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", default="midge", choices=["midge", "mosquitto"])
    ap.add_argument("--binary", default="")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("loadgen", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    args = [x for x in a.loadgen if x != "--"]
    if "--count" not in args and "--storm" not in args:
        sys.exit("profile.py: give the load generator a --count (a count-bounded run) or --storm N")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    binary = a.binary or "/usr/sbin/mosquitto"
    if a.broker == "midge" and not a.binary:
        # valgrind 3.19 cannot read the DWARF 5 the Swift toolchain writes: keep the symbol
        # table (function names) and drop the debug sections.
        binary = str(out / "midge-syms")
        subprocess.run(["objcopy", "--strip-debug",
                        str(ROOT / ".build-x86_64-generic/x86_64-unknown-linux-gnu/release/midge"), binary], check=True)
    bench.OUT.mkdir(exist_ok=True)
    subprocess.run(["gcc", "-O2", "-o", str(bench.OUT / "loadgen"), str(ROOT / "bench/loadgen.c")], check=True)
    dump = out / f"callgrind.{a.broker}.out"
    for old in out.glob(f"callgrind.{a.broker}.out*"):
        old.unlink()
    with tempfile.TemporaryDirectory() as wd:
        wrap = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={dump}"]
        proc, port = bench.start(a.broker, binary, wd, wrap=wrap)
        try:
            lg = subprocess.Popen(["taskset", "-c", "0", str(bench.OUT / "loadgen"), "--port", str(port),
                                   "--timeout", "600", "--duration", "600", "--drain", "20", *args], stdout=subprocess.PIPE, text=True)
            result = None
            for line in lg.stdout:
                if line.startswith("phase start"):
                    subprocess.run(["callgrind_control", "--zero", str(proc.pid)], check=True,
                                   stdout=subprocess.DEVNULL)
                elif line.startswith("phase end"):
                    subprocess.run(["callgrind_control", "--dump=phase", str(proc.pid)], check=True,
                                   stdout=subprocess.DEVNULL)
                elif line.startswith("{"):
                    result = json.loads(line)
            lg.wait(timeout=600)
        finally:
            bench.stop(proc)
    dumps = sorted(p for p in out.glob(f"callgrind.{a.broker}.out.*"))
    if result is None or not dumps:
        sys.exit("profile.py: no load generator result or no callgrind dump")
    phase = dumps[0]
    total = None
    for line in phase.read_text(errors="replace").splitlines():
        m = re.match(r"(?:summary|totals):\s+(\d+)", line)
        if m:
            total = int(m.group(1))
    # A storm counts connections (CONNECT, CONNACK, DISCONNECT) instead of messages.
    done = result["received"] if "received" in result else int(args[args.index("--storm") + 1])
    msgs = max(done, 1)
    print(json.dumps({"broker": a.broker, "args": " ".join(args), "received": done,
                      "ok": result["ok"], "Ir": total, "Ir_per_msg": round(total / msgs, 1),
                      "dump": str(phase)}))


if __name__ == "__main__":
    main()
