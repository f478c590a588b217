"""24. Operations: include_dir, systemd readiness over $NOTIFY_SOCKET, graceful shutdown
(MQTT 5 clients get DISCONNECT 0x8B, exit code 0). midge only: Mosquitto has no
Type=notify support and words its errors differently."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

import mqttraw
from harness import HOST, broker_command, free_port, port_accepts, run_broker, scaled

pytestmark = pytest.mark.midge_only


def start(args, workdir, env=None):
    out = open(workdir / "stderr", "wb")
    proc = subprocess.Popen(broker_command(*args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=out, env=env, cwd=workdir)
    return proc


def wait_accepting(proc, port, workdir):
    deadline = time.monotonic() + scaled(10)
    while time.monotonic() < deadline:
        assert proc.poll() is None, (workdir / "stderr").read_text()
        if port_accepts(port):
            return
        time.sleep(0.05)
    pytest.fail("broker did not start")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=scaled(10))


# --- include_dir ---

def test_include_dir_reads_conf_files_in_order(tmp_path):
    port = free_port()
    inc = tmp_path / "conf.d"
    inc.mkdir()
    (inc / "20-limits.conf").write_text("max_connections 7\n")
    (inc / "10-listener.conf").write_text(f"listener {port} {HOST}\nmax_connections 3\n")
    (inc / "README").write_text("not a config file: never read\n")
    (inc / "30-broken.conf.disabled").write_text("no_such_key 1\n")
    main = tmp_path / "midge.conf"
    main.write_text(f"memory_budget 64MiB\ninclude_dir {inc}\n")
    r = run_broker(["--plan", "-c", main], timeout=scaled(10))
    assert r.returncode == 0, r.stderr
    # 20-limits.conf is read after 10-listener.conf: its max_connections wins.
    flat = tmp_path / "flat.conf"
    flat.write_text("memory_budget 64MiB\nmax_connections 7\n")
    want = run_broker(["--plan", "-c", flat], timeout=scaled(10))
    other = tmp_path / "other.conf"
    other.write_text("memory_budget 64MiB\nmax_connections 3\n")
    assert want.stdout != run_broker(["--plan", "-c", other], timeout=scaled(10)).stdout
    assert r.stdout == want.stdout, (r.stdout.decode(), want.stdout.decode())
    proc = start(["-c", main], tmp_path)
    try:
        wait_accepting(proc, port, tmp_path)
        with mqttraw.RawClient(port) as c:
            assert c.connect(scaled(5), client_id="inc") == mqttraw.connack(0)
    finally:
        assert stop(proc) == 0


def test_include_dir_error_names_the_included_file_and_line(tmp_path):
    inc = tmp_path / "conf.d"
    inc.mkdir()
    (inc / "a.conf").write_text("max_connections 5\n\nno_such_key 1\n")
    main = tmp_path / "midge.conf"
    main.write_text(f"include_dir {inc}\n")
    r = run_broker(["-c", main], timeout=scaled(10))
    assert r.returncode == 2
    assert f"{inc}/a.conf:3:" in r.stderr.decode(), r.stderr


def test_include_dir_missing_directory_is_an_error(tmp_path):
    main = tmp_path / "midge.conf"
    main.write_text(f"include_dir {tmp_path}/nowhere\n")
    r = run_broker(["-c", main], timeout=scaled(10))
    assert r.returncode == 2
    assert "include_dir" in r.stderr.decode() and "nowhere" in r.stderr.decode(), r.stderr


# --- systemd readiness ---

@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_notify_socket_gets_ready_then_stopping(tmp_path, abstract):
    name = f"\0midge-test-{os.getpid()}-{time.monotonic_ns()}" if abstract else str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(name)
    sock.settimeout(scaled(10))
    port = free_port()
    env = dict(os.environ, NOTIFY_SOCKET="@" + name[1:] if abstract else name)
    proc = start(["-p", port], tmp_path, env=env)
    try:
        msg = sock.recv(256)
        assert msg == b"READY=1", msg
        # READY=1 means the listener is open: a client is accepted at once.
        with mqttraw.RawClient(port) as c:
            assert c.connect(scaled(5), client_id="ready") == mqttraw.connack(0)
        proc.send_signal(signal.SIGTERM)
        assert sock.recv(256) == b"STOPPING=1"
        assert proc.wait(timeout=scaled(10)) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()


def test_unreachable_notify_socket_does_not_stop_the_broker(tmp_path):
    port = free_port()
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "nobody-listens"))
    proc = start(["-p", port], tmp_path, env=env)
    try:
        wait_accepting(proc, port, tmp_path)
    finally:
        assert stop(proc) == 0


# --- graceful shutdown ---

def v5_connect(client_id):
    body = (mqttraw.mqtt_string("MQTT") + bytes([5, 0x02]) + struct.pack("!H", 60) + b"\x00"
            + mqttraw.mqtt_string(client_id))
    return mqttraw.packet(mqttraw.CONNECT, body)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_sends_v5_disconnect_0x8b_and_exits_0(tmp_path, sig):
    port = free_port()
    proc = start(["-p", port], tmp_path)
    try:
        wait_accepting(proc, port, tmp_path)
        v5 = mqttraw.RawClient(port)
        v5.send(v5_connect("v5-client"))
        ack = v5.read_packet(scaled(5))
        assert ack[0] == 0x20, ack
        v3 = mqttraw.RawClient(port)
        assert v3.connect(scaled(5), client_id="v3-client") == mqttraw.connack(0)
        proc.send_signal(sig)
        _, got = v5.wait_closed(scaled(10))
        # DISCONNECT, reason 0x8B Server shutting down [MQTT-3.14.2-1]; no properties.
        assert got[:1] == b"\xe0" and got[2:3] == b"\x8b", got
        _, got3 = v3.wait_closed(scaled(10))
        assert got3 == b"", got3  # 3.1.1 has no server DISCONNECT: the connection just closes
        assert proc.wait(timeout=scaled(10)) == 0
        assert "midge stopped" in (tmp_path / "stderr").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()


# --- OpenWrt: UCI -> midge.conf ---

UCI_MAP = Path(__file__).resolve().parents[2] / "packaging" / "openwrt" / "midge-uci.sh"


def uci_map(tmp_path, show_text):
    """Runs midge-uci.sh with a stand-in `uci` that prints show_text for `uci -q show midge`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "show.txt").write_text(show_text)
    fake = bin_dir / "uci"
    fake.write_text('#!/bin/sh\n[ "$1 $2 $3" = "-q show midge" ] || exit 1\ncat "$FAKE_UCI_SHOW"\n')
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_UCI_SHOW=str(tmp_path / "show.txt"))
    return subprocess.run(["sh", str(UCI_MAP)], capture_output=True, text=True, env=env, timeout=10)


