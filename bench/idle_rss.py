#!/usr/bin/env python3
"""RSS per idle connection with one subscription: midge against Mosquitto, in one run.

Here's how it works: each round starts one broker on 127.0.0.1 (midge, then Mosquitto,
alternating), opens one warm-up client, reads VmRSS from /proc/<pid>/status, then opens N
clients that each CONNECT and SUBSCRIBE to their own topic and stay idle. Once every SUBACK has
arrived and the broker has settled, VmRSS is read again; (after - before) / N is the cost of
one idle connection with one subscription in the broker's own memory (kernel socket buffers
are not part of RSS). Rounds alternate so both brokers see the same machine state; the report
gives the median of ROUNDS rounds per broker and the ratio.

Usage: bench/idle_rss.py [--midge dist/x86_64-generic/midge] [--connections 1000 10000]
       [--rounds 3]. Needs /usr/sbin/mosquitto (Debian's mosquitto package).
"""

import argparse
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def mqtt_string(s):
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


def packet(first, body):
    n, out = len(body), b""
    while True:
        byte, n = n % 128, n // 128
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            break
    return bytes([first]) + out + body


def connect_packet(client_id):
    # CONNECT 3.1.1: "MQTT", level 4, clean session, keep alive 0 (idle forever), client id.
    return packet(0x10, mqtt_string("MQTT") + bytes([4, 0x02, 0, 0]) + mqtt_string(client_id))


def subscribe_packet(topic):
    return packet(0x82, (1).to_bytes(2, "big") + mqtt_string(topic) + bytes([0]))


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"broker did not listen on {port}")


def open_clients(port, count, prefix, timeout=60):
    """count clients: CONNECT then SUBSCRIBE, wait for CONNACK + SUBACK (9 bytes) each."""
    sel = selectors.DefaultSelector()
    socks = []
    deadline = time.monotonic() + timeout
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(connect_packet(f"{prefix}-{i}") + subscribe_packet(f"idle/{prefix}/{i}"))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, [0])
        socks.append(s)
    pending = count
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{pending} clients without CONNACK+SUBACK")
        for key, _ in sel.select(timeout=1):
            data = key.fileobj.recv(64)
            if not data:
                raise RuntimeError("broker closed a client")
            key.data[0] += len(data)
            if key.data[0] >= 9:  # CONNACK (4) + SUBACK (5)
                sel.unregister(key.fileobj)
                pending -= 1
    return socks


def measure(kind, binary, connections, workdir):
    port = free_port()
    conf = os.path.join(workdir, f"{kind}.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\n")
        if kind == "midge":
            f.write(f"max_connections {connections + 64}\nmemory_budget 64MiB\n")
        else:
            f.write("allow_anonymous true\nmax_connections -1\npersistence false\n")
    proc = subprocess.Popen([binary, "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        warm = open_clients(port, 1, f"{kind}-warm")
        time.sleep(0.5)
        before = rss_bytes(proc.pid)
        clients = open_clients(port, connections, kind)
        time.sleep(1.0)
        after = rss_bytes(proc.pid)
        for s in clients + warm:
            s.close()
        return (after - before) / connections
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--midge", default="dist/x86_64-generic/midge")
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    ap.add_argument("--connections", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    need = max(args.connections) + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need * 2, hard), hard))
    version = subprocess.run([args.mosquitto, "-h"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"RSS per idle connection with one subscription ({args.rounds} rounds, median)")
    print(f"midge: {args.midge}; mosquitto: {version}")
    with tempfile.TemporaryDirectory() as workdir:
        for n in args.connections:
            results = {"midge": [], "mosquitto": []}
            for _ in range(args.rounds):
                for kind, binary in (("midge", args.midge), ("mosquitto", args.mosquitto)):
                    results[kind].append(measure(kind, binary, n, workdir))
            m = statistics.median(results["midge"])
            q = statistics.median(results["mosquitto"])
            runs = lambda xs: ", ".join(f"{x:.0f}" for x in xs)
            print(f"  {n:6} connections: midge {m:7.0f} B  (runs {runs(results['midge'])})")
            print(f"  {n:6} connections: mosq  {q:7.0f} B  (runs {runs(results['mosquitto'])})")
            print(f"  {n:6} connections: midge / mosquitto = {m / q:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
