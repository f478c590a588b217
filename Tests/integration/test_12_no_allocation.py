"""12. No allocation after startup (the memory budget's promise).

Here's how it works: the static binary wraps the malloc family (Sources/CAllocHook). It
counts allocations during startup and, separately, after startup; on shutdown it logs
"allocations: N at startup, M after startup". This test drives a real workload through every
path the broker has -- a connection storm past the connection table, QoS 0/1/2 publishes,
wildcard fan-out, large packets, takeovers, garbage, keep-alive expiry, connect timeouts,
unsubscribes, disconnects, and the session paths: persistent sessions with queued QoS 1/2
messages and redelivery, retained set/replace/clear, wills (immediate and delayed), MQTT 5
topic aliases, shared subscriptions, subscription identifiers, message expiry, session expiry
a full offline queue (drops for that session only) and a 3.1.1 QoS 2 burst past the window
(the spill table) -- then stops the broker and requires M == 0. N > 0 proves the
wrappers are linked (a build without them would log nothing and fail here, not pass).
With MIDGE_ALLOC_TRAP=1 (set by `make test` for every integration run) an allocation after
startup traps at once, and the harness reports the crash.
"""

import re
import time

import pytest

import mqttraw
from clients import V5, V311, Paho, PahoClient
from harness import scaled

pytestmark = pytest.mark.midge_only

CONFIG = ["max_connections 64", "connect_timeout 1", "max_packet_size 65536", "max_queued_messages 20"]


