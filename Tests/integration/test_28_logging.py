"""28. Logging: log_dest file and syslog, log_type filtering, connection_messages,
log_timestamp(_format). Method: start midge with a config file, drive it with the real
mosquitto_sub / mosquitto_pub clients, stop it with SIGTERM and read what it logged: the file,
or the datagrams a Python unix socket received in place of /dev/log (MIDGE_SYSLOG_SOCKET, the
test-only override documented in the README). Run with MIDGE_ALLOC_TRAP=1, every test also
proves that logging allocated nothing after startup (the broker would abort). midge only:
Mosquitto words its lines differently."""

import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from harness import HOST, broker_command, free_port, scaled, start_with_conf

pytestmark = pytest.mark.midge_only

STAMP = r"\d{9,}: "          # seconds since 1970
ADDR = r"127\.0\.0\.1:\d+"


def start(tmp_path, lines, env=None):
    return start_with_conf(tmp_path, lines, env)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=scaled(10)) == 0


def traffic(port):
    """An MQTT 5 subscriber c1 (keep alive 30) gets one message from an MQTT 3.1.1 publisher p1."""
    sub = subprocess.Popen(["mosquitto_sub", "-h", HOST, "-p", str(port), "-V", "mqttv5", "-i", "c1", "-k", "30",
                            "-t", "logs/#", "-q", "1", "-C", "1", "-W", str(int(scaled(10)))],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(scaled(0.5))  # subscribed before the publish (a retained message would also do)
    subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(port), "-V", "mqttv311", "-i", "p1", "-u", "alice",
                    "-t", "logs/a", "-m", "hello"], check=True, timeout=scaled(10))
    out, err = sub.communicate(timeout=scaled(15))
    assert sub.returncode == 0 and out == b"hello\n", err


def test_file_has_greppable_connection_lines(tmp_path):
    log = tmp_path / "midge.log"
    proc, port = start(tmp_path, [f"log_dest file {log}"])
    traffic(port)
    stop(proc)
    text = log.read_text()
    lines = text.splitlines()
    assert all(re.match(STAMP + r"(error|warning|notice|info): ", l) for l in lines), text
    assert re.search(STAMP + rf"notice: New connection from {ADDR} on port {port}\.$", text, re.M), text
    assert re.search(STAMP + rf"notice: New client connected from {ADDR} as c1 \(p5, c1, k30\)\.$", text, re.M), text
    assert re.search(rf"notice: New client connected from {ADDR} as p1 \(p2, c1, k60, u'alice'\)\.$", text, re.M), text
    assert re.search(rf"notice: Client p1 from {ADDR} \(p2\) disconnected: client disconnected$", text, re.M), text
    assert re.search(rf"notice: Client c1 from {ADDR} \(p5\) disconnected: ", text, re.M), text
    assert re.search(r"notice: midge \S+ listening on 127\.0\.0\.1:\d+", text), text
    assert "subscribe:" not in text, "subscribe lines are not in the default log_type"
    assert text.rstrip().endswith("notice: midge stopped"), text
    if os.environ.get("MIDGE_ALLOC_TRAP") == "1":
        assert re.search(r"allocations: \d+ at startup, 0 after startup", text), text
    # log_dest file replaces the default stderr destination.
    assert "New client" not in (tmp_path / "stderr").read_text()


def test_packet_too_large_names_size_and_limit(tmp_path):
    """The disconnect line of a packet above max_packet_size says how large it was and what the
    limit is, for a connected client and before CONNECT (the size is the one its fixed header
    announces: midge closes before reading the body)."""
    import mqttraw
    log = tmp_path / "midge.log"
    proc, port = start(tmp_path, [f"log_dest file {log}", "max_packet_size 4096"])
    big = mqttraw.publish("t", b"x" * 5000)  # 1 + 2 + 2 + 1 + 5000 = 5006 bytes
    with mqttraw.connected_client(port, client_id="big", timeout=scaled(5)) as c:
        c.send(big)
        c.wait_closed(scaled(5))
    with mqttraw.RawClient(port, timeout=scaled(5)) as c:
        c.send(bytes([0x10]) + mqttraw.varint(100_000))  # a CONNECT header announcing 100004 bytes
        c.wait_closed(scaled(5))
    stop(proc)
    text = log.read_text()
    assert len(big) == 5006
    assert re.search(rf"notice: Client big from {ADDR} \(p2\) disconnected: packet too large "
                     r"\(5006 bytes, max_packet_size 4096\)$", text, re.M), text
    assert re.search(rf"notice: Connection from {ADDR} closed before CONNECT: packet too large "
                     r"\(100004 bytes, max_packet_size 4096\)$", text, re.M), text


def test_log_type_filters_levels(tmp_path):
    log = tmp_path / "midge.log"
    proc, port = start(tmp_path, [f"log_dest file {log}", "log_type subscribe", "log_type unsubscribe",
                                  "log_type error"])
    traffic(port)
    subprocess.run(["mosquitto_sub", "-h", HOST, "-p", str(port), "-i", "u1", "-t", "x/y", "-U", "x/y",
                    "-E"], check=True, timeout=scaled(10))
    stop(proc)
    text = log.read_text()
    assert re.search(STAMP + r"subscribe: Client c1 subscribed to logs/# \(q1\)$", text, re.M), text
    assert re.search(STAMP + r"unsubscribe: Client u1 unsubscribed from x/y$", text, re.M), text
    assert "notice:" not in text and "info:" not in text, text


