#!/usr/bin/env python3
"""Time one password check at CONNECT: $7$ (PBKDF2-SHA512) with 101 and 10000 iterations.

Here's how it works: a password_file holds three users whose $7$ entries differ only in the
iteration count (1, 101, 10000; made here with Python's hashlib, the same format as
mosquitto_passwd). midge is started with it (optionally under qemu-user), and for each user
COUNT sequential CONNECT/CONNACK exchanges with the right password are timed over fresh TCP
connections. The 1-iteration user is the baseline (TCP, CONNECT, one HMAC); the cost of one
check at N iterations is (time(N) - time(1)) / COUNT. The median of ROUNDS rounds is printed.

  python3 bench/auth_timing.py --midge dist/x86_64-generic/midge
  python3 bench/auth_timing.py --midge dist/raspberry-pi-4/midge --qemu qemu-aarch64-static
"""

import argparse
import base64
import hashlib
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time


def entry(user, password, iterations):
    salt = os.urandom(12)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"{user}:$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}\n"


def mqtt_string(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def connect_packet(user, password):
    body = mqtt_string("MQTT") + bytes([4, 0xC2, 0, 60]) + mqtt_string("") + mqtt_string(user) + mqtt_string(password)
    return bytes([0x10, len(body)]) + body


def one_connect(port, packet):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(packet)
        ack = b""
        while len(ack) < 4:
            chunk = s.recv(4 - len(ack))
            if not chunk:
                raise RuntimeError("closed before CONNACK")
            ack += chunk
        if ack != b"\x20\x02\x00\x00":
            raise RuntimeError(f"CONNACK {ack.hex()}")


def timed(port, user, count):
    packet = connect_packet(user, "pw")
    start = time.perf_counter()
    for _ in range(count):
        one_connect(port, packet)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--midge", required=True)
    ap.add_argument("--qemu", default="")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        pw = os.path.join(d, "passwd")
        with open(pw, "w") as f:
            for user, n in (("i1", 1), ("i101", 101), ("i10000", 10000)):
                f.write(entry(user, "pw", n))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        conf = os.path.join(d, "m.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\npassword_file {pw}\nmax_connections 64\n")
        cmd = ([args.qemu] if args.qemu else []) + [args.midge, "-c", conf]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    one_connect(port, connect_packet("i1", "pw"))
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        sys.exit("midge did not start")
                    time.sleep(0.05)
            per = {101: [], 10000: []}
            for _ in range(args.rounds):
                base = timed(port, "i1", args.count)
                for n in per:
                    per[n].append((timed(port, f"i{n}", args.count) - base) / args.count)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    where = f"under {args.qemu}" if args.qemu else "native"
    print(f"{args.midge} ({where}): one $7$ check, median of {args.rounds} rounds x {args.count} CONNECTs")
    for n, values in per.items():
        print(f"  {n:>6} iterations: {statistics.median(values) * 1000:9.3f} ms "
              f"(min {min(values) * 1000:.3f}, max {max(values) * 1000:.3f})")


if __name__ == "__main__":
    main()
