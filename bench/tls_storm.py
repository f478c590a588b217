#!/usr/bin/env python3
"""A TLS reconnect storm: N clients connect at once (as after Wi-Fi returns), midge against Mosquitto.

Each round starts one broker (alternating) with a TLS listener (ECDSA P-256 certificate from the
test PKI) and a plain one. A healthy client on the plain listener publishes QoS 0 to its own
subscription every 10 ms and records the round-trip time. After 2 s, N threads each open a TLS
connection at the same moment, do a full TLS 1.2 handshake and MQTT CONNECT/CONNACK, and stay
connected; a client whose connection is closed or refused before CONNACK tries again after
0.1-0.2 s, doubling to at most 2 s (what client libraries do). Printed per round: the time until
all N have their CONNACK (or how many did within --deadline), the retries, and the healthy
client's round trip p50/p99 before and during the storm. Medians over rounds at the end.

  python3 bench/tls_storm.py [--midge dist/x86_64-generic/midge] [--clients 200] [--rounds 3]
"""

import argparse
import random
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from tls_handshakes import CONNACK, free_port, pki_and_client_context, wait_port  # noqa: E402


def connect_packet(client_id):
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(body)]) + body


def read_exact(s, n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            raise ConnectionError("closed")
        got += chunk
    return got


class Pinger(threading.Thread):
    """QoS 0 round trips on the plain listener: (send time, rtt in ms) samples."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.sendall(connect_packet("storm-pinger"))
        assert read_exact(self.s, 4) == CONNACK
        topic = b"storm/ping"
        sub = b"\x00\x01" + len(topic).to_bytes(2, "big") + topic + b"\x00"
        self.s.sendall(bytes([0x82, len(sub)]) + sub)
        read_exact(self.s, 5)  # SUBACK
        self.publish = bytes([0x30, 2 + len(topic) + 8]) + len(topic).to_bytes(2, "big") + topic
        self.samples = []
        self.running = True

    def run(self):
        while self.running:
            t = time.monotonic()
            self.s.sendall(self.publish + int(t * 1e9).to_bytes(8, "big"))
            read_exact(self.s, 2 + 2 + 10 + 8)
            self.samples.append((t, (time.monotonic() - t) * 1000))
            time.sleep(0.01)

    def between(self, a, b):
        return sorted(rtt for t, rtt in self.samples if a <= t < b)


def pct(values, p):
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def storm_client(i, port, ctx, start_at, deadline, done, retries, sockets):
    time.sleep(max(0, start_at - time.monotonic()))
    delay = 0.1
    while time.monotonic() < deadline:
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=5)
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.sendall(connect_packet(f"storm-{i}"))
            if read_exact(s, 4) != CONNACK:
                raise ConnectionError("refused")
            done[i] = time.monotonic()
            sockets[i] = s
            return
        except (OSError, ConnectionError, ssl.SSLError):
            retries[i] += 1
            time.sleep(delay * (1 + random.random()))
            delay = min(2.0, delay * 2)


def start(kind, args, d, pki):
    tls_port, plain_port = free_port(), free_port()
    tls_lines = [f"listener {tls_port} 127.0.0.1", f"certfile {pki['server.crt']}", f"keyfile {pki['server.key']}"]
    plain = [f"listener {plain_port} 127.0.0.1"]
    if kind == "mosquitto":
        conf = d / "mosquitto.conf"
        conf.write_text("\n".join(["per_listener_settings false", "allow_anonymous true", "max_connections -1",
                                   *plain, *tls_lines]) + "\n")
        cmd = [args.mosquitto, "-c", str(conf)]
    else:
        conf = d / "midge.conf"
        conf.write_text("\n".join([*plain, *tls_lines]) + "\n")
        cmd = [str(args.midge), "-c", str(conf)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(plain_port, proc)
    wait_port(tls_port, proc)
    return proc, tls_port, plain_port


def one_round(kind, args, d, pki, ctx):
    proc, tls_port, plain_port = start(kind, args, d, pki)
    try:
        pinger = Pinger(plain_port)
        pinger.start()
        time.sleep(2)
        n = args.clients
        start_at = time.monotonic() + 0.5
        deadline = start_at + args.deadline
        done, retries, sockets = [None] * n, [0] * n, [None] * n
        threads = [threading.Thread(target=storm_client, args=(i, tls_port, ctx, start_at, deadline, done, retries,
                                                                sockets), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.deadline + 10)
        finished = [t for t in done if t is not None]
        end = max(finished) if len(finished) == n else deadline
        pinger.running = False
        pinger.join(timeout=5)
        before = pinger.between(start_at - 2, start_at)
        during = pinger.between(start_at, end)
        for s in sockets:
            if s:
                s.close()
        return {"connected": len(finished), "seconds": end - start_at, "retries": sum(retries),
                "p50_before": pct(before, 0.5), "p99_before": pct(before, 0.99),
                "p50_during": pct(during, 0.5), "p99_during": pct(during, 0.99), "samples": len(during)}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--midge", default=ROOT / "dist" / "x86_64-generic" / "midge")
    p.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--deadline", type=float, default=60.0)
    args = p.parse_args()
    results = {"midge": [], "mosquitto": []}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        pki, ctx = pki_and_client_context(d)
        for r in range(args.rounds):
            for kind in (["midge", "mosquitto"] if r % 2 == 0 else ["mosquitto", "midge"]):
                x = one_round(kind, args, d, pki, ctx)
                results[kind].append(x)
                print(f"round {r + 1}: {kind:9s} {x['connected']}/{args.clients} connected in {x['seconds']:.2f} s, "
                      f"{x['retries']} retries; healthy client rtt p50/p99 {x['p50_before']:.2f}/"
                      f"{x['p99_before']:.2f} ms before, {x['p50_during']:.2f}/{x['p99_during']:.2f} ms during "
                      f"({x['samples']} samples)", flush=True)
    print(f"medians ({args.clients} TLS clients at once, ECDSA P-256, TLS 1.2, {args.rounds} rounds):")
    for kind, xs in results.items():
        med = {k: statistics.median(x[k] for x in xs) for k in xs[0]}
        print(f"  {kind:9s} all connected in {med['seconds']:.2f} s, {med['retries']:.0f} retries, healthy rtt "
              f"p50/p99 {med['p50_before']:.2f}/{med['p99_before']:.2f} ms before, "
              f"{med['p50_during']:.2f}/{med['p99_during']:.2f} ms during")


if __name__ == "__main__":
    main()