def test_connection_messages_false_and_no_timestamp(tmp_path):
    log = tmp_path / "midge.log"
    proc, port = start(tmp_path, [f"log_dest file {log}", "connection_messages false", "log_timestamp false"])
    traffic(port)
    stop(proc)
    text = log.read_text()
    assert "New connection" not in text and "New client" not in text and "disconnected" not in text, text
    assert re.search(r"^notice: midge \S+ listening on", text, re.M), text
    assert text.rstrip().endswith("notice: midge stopped"), text


def test_timestamp_format(tmp_path):
    log = tmp_path / "midge.log"
    proc, port = start(tmp_path, [f"log_dest file {log}", "log_timestamp_format %Y-%m-%dT%H:%M:%S"])
    traffic(port)
    stop(proc)
    text = log.read_text()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: "
    assert re.search("^" + stamp + rf"notice: New client connected from {ADDR} as c1 ", text, re.M), text
    assert all(re.match(stamp, l) for l in text.splitlines()), text
    # UTC, and now: the last line was written when the broker stopped, a moment ago.
    last = time.mktime(time.strptime(text.splitlines()[-1][:19], "%Y-%m-%dT%H:%M:%S")) - time.mktime(time.gmtime(0))
    assert abs(last - time.time()) < scaled(10), (text.splitlines()[-1], time.time())


class Daemon:
    """A syslog daemon stand-in: a unix datagram socket read by a thread, as a real daemon
    reads all the time (midge never blocks on syslog: a full queue drops and counts the line)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.got = []
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running and len(self.got) < 10000:
            try:
                self.got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass

    def close(self, settle):
        time.sleep(settle)
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()
        return self.got


def test_syslog_datagrams(tmp_path):
    path = tmp_path / "log.sock"
    daemon = Daemon(path)
    try:
        proc, port = start(tmp_path, ["log_dest syslog", "log_dest stderr"], env={"MIDGE_SYSLOG_SOCKET": str(path)})
        traffic(port)
        stop(proc)
    finally:
        got = daemon.close(scaled(0.5))
    pid = proc.pid
    # <PRI> = facility daemon (3) * 8 + severity: notice 5 -> 29, informational 6 -> 30.
    assert f"<29>midge[{pid}]: New client connected from" in "\n".join(got), got
    assert any(re.fullmatch(rf"<29>midge\[{pid}\]: New client connected from {ADDR} as c1 \(p5, c1, k30\)\.", g)
               for g in got), got
    assert any(re.fullmatch(rf"<30>midge\[{pid}\]: memory plan \d+ of \d+ bytes reserved", g) for g in got), got
    assert got[-1] == f"<29>midge[{pid}]: midge stopped", got
    # Both destinations: the same lines on stderr, with time and level.
    assert re.search(STAMP + rf"notice: New client connected from {ADDR} as c1 ", (tmp_path / "stderr").read_text())


def test_syslog_daemon_started_later_gets_lines(tmp_path):
    path = tmp_path / "late.sock"
    proc, port = start(tmp_path, ["log_dest syslog"], env={"MIDGE_SYSLOG_SOCKET": str(path)})
    daemon = Daemon(path)
    try:
        traffic(port)
    finally:
        stop(proc)
        got = daemon.close(scaled(0.5))
    assert any("New client connected from" in g and " as c1 " in g for g in got), got


def test_unopenable_log_file_is_a_startup_error(tmp_path):
    missing = tmp_path / "no-such-dir" / "midge.log"
    conf = tmp_path / "midge.conf"
    conf.write_text(f"listener {free_port()} {HOST}\nlog_dest file {missing}\n")
    r = subprocess.run(broker_command("-c", conf), capture_output=True, timeout=scaled(10))
    assert r.returncode == 1, r
    assert f"cannot open log file '{missing}'" in r.stderr.decode(), r.stderr


def test_unsupported_log_dest_names_file_and_line(tmp_path):
    conf = tmp_path / "midge.conf"
    conf.write_text(f"listener {free_port()} {HOST}\n\nlog_dest topic\n")
    r = subprocess.run(broker_command("-c", conf), capture_output=True, timeout=scaled(10))
    assert r.returncode == 2 and f"{conf}:3: 'log_dest topic' is not supported" in r.stderr.decode(), r.stderr


def test_ipv6_peer_address(tmp_path):
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback here")
    log = tmp_path / "midge.log"
    proc, _ = start(tmp_path, [f"listener {port} ::1", f"log_dest file {log}"])
    subprocess.run(["mosquitto_pub", "-h", "::1", "-p", str(port), "-i", "v6", "-t", "a", "-m", "b"], check=True,
                   timeout=scaled(10))
    stop(proc)
    text = log.read_text()
    assert re.search(rf"New client connected from \[::1\]:\d+ as v6 \(p2, c1, k60\)\.$", text, re.M), text


def test_refused_and_silent_connections_are_logged(tmp_path):
    log = tmp_path / "midge.log"
    proc, port = start(tmp_path, [f"log_dest file {log}", "allow_anonymous false", "connect_timeout 1"])
    r = subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(port), "-V", "mqttv5", "-i", "nope", "-t", "a",
                        "-m", "b"], capture_output=True, timeout=scaled(10))
    assert r.returncode != 0, r
    with socket.create_connection((HOST, port), timeout=scaled(5)) as silent:
        silent.settimeout(scaled(5))
        assert silent.recv(16) == b""          # closed by the connect timeout
    stop(proc)
    text = log.read_text()
    # 0x87 = 135: Not authorized (anonymous where it is refused).
    assert re.search(rf"notice: Client nope from {ADDR} refused \(p5\): CONNACK 135$", text, re.M), text
    assert re.search(rf"notice: Connection from {ADDR} closed before CONNECT: no CONNECT in time$", text, re.M), text
