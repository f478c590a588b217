"""33. Resident memory follows use, not the budget; memory_lock reserves it all up front.

Here's how it works: midge maps its arena as zero pages and initialises every pool element
when it is first handed out, so right after start only a few hundred KiB are resident,
whatever memory_budget says. The tests start midge (64 MiB and 256 MiB budgets), read VmRSS
from /proc/PID/status and require it below 2.8 MB (NanoMQ's idle figure in issue 22); then
2,000 raw clients CONNECT and SUBSCRIBE, and mosquitto_pub stores 200 retained 2 KB messages:
RSS must grow with that load (and stay far below the budget). With `memory_lock true` midge
either starts with the whole arena locked (VmLck and VmRSS at least the plan's total) or,
when RLIMIT_MEMLOCK is too small (set in the child before exec; as root, CAP_IPC_LOCK would
bypass the limit, so setpriv drops it), refuses to start with the documented message naming
the limit and the bytes needed. `--plan` names the mode in force. Under an emulator
(MIDGE_EXEC_PREFIX) the process measured would be the emulator's: the RSS checks skip there.
"""

import os
from pathlib import Path
import re
import resource
import selectors
import shutil
import socket
import subprocess
import time

import pytest

import mqttraw
import tlspki
from harness import EXEC_PREFIX, HOST, broker_command, free_port, scaled, start_with_conf

pytestmark = pytest.mark.midge_only
native_only = pytest.mark.skipif(bool(EXEC_PREFIX), reason="RSS of an emulated broker is the emulator's")

IDLE_LIMIT_KIB = 2800 * 1000 // 1024  # 2.8 MB


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def stop(proc):
    proc.terminate()
    proc.wait(timeout=scaled(10))


def open_clients(port, count, timeout):
    """count raw clients: CONNECT + SUBSCRIBE each, until every CONNACK + SUBACK (9 bytes) came."""
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(count):
        s = socket.create_connection((HOST, port), timeout=10)
        s.sendall(mqttraw.connect(client_id=f"rss-{i}", keepalive=0)
                  + mqttraw.subscribe(1, [(f"rss/{i}", 0)]))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, [0])
        socks.append(s)
    pending, deadline = count, time.monotonic() + timeout
    while pending:
        assert time.monotonic() < deadline, f"{pending} clients without CONNACK + SUBACK"
        for key, _ in sel.select(timeout=1):
            data = key.fileobj.recv(64)
            assert data, "broker closed a client"
            key.data[0] += len(data)
            if key.data[0] >= 9:
                sel.unregister(key.fileobj)
                pending -= 1
    return socks


@native_only
@pytest.mark.parametrize("budget", ["64MiB", "256MiB"])
def test_idle_rss_is_small_whatever_the_budget(tmp_path, budget):
    rss = idle_rss_kib(tmp_path, [f"memory_budget {budget}"])
    assert rss < IDLE_LIMIT_KIB, f"VmRSS {rss} KiB right after start with a {budget} budget"


@native_only
def test_idle_rss_is_small_with_a_tls_listener(tmp_path):
    # The TLS heap (max_tls_sessions x ~25 KB, 6.5 MB on x86_64) is mbedTLS's pool: it zeroes
    # the pool at init; midge gives those pages back, so it costs RAM only per session.
    pki = tlspki.make_pki(tmp_path / "pki")
    rss = idle_rss_kib(tmp_path, [f"listener {free_port()} {HOST}", f"certfile {pki['server.crt']}",
                                  f"keyfile {pki['server.key']}"])
    assert rss < IDLE_LIMIT_KIB, f"VmRSS {rss} KiB right after start with a TLS listener"


@native_only
def test_idle_rss_is_small_with_a_websocket_listener(tmp_path):
    # "WebSocket states" (400 B per connection slot, 1.6 MB on x86_64) are set at accept: a
    # WebSocket listener adds next to nothing to the RSS right after start (written at startup,
    # they made it 2,184 KiB instead of about 500).
    www = Path(__file__).resolve().parents[2] / "packaging" / "www"
    rss = {kind: idle_rss_kib(tmp_path / kind, [f"listener {free_port()} {HOST}", *extra])
           for kind, extra in (("plain", []), ("websockets", ["protocol websockets", f"http_dir {www}"]))}
    assert rss["websockets"] < IDLE_LIMIT_KIB, rss
    assert rss["websockets"] - rss["plain"] < 256, f"a WebSocket listener costs {rss}"


def idle_rss_kib(directory, lines):
    """VmRSS (KiB) of midge right after start with `lines` (besides anonymous access)."""
    directory.mkdir(exist_ok=True)
    proc, _ = start_with_conf(directory, ["allow_anonymous true", *lines])
    try:
        time.sleep(0.3)
        return status_kib(proc.pid, "VmRSS")
    finally:
        stop(proc)