def wait_for_free_slot(port):
    """Bounded wait until the broker has processed the storm's closes and admits a client."""
    deadline = time.monotonic() + scaled(10)
    for attempt in range(100):
        try:
            c = mqttraw.connected_client(port, client_id="alloc-probe", timeout=scaled(2))
            c.send(mqttraw.DISCONNECT)
            c.close()
            return
        except (ConnectionError, TimeoutError, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    raise AssertionError("no connection slot became free")


def run_workload(port):
    # Subscribers with overlapping wildcard filters, on every QoS request.
    subs = [Paho(port, client_id=f"alloc-sub-{i}").wait_connected() for i in range(3)]
    subs[0].subscribe("w/#")
    subs[1].subscribe("w/+/x", "w/a/#")
    subs[2].subscribe("#")
    pub = Paho(port, client_id="alloc-pub").wait_connected()
    for i in range(300):
        pub.publish(f"w/{'ab'[i % 2]}/x", f"m{i}")
    for q in (1, 2):
        info = pub.client.publish("w/a/x", b"qos" * 10, qos=q)
        info.wait_for_publish(scaled(5))
    # A packet larger than one I/O chunk goes through the large-packet buffers.
    pub.publish("w/a/big", b"L" * 40_000)
    for s in subs[:2]:
        s.wait_messages(303)

    # Connection storm beyond max_connections (64): the excess is closed at once.
    storm = []
    for i in range(90):
        c = mqttraw.RawClient(port, timeout=scaled(5))
        storm.append(c)
    for c in storm[:40]:
        c.send(mqttraw.connect(client_id=f"storm-{len(storm)}-{id(c)}"))
    for c in storm:
        c.close()
    wait_for_free_slot(port)

    # Takeover: the same client id twice.
    first = mqttraw.connected_client(port, client_id="alloc-twin", timeout=scaled(5))
    second = mqttraw.connected_client(port, client_id="alloc-twin", timeout=scaled(5))
    first.wait_closed(scaled(5))
    second.send(mqttraw.DISCONNECT)
    second.wait_closed(scaled(5))

    # Garbage and protocol errors.
    for junk in (b"\x00\x00", b"GET / HTTP/1.1\r\n\r\n", b"\x30\xff\xff\xff\xff\x7f",
                 mqttraw.connect(client_id="bad", level=7)):
        with mqttraw.RawClient(port, timeout=scaled(5)) as c:
            c.send(junk)
            c.wait_closed(scaled(5))

    # Keep alive expiry and connect timeout.
    ka = mqttraw.connected_client(port, client_id="alloc-ka", timeout=scaled(5), keepalive=1)
    silent = mqttraw.RawClient(port, timeout=scaled(5))
    ka.wait_closed(scaled(4))
    silent.wait_closed(scaled(4))

    subs[1].unsubscribe("w/+/x")
    for c in subs + [pub]:
        c.disconnect()
        c.close()
    run_session_workload(port)


def run_session_workload(port):
    clients = []
    try:
        # Persistent sessions (3.1.1 and MQTT 5) with QoS 1/2 messages queued while offline.
        p311 = PahoClient(port, "alloc-p311", version=V311, clean=False).wait_connected()
        p5 = PahoClient(port, "alloc-p5", version=V5, clean=False,
                        properties={"SessionExpiryInterval": 60}).wait_connected()
        clients += [p311, p5]
        p311.subscribe("s/#", 2)
        p5.subscribe("s/#", 1, sub_id=7)
        p5.subscribe("$share/g/s/#", 2)
        p311.disconnect()
        p5.disconnect()
        pub = PahoClient(port, "alloc-pub5", version=V5).wait_connected()
        clients.append(pub)
        for i in range(10):
            pub.publish("s/q", f"q{i}".encode(), qos=1 + i % 2,
                        properties={"MessageExpiryInterval": 30, "UserProperty": [("k", "v")]})
        # Retained: set, replace, clear; delivered on a new subscription.
        pub.publish("r/a", b"one", qos=1, retain=True)
        pub.publish("r/a", b"two", qos=1, retain=True)
        pub.publish("r/b", b"x", qos=2, retain=True)
        pub.publish("r/b", b"", qos=1, retain=True)
        # Topic aliases.
        pub.publish("alias/topic", b"a1", properties={"TopicAlias": 1})
        pub.publish("", b"a2", properties={"TopicAlias": 1})
        # Resume both sessions: the queued messages arrive (redelivery paths).
        back311 = PahoClient(port, "alloc-p311", version=V311, clean=False).wait_connected(session_present=True)
        back5 = PahoClient(port, "alloc-p5", version=V5, clean=False,
                           properties={"SessionExpiryInterval": 1}).wait_connected(session_present=True)
        clients += [back311, back5]
        back311.wait_messages(10)
        back5.wait_messages(10)
        back5.subscribe("r/#", 1)
        back5.wait_payload(b"two")
        # A full queue: an offline MQTT 5 session's queue (max_queued_messages 20) fills; the
        # default queue_full_action drop_newest drops for that session only (counted, logged)
        # and the MQTT 5 publisher is acknowledged every time.
        full = PahoClient(port, "alloc-full", version=V5, clean=False,
                          properties={"SessionExpiryInterval": 60}).wait_connected()
        clients.append(full)
        full.subscribe("f/t", 1)
        full.disconnect()
        codes = [pub.publish("f/t", b"f", qos=1) for _ in range(25)]
        assert codes == [0] * 25, codes
        # A 3.1.1 publisher with more unreleased QoS 2 messages than max_inflight_messages (20):
        # the ids beyond the window go to the shared spill table, then PUBREL frees them.
        raw = mqttraw.connected_client(port, client_id="alloc-q2", timeout=scaled(5))
        burst = 30
        for i in range(1, burst + 1):
            raw.send(mqttraw.packet(0x34, mqttraw.mqtt_string("q2/t") + i.to_bytes(2, "big") + b"x"))  # QoS 2
        for i in range(1, burst + 1):
            assert raw.read_packet(scaled(5))[0] == 0x50  # PUBREC
        for i in range(1, burst + 1):
            raw.send(mqttraw.packet(0x62, i.to_bytes(2, "big")))
        for i in range(1, burst + 1):
            assert raw.read_packet(scaled(5))[0] == 0x70  # PUBCOMP
        raw.send(mqttraw.DISCONNECT)
        raw.close()
        # Wills: one published at once (killed), one delayed (published 1 s later).
        watcher = PahoClient(port, "alloc-watch", version=V5).wait_connected()
        clients.append(watcher)
        watcher.subscribe("will/#", 1)
        w1 = PahoClient(port, "alloc-w1", version=V311,
                        will={"topic": "will/1", "payload": b"gone", "qos": 1, "retain": True}).wait_connected()
        w2 = PahoClient(port, "alloc-w2", version=V5,
                        will={"topic": "will/2", "payload": b"late", "qos": 2,
                              "properties": {"WillDelayInterval": 1}}).wait_connected()
        clients += [w1, w2]
        w1.kill(reset=True)
        w2.kill(reset=True)
        watcher.wait_payload(b"gone")
        watcher.wait_payload(b"late", timeout=scaled(5))
        # Session expiry: back5 leaves with Session Expiry 1 s; its session ends on the timer.
        back5.disconnect()
        back311.disconnect()
        time.sleep(1.5)
        pub.disconnect()
        watcher.disconnect()
    finally:
        for c in clients:
            c.close()


def test_no_allocation_after_startup(broker):
    b = broker(CONFIG)
    run_workload(b.port)
    assert b.alive()
    code = b.terminate(scaled(10))
    log = b.stderr_path.read_text()
    m = re.search(r"allocations: (\d+) at startup, (\d+) after startup", log)
    assert m, f"no allocation report in the broker's log:\n{log[-2000:]}"
    startup, after = int(m.group(1)), int(m.group(2))
    assert startup > 0, "the allocation wrappers are not linked into this binary"
    assert after == 0, f"{after} allocations after startup"
    assert code == 0, f"exit code {code} after SIGTERM"


def run_tls_workload(port, psk_port, pki):
    """TLS traffic next to the plain workload: server-cert and mutual-TLS clients, PSK, payloads
    of several records, refused handshakes (plaintext, garbage, a full session pool)."""
    import socket
    import ssl
    import subprocess
    import tlspki

    def context(cert=None):
        ctx = ssl.create_default_context(cafile=pki["ca.crt"])
        if cert:
            ctx.load_cert_chain(pki[cert + ".crt"], pki[cert + ".key"])
        return ctx

    def tls_client(ctx):
        c = mqttraw.RawClient.__new__(mqttraw.RawClient)
        raw = socket.create_connection(("127.0.0.1", port), timeout=scaled(5))
        c.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        c.buffer = b""
        return c

    sub = tls_client(context("alice"))
    assert sub.connect(scaled(5), client_id="alloc-tls-sub") == mqttraw.connack(0)
    sub.send(mqttraw.subscribe(1, [("tls/#", 0)]))
    assert sub.read_packet(scaled(5))[:1] == b"\x90"
    pub = tls_client(context())
    assert pub.connect(scaled(5), client_id="alloc-tls-pub") == mqttraw.connack(0)
    payloads = [b"s%d" % i for i in range(50)] + [bytes([66 + i]) * (20_000 + 9_000 * i) for i in range(3)]
    for p in payloads:
        pub.send(mqttraw.publish("tls/x", p))
    for p in payloads:
        packet = sub.read_packet(scaled(10))
        assert packet.endswith(p)
    r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(psk_port), "--psk", tlspki.PSK_KEY,
                        "--psk-identity", tlspki.PSK_IDENTITY, "-t", "tls/psk", "-m", "k"],
                       capture_output=True, timeout=scaled(10))
    assert r.returncode == 0, r.stderr
    assert sub.read_packet(scaled(5)).endswith(b"k")
    # Refused: plaintext MQTT, garbage, and a third session beyond max_tls_sessions 3.
    for junk in (mqttraw.connect(client_id="plain"), bytes(range(256)) * 8):
        with mqttraw.RawClient(port, timeout=scaled(5)) as c:
            c.send(junk)
            c.wait_closed(scaled(5))
    for attempt in range(20):  # the PSK client's session may still be closing
        try:
            extra = tls_client(context())
            assert extra.connect(scaled(5), client_id="alloc-tls-3") == mqttraw.connack(0)
            break
        except (ssl.SSLError, ConnectionError, OSError, TimeoutError):
            time.sleep(0.1)
    else:
        raise AssertionError("no third TLS session")
    try:
        refused = tls_client(context())
        refused.connect(scaled(5), client_id="alloc-tls-4")
        raise AssertionError("a fourth TLS session was admitted")
    except (ssl.SSLError, ConnectionError, OSError, TimeoutError):
        pass
    for c in (extra, pub, sub):
        c.send(mqttraw.DISCONNECT)
        c.close()


