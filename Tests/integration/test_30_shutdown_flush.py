"""30. Bounded flush at shutdown. Method: an MQTT 5 subscriber with tiny socket buffers stops
reading while a QoS 1 mosquitto_pub sends it a backlog of 400 x 1000-byte messages (the PUBACKs
prove the broker took them all); the broker holds them in its queues. Then SIGTERM: the
subscriber reads again and must get every message, in order, then DISCONNECT 0x8B, then EOF,
and the broker exits 0. The same with `shutdown_flush_timeout 0` shows the test can fail (the
backlog is cut off), and a subscriber that never reads shows the time bound. midge only."""

import signal
import socket
import subprocess
import time

import pytest

import mqttraw
from clients import parse_publish, raw_connect_v5, raw_subscribe_v5
from harness import HOST, scaled, start_with_conf

pytestmark = pytest.mark.midge_only

COUNT = 400
SIZE = 1000


def start(tmp_path, lines):
    # memory_budget: a 4 MiB send queue must fit beside the board's large packet buffers on
    # every board (gl-inet-mt3000's 12 MiB default does not hold both).
    return start_with_conf(tmp_path, ["memory_budget 32MiB", "socket_send_buffer 4096", "max_queued_bytes 4MiB",
                                      "max_queued_messages 1000", *lines])


def slow_subscriber(port):
    """A raw MQTT 5 subscriber to flush/t with 4 KiB of receive buffer, past its SUBACK."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(scaled(5))
    s.connect((HOST, port))
    c = mqttraw.RawClient.__new__(mqttraw.RawClient)
    c.sock, c.buffer = s, b""
    c.send(raw_connect_v5("slow"))
    assert c.read_packet(scaled(5))[0] == mqttraw.CONNACK
    c.send(raw_subscribe_v5(1, "flush/t", 0))
    assert c.read_packet(scaled(5))[0] == 0x90
    return c


def publish_backlog(port):
    lines = b"".join(b"%05d" % i + b"x" * (SIZE - 5) + b"\n" for i in range(COUNT))
    subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(port), "-V", "mqttv5", "-q", "1", "-t", "flush/t", "-l"],
                   input=lines, check=True, timeout=scaled(30))


def read_until_close(c, seconds):
    """(PUBLISH payload prefixes, DISCONNECT reason or None) until EOF."""
    got, reason = [], None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pkt = c.read_packet(max(0.1, deadline - time.monotonic()))
        except (ConnectionError, TimeoutError):
            break
        if pkt[0] & 0xF0 == mqttraw.PUBLISH:
            got.append(int(parse_publish(pkt, v5=True)["payload"][:5]))
        elif pkt[0] == mqttraw.DISCONNECT_TYPE:
            reason = pkt[2] if pkt[1] >= 1 else 0
    return got, reason


def test_backlog_is_flushed_before_the_close(tmp_path):
    proc, port = start(tmp_path, [])
    c = slow_subscriber(port)
    try:
        publish_backlog(port)
        proc.send_signal(signal.SIGTERM)
        got, reason = read_until_close(c, scaled(10))
    finally:
        c.close()
    assert proc.wait(timeout=scaled(10)) == 0
    assert got == list(range(COUNT)), f"{len(got)} of {COUNT} messages before the close"
    assert reason == 0x8B, reason          # DISCONNECT Server shutting down, after the data
    assert "unsent output" not in (tmp_path / "stderr").read_text()


def test_without_the_flush_the_backlog_is_cut(tmp_path):
    proc, port = start(tmp_path, ["shutdown_flush_timeout 0"])
    c = slow_subscriber(port)
    try:
        publish_backlog(port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=scaled(10)) == 0
        got, _ = read_until_close(c, scaled(5))
    finally:
        c.close()
    print(f"without the flush: {len(got)} of {COUNT}")
    assert len(got) < COUNT // 2, f"{len(got)} messages: the kernel buffers alone would not hold the backlog"


def test_a_client_that_never_reads_costs_at_most_the_time_bound(tmp_path):
    proc, port = start(tmp_path, ["shutdown_flush_timeout 1"])
    c = slow_subscriber(port)
    try:
        publish_backlog(port)
        start_s = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=scaled(10))
        took = time.monotonic() - start_s
    finally:
        c.close()
    assert code == 0
    assert 0.9 <= took <= 1 + scaled(1.5), f"stopped after {took:.2f} s with a 1 s bound"
    assert "shutdown: 1 connections still had unsent output after 1000 ms" in (tmp_path / "stderr").read_text()