@native_only
def test_rss_grows_with_clients_and_messages(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2200:
        pytest.skip(f"open file hard limit {hard} is below 2,200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2200), hard))
    proc, port = start_with_conf(tmp_path, ["allow_anonymous true", "memory_budget 64MiB",
                                            "max_connections 2100"])
    socks = []
    try:
        time.sleep(0.3)
        idle = status_kib(proc.pid, "VmRSS")
        socks = open_clients(port, 2000, scaled(60))
        time.sleep(0.3)
        connected = status_kib(proc.pid, "VmRSS")
        # A connection slot, a session, its client identifier and a subscription are ~350
        # bytes: 2,000 clients touch well over 300 KiB of the arena.
        assert connected - idle > 300, f"VmRSS {idle} KiB idle, {connected} KiB with 2,000 clients"
        payload = "x" * 2000
        for i in range(200):
            subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(port), "-q", "1", "-r",
                            "-t", f"rss/retained/{i}", "-m", payload], check=True, timeout=scaled(10))
        stored = status_kib(proc.pid, "VmRSS")
        assert stored - connected > 200 * 2000 // 1024, (
            f"VmRSS {connected} KiB before and {stored} KiB after 200 retained 2 KB messages")
        assert stored < 64 * 1024 // 4, f"VmRSS {stored} KiB: far more than the load needs"
    finally:
        for s in socks:
            s.close()
        stop(proc)


def plan_text(tmp_path, lines):
    conf = tmp_path / "plan.conf"
    conf.write_text("".join(f"{l}\n" for l in lines))
    out = subprocess.run(broker_command("--plan", "-c", conf), capture_output=True, text=True,
                         timeout=scaled(10))
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_plan_names_the_memory_mode(tmp_path):
    assert "memory_lock false: pages become resident as they are first used" in plan_text(tmp_path, [])
    text = plan_text(tmp_path, ["memory_lock true"])
    total = int(re.search(r"total \(with alignment\)\s+(\d+)", text).group(1))
    assert f"memory_lock true: all {total} bytes are faulted in and locked in RAM at startup" in text
    assert f"(needs RLIMIT_MEMLOCK >= {total})" in text


@native_only
def test_memory_lock_starts_with_the_arena_resident_or_refuses(tmp_path):
    budget = 32 << 20
    total = int(re.search(r"total \(with alignment\)\s+(\d+)",
                          plan_text(tmp_path, ["memory_budget 32MiB"])).group(1))
    soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    can_lock = os.geteuid() == 0 or soft == resource.RLIM_INFINITY or soft >= total
    if can_lock:
        proc, port = start_with_conf(tmp_path, ["allow_anonymous true", "memory_budget 32MiB",
                                                "memory_lock true"])
        try:
            locked = status_kib(proc.pid, "VmLck")
            rss = status_kib(proc.pid, "VmRSS")
            assert locked * 1024 >= total, f"VmLck {locked} KiB, the plan {total} bytes"
            assert rss * 1024 >= total and rss * 1024 < budget + (4 << 20), f"VmRSS {rss} KiB"
            c = mqttraw.connected_client(port, client_id="locked")  # and it serves
            c.close()
        finally:
            stop(proc)


@native_only
def test_memory_lock_refuses_to_start_below_the_limit(tmp_path):
    limit = 1 << 20
    prefix = []
    if os.geteuid() == 0:
        # Root's CAP_IPC_LOCK ignores RLIMIT_MEMLOCK: drop it for the broker.
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv (util-linux) is missing")
        prefix = ["setpriv", "--bounding-set", "-ipc_lock", "--inh-caps", "-ipc_lock"]
    conf = tmp_path / "lock.conf"
    conf.write_text(f"listener {free_port()} {HOST}\nmemory_budget 32MiB\nmemory_lock true\n")

    def small_memlock():
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (limit, limit))

    out = subprocess.run(prefix + broker_command("-c", conf), capture_output=True, text=True,
                         timeout=scaled(10), preexec_fn=small_memlock)
    assert out.returncode == 1, out.stderr
    m = re.search(r"memory_lock: the kernel cannot lock the arena's (\d+) bytes in RAM "
                  r"\(mlock: [^;]+; RLIMIT_MEMLOCK is (\d+) bytes\): raise the limit to at least (\d+) "
                  r"bytes \(ulimit -l, systemd LimitMEMLOCK=\) or set memory_lock false", out.stderr)
    assert m, out.stderr
    assert int(m.group(2)) == limit
    assert int(m.group(1)) == int(m.group(3)) > limit
