#!/usr/bin/env python3
"""TLS handshakes per second: midge against Mosquitto on 127.0.0.1, same certificate.

Each round runs one broker, then the other (alternating, so that machine noise hits both), and
a client that does, one after the other for --seconds: a full TLS 1.2 handshake (no session
resumption; Python's ssl, i.e. OpenSSL), MQTT CONNECT / CONNACK, DISCONNECT, close. Prints
each round, the medians and the ratio midge / Mosquitto. The certificate (ECDSA P-256 by
default, --key rsa for RSA-2048) is made with openssl in a temporary directory.

  python3 bench/tls_handshakes.py [--midge dist/x86_64-generic/midge] [--rounds 5] [--seconds 3]
      [--key ecdsa|rsa] [--qemu qemu-aarch64-static]
"""

import argparse
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "integration"))
import tlspki  # noqa: E402  (the test PKI: openssl at run time)

CONNECT = bytes([0x10, 0x0C, 0x00, 0x04]) + b"MQTT" + bytes([0x04, 0x02, 0x00, 0x3C, 0x00, 0x00])
CONNACK = bytes([0x20, 0x02, 0x00, 0x00])
DISCONNECT = bytes([0xE0, 0x00])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("broker did not start")


def one(port, ctx):
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(CONNECT)
        got = b""
        while len(got) < 4:
            chunk = s.recv(4 - len(got))
            if not chunk:
                raise RuntimeError("closed before CONNACK")
            got += chunk
        if got != CONNACK:
            raise RuntimeError(f"CONNACK {got.hex()}")
        s.sendall(DISCONNECT)
        return s.cipher()[0]


def measure(port, ctx, seconds):
    """Handshakes per second over `seconds` (at most 100,000 handshakes)."""
    count, suite = 0, None
    start = time.monotonic()
    while time.monotonic() - start < seconds and count < 100_000:
        suite = one(port, ctx)
        count += 1
    return count / (time.monotonic() - start), suite


def start(kind, args, d, pki):
    port = free_port()
    key = "server-rsa" if args.key == "rsa" else "server"
    lines = [f"listener {port} 127.0.0.1", f"certfile {pki[key + '.crt']}", f"keyfile {pki[key + '.key']}"]
    if kind == "mosquitto":
        conf = d / "mosquitto.conf"
        conf.write_text("\n".join(lines + ["allow_anonymous true"]) + "\n")
        cmd = [args.mosquitto, "-c", str(conf)]
    else:
        conf = d / "midge.conf"
        conf.write_text("\n".join(lines) + "\n")
        cmd = [*([args.qemu] if args.qemu else []), str(args.midge), "-c", str(conf)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port


def pki_and_client_context(d):
    """The test PKI in d/pki, readable by Mosquitto, and a TLS 1.2 client context trusting it."""
    pki = tlspki.make_pki(d / "pki")
    # Mosquitto started as root drops to its own user: let it read the (throw-away) files.
    for path in [d, d / "pki", *(d / "pki").iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    ctx = ssl.create_default_context(cafile=pki["ca.crt"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # midge speaks TLS 1.2 only: compare like with like
    return pki, ctx


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--midge", default=ROOT / "dist" / "x86_64-generic" / "midge")
    p.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--key", choices=["ecdsa", "rsa"], default="ecdsa")
    p.add_argument("--qemu", default="", help="run midge under this qemu-user binary")
    args = p.parse_args()
    results = {"midge": [], "mosquitto": []}
    suites = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        pki, ctx = pki_and_client_context(d)
        for r in range(args.rounds):
            order = ["midge", "mosquitto"] if r % 2 == 0 else ["mosquitto", "midge"]
            for kind in order:
                proc, port = start(kind, args, d, pki)
                try:
                    one(port, ctx)  # warm-up
                    rate, suite = measure(port, ctx, args.seconds)
                finally:
                    proc.terminate()
                    proc.wait(timeout=10)
                results[kind].append(rate)
                suites[kind] = suite
                print(f"round {r + 1}: {kind:9s} {rate:8.1f} handshakes/s  ({suite})", flush=True)
    m, q = statistics.median(results["midge"]), statistics.median(results["mosquitto"])
    print(f"median ({args.key}, TLS 1.2, {args.rounds} rounds of {args.seconds:g} s, one client in sequence):")
    print(f"  midge      {m:8.1f} handshakes/s  ({suites['midge']})")
    print(f"  mosquitto  {q:8.1f} handshakes/s  ({suites['mosquitto']})")
    print(f"  ratio midge/mosquitto: {m / q:.2f}")


if __name__ == "__main__":
    main()