def test_no_allocation_after_startup_with_tls(broker, tmp_path):
    import harness
    import tlspki
    pki = tlspki.make_pki(tmp_path / "pki")
    tls_port, psk_port = harness.free_port(), harness.free_port()
    b = broker(CONFIG + ["max_tls_sessions 3", f"psk_file {pki['psk']}",
                        f"listener {tls_port} 127.0.0.1", f"certfile {pki['server.crt']}",
                        f"keyfile {pki['server.key']}", f"cafile {pki['ca.crt']}",
                        f"listener {psk_port} 127.0.0.1", "psk_hint midge"])
    deadline = time.monotonic() + scaled(10)
    while not harness.port_accepts(tls_port) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(scaled(0.3))  # the readiness probes' sessions are closed
    run_tls_workload(tls_port, psk_port, pki)
    run_workload(b.port)
    assert b.alive()
    code = b.terminate(scaled(10))
    log = b.stderr_path.read_text()
    m = re.search(r"allocations: (\d+) at startup, (\d+) after startup", log)
    assert m, f"no allocation report in the broker's log:\n{log[-2000:]}"
    assert int(m.group(1)) > 0 and int(m.group(2)) == 0, m.group(0)
    assert "TLS heap:" in log
    assert code == 0


def test_no_allocation_after_startup_with_websockets(broker, tmp_path):
    """The same workload on the plain listener, beside WebSocket clients (ws and wss, paho and
    raw frames: split frames, ping, continuation, a refused text frame, the close handshake)
    and http_dir requests: still zero allocations after startup."""
    import harness
    import tlspki
    import test_33_websockets as t33
    pki = tlspki.make_pki(tmp_path / "pki")
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("<html></html>")
    ws_port, wss_port = harness.free_port(), harness.free_port()
    b = broker(CONFIG + ["max_tls_sessions 3", f"listener {ws_port} 127.0.0.1", "protocol websockets",
                        f"http_dir {www}", f"listener {wss_port} 127.0.0.1", "protocol websockets",
                        f"certfile {pki['server.crt']}", f"keyfile {pki['server.key']}"])
    deadline = time.monotonic() + scaled(10)
    while not harness.port_accepts(wss_port) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(scaled(0.3))
    t33.paho_roundtrip(ws_port, V311, big_bytes=30_000)
    t33.paho_roundtrip(wss_port, V5, tls_ca=pki["ca.crt"], big_bytes=30_000)
    c = t33.WS(ws_port)
    stream = t33.bin_frames(mqttraw.connect(client_id="ws-raw"), mqttraw.subscribe(1, [("r/t", 0)]))
    c.send(stream[:5])
    time.sleep(0.01)
    c.send(stream[5:])
    c.recv_mqtt(2)
    pub = mqttraw.publish("r/t", b"x" * 3000)
    c.send(t33.WS.frame(2, pub[:10], fin=False) + t33.WS.frame(9, b"p") + t33.WS.frame(0, pub[10:]))
    assert c.recv_frame() == (10, b"p")
    assert c.recv_mqtt()[0] == pub
    c.send(t33.WS.frame(8, b"\x03\xe8"))
    c.expect_close(1000)
    bad = t33.WS(ws_port)
    bad.send(t33.WS.frame(1, b"text"))
    bad.expect_close(1003)
    assert t33.http(ws_port, "GET / HTTP/1.1\r\n\r\n")[0].endswith("200 OK")
    assert t33.http(ws_port, "GET /../x HTTP/1.1\r\n\r\n")[0].endswith("404 Not Found")
    run_workload(b.port)
    assert b.alive()
    code = b.terminate(scaled(10))
    log = b.stderr_path.read_text()
    m = re.search(r"allocations: (\d+) at startup, (\d+) after startup", log)
    assert m, f"no allocation report in the broker's log:\n{log[-2000:]}"
    assert int(m.group(1)) > 0 and int(m.group(2)) == 0, m.group(0)
    assert code == 0