def test_uci_mapping_produces_a_config_midge_accepts(tmp_path):
    port = free_port()
    show = ("midge.main=midge\nmidge.main.enabled='1'\nmidge.main.memory_budget='64MiB'\n"
            "midge.main.max_connections='64'\nmidge.main.retain_available='0'\n"
            f"midge.@listener[0]=listener\nmidge.@listener[0].port='{port}'\n"
            "midge.@listener[0].address='127.0.0.1'\n")
    r = uci_map(tmp_path, show)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["memory_budget 64MiB", "max_connections 64", "retain_available false",
                                     f"listener {port} 127.0.0.1"], r.stdout
    conf = tmp_path / "midge.conf"
    conf.write_text(r.stdout)
    plan = run_broker(["--plan", "-c", conf], timeout=scaled(10))
    assert plan.returncode == 0, plan.stderr
    proc = start(["-c", conf], tmp_path)
    try:
        wait_accepting(proc, port, tmp_path)
    finally:
        assert stop(proc) == 0


@pytest.mark.parametrize("show,message", [
    ("midge.main=midge\nmidge.main.no_such_option='1'\n", "'no_such_option' is not a midge option"),
    ("midge.main=midge\nmidge.main.allow_anonymous='maybe'\n", "not a boolean"),
    ("midge.x=listener\nmidge.x.addr='1.2.3.4'\n", "takes 'port' and 'address'"),
    ("midge.x=listener\nmidge.x.address='1.2.3.4'\n", "needs a port"),
    ("midge.y=bridge\nmidge.y.port='1'\n", "unknown section type 'bridge'"),
], ids=["unknown-option", "bad-boolean", "listener-option", "listener-port", "section-type"])
def test_uci_mapping_refuses_what_it_does_not_know(tmp_path, show, message):
    r = uci_map(tmp_path, show)
    assert r.returncode != 0 and message in r.stderr, (r.returncode, r.stdout, r.stderr)


def test_service_scripts_are_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is missing (toolchain/install-deps.sh installs it)")
    root = UCI_MAP.parent
    r = subprocess.run([shellcheck, "-s", "sh", str(root / "midge-uci.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
    r = subprocess.run([shellcheck, str(root / "midge.init")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


# --- SIGHUP ---

def test_sighup_keeps_the_broker_and_its_clients(tmp_path):
    port = free_port()
    proc = start(["-p", port], tmp_path)
    try:
        wait_accepting(proc, port, tmp_path)
        with mqttraw.RawClient(port) as c:
            assert c.connect(scaled(5), client_id="stays") == mqttraw.connack(0)
            for _ in range(2):
                proc.send_signal(signal.SIGHUP)
                deadline = time.monotonic() + scaled(5)
                while "SIGHUP" not in (tmp_path / "stderr").read_text() and time.monotonic() < deadline:
                    time.sleep(0.05)
            assert proc.poll() is None, (tmp_path / "stderr").read_text()
            assert "SIGHUP: nothing to reload" in (tmp_path / "stderr").read_text()
            c.send(b"\xc0\x00")  # PINGREQ on the connection opened before the signals
            assert c.read_packet(scaled(5)) == b"\xd0\x00"
    finally:
        assert stop(proc) == 0
