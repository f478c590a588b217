"""33. MQTT over WebSockets (RFC 6455) and http_dir.

Real clients: MQTT.js (Debian's node-mqtt with node-ws) over ws:// and wss://, QoS 0/1/2 with
MQTT 3.1.1 and 5.0; paho-mqtt with transport="websockets" over ws and wss. Frame-level checks
with a raw WebSocket client written here (sockets + hashlib): split and merged frames at every
offset, continuation frames with a ping inside, unmasked / text / oversize frames, the close
handshake, a slow handshake, a bad version. http_dir: types, traversal and symlinks refused, 404,
a request over websockets_headers_size. Every broker is stopped at the end and must report
zero allocations after startup (MIDGE_ALLOC_TRAP=1 traps at the first)."""

import base64
import hashlib
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

import pytest

import harness
import mqttraw
import tlspki
from clients import V5, V311, mqttjs_node, node_env
from harness import HOST, scaled

pytestmark = pytest.mark.midge_only

paho = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed")

SCRIPT = Path(__file__).with_name("mqttjs_roundtrip.js")
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return tlspki.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def www(tmp_path):
    d = tmp_path / "www"
    d.mkdir()
    (d / "index.html").write_text("<html><body>midge</body></html>")
    (d / "app.js").write_text("console.log(1)")
    (d / "style.css").write_text("body{}")
    (d / "data.json").write_text("{}")
    (d / "icon.svg").write_text("<svg/>")
    (d / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (d / "big.txt").write_bytes(b"0123456789" * 30000)  # 300 KB: several sendfile calls
    (d / "sub").mkdir()
    (d / "sub" / "inner.txt").write_text("inner")
    (tmp_path / "secret.txt").write_text("secret")
    (d / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (d / "inside.txt").symlink_to(d / "sub" / "inner.txt")
    return d


@pytest.fixture
def ws_broker(broker):
    """ws_broker(extra_lines, tls=None) -> (broker, ws_port): a plain listener (the harness's)
    and a WebSocket listener on 127.0.0.1."""
    def start(lines=(), listener_lines=(), before=()):
        port = harness.free_port()
        b = broker([*before, f"listener {port} {HOST}", "protocol websockets", *listener_lines, *lines])
        deadline = time.monotonic() + scaled(10)
        while not harness.port_accepts(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        return b, port
    return start


def stop_and_check(b):
    assert b.terminate(scaled(10)) == 0
    log = b.stderr_path.read_text()
    m = re.search(r"allocations: (\d+) at startup, (\d+) after startup", log)
    assert m, log[-2000:]
    assert int(m.group(1)) > 0 and int(m.group(2)) == 0, m.group(0)
    return log


# --- a raw WebSocket client -----------------------------------------------------------------

class WS:
    def __init__(self, port, protocol="mqtt", version="13", extra="", context=None, handshake=True):
        raw = socket.create_connection((HOST, port), timeout=scaled(5))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw, server_hostname="localhost") if context else raw
        self.buffer = b""
        self.key = base64.b64encode(os.urandom(16)).decode()
        if handshake:
            self.status, self.headers = self.handshake(protocol, version, extra)

    def handshake(self, protocol, version, extra):
        lines = ["GET /mqtt HTTP/1.1", f"Host: {HOST}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {self.key}", f"Sec-WebSocket-Version: {version}"]
        if protocol:
            lines.append(f"Sec-WebSocket-Protocol: {protocol}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode())
        return self.read_head()

    def read_head(self):
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(4096)
            if not data:
                return None, {}
            self.buffer += data
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        return lines[0], headers

    @staticmethod
    def frame(opcode, payload, fin=True, masked=True, mask=b"\x11\x22\x33\x44", rsv=0):
        head = bytes([(0x80 if fin else 0) | rsv | opcode])
        m = 0x80 if masked else 0
        n = len(payload)
        if n < 126:
            head += bytes([m | n])
        elif n < 65536:
            head += bytes([m | 126]) + struct.pack(">H", n)
        else:
            head += bytes([m | 127]) + struct.pack(">Q", n)
        if not masked:
            return head + payload
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    def send(self, data):
        self.sock.sendall(data)

    def recv_frame(self, timeout=5):
        """(opcode, payload) of the next server frame; None at EOF."""
        self.sock.settimeout(scaled(timeout))
        while True:
            if len(self.buffer) >= 2:
                b0, b1 = self.buffer[0], self.buffer[1]
                assert b1 & 0x80 == 0, "server frames are never masked (RFC 6455 §5.1)"
                n, at = b1 & 0x7F, 2
                if n == 126 and len(self.buffer) >= 4:
                    n, at = struct.unpack(">H", self.buffer[2:4])[0], 4
                elif n == 127 and len(self.buffer) >= 10:
                    n, at = struct.unpack(">Q", self.buffer[2:10])[0], 10
                if n < 126 or at > 2:
                    if len(self.buffer) >= at + n:
                        payload, self.buffer = self.buffer[at:at + n], self.buffer[at + n:]
                        return b0 & 0x0F, payload
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buffer += data

    def recv_mqtt(self, count=1, timeout=5):
        """The next `count` MQTT packets, from binary frames (a packet may span frames)."""
        stream = b""
        packets = []
        while len(packets) < count:
            f = self.recv_frame(timeout)
            assert f is not None, "closed"
            assert f[0] in (2, 0), f"not a binary frame: {f}"
            stream += f[1]
            while len(stream) >= 2:
                length, used = 0, 1
                mul = 1
                while True:
                    if used >= len(stream):
                        break
                    b = stream[used]
                    length += (b & 0x7F) * mul
                    mul *= 128
                    used += 1
                    if b & 0x80 == 0:
                        break
                else:
                    break
                if len(stream) < used + length:
                    break
                packets.append(stream[:used + length])
                stream = stream[used + length:]
        return packets

    def expect_close(self, code, timeout=5):
        """A close frame with `code`, then EOF."""
        while True:
            f = self.recv_frame(timeout)
            assert f is not None, "EOF without a close frame"
            if f[0] == 8:
                assert len(f[1]) >= 2 and struct.unpack(">H", f[1][:2])[0] == code, f
                break
        self.sock.settimeout(scaled(timeout))
        try:
            assert self.sock.recv(100) == b""
        except ConnectionResetError:
            pass

    def close(self):
        self.sock.close()


def bin_frames(*packets):
    return b"".join(WS.frame(2, p) for p in packets)


def accept_of(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


# --- handshake ------------------------------------------------------------------------------

def test_handshake_and_subprotocols(ws_broker):
    """RFC 6455 §4.2.2: 101, Sec-WebSocket-Accept, the subprotocol echoed; none offered is
    accepted without one and an unknown one is closed without an answer (as Mosquitto 2.0.11);
    version 8 gets 426 with Sec-WebSocket-Version: 13 (§4.4)."""
    b, port = ws_broker()
    for offered, echoed in (("mqtt", "mqtt"), ("mqttv3.1", "mqttv3.1"), ("foo, mqtt", "mqtt"), (None, None)):
        c = WS(port, protocol=offered)
        assert c.status == "HTTP/1.1 101 Switching Protocols", c.status
        assert c.headers["upgrade"].lower() == "websocket" and c.headers["connection"].lower() == "upgrade"
        assert c.headers["sec-websocket-accept"] == accept_of(c.key)
        assert c.headers.get("sec-websocket-protocol") == echoed
        c.send(bin_frames(mqttraw.connect(client_id=f"hs-{offered}")))
        assert c.recv_mqtt()[0][:4] == b"\x20\x02\x00\x00"  # CONNACK accepted
        c.close()
    c = WS(port, protocol="foo")
    assert c.status is None  # closed without an answer
    c = WS(port, version="8")
    assert c.status.startswith("HTTP/1.1 426"), c.status
    assert c.headers["sec-websocket-version"] == "13"
    stop_and_check(b)


def test_slow_handshake_closed_at_connect_timeout(ws_broker):
    b, port = ws_broker(["connect_timeout 1"])
    c = WS(port, handshake=False)
    c.send(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n")  # never finished
    start = time.monotonic()
    c.sock.settimeout(scaled(5))
    assert c.sock.recv(100) == b""
    assert time.monotonic() - start < scaled(3)
    stop_and_check(b)


def test_handshake_buffers_bounded(ws_broker):
    b, port = ws_broker(["max_websockets_handshakes 2", "connect_timeout 3"])
    time.sleep(scaled(0.3))  # the readiness probe's connection is closed (its buffer back)
    slow = [WS(port, handshake=False) for _ in range(2)]
    for s in slow:
        s.send(b"GET /mqtt HTTP/1.1\r\n")
    time.sleep(0.2)
    third = WS(port, handshake=False)
    third.sock.settimeout(scaled(3))
    assert third.sock.recv(100) == b"", b.stderr_tail()  # closed at once: every buffer in use
    for s in slow:
        s.close()
    time.sleep(0.3)
    ok = WS(port)  # buffers back
    assert ok.status.startswith("HTTP/1.1 101")
    ok.close()
    stop_and_check(b)


# --- framing --------------------------------------------------------------------------------

def publish(topic, payload, qos=0, pid=1):
    return mqttraw.publish(topic, payload, qos=qos, packet_id=pid) if qos else mqttraw.publish(topic, payload)


def test_split_and_merged_frames_at_every_offset(ws_broker):
    """CONNECT, SUBSCRIBE and PUBLISH as one byte stream of frames, cut at every offset (two
    writes with a pause): the broker answers each the same way. Then all three MQTT packets in
    one frame, and one packet split over three frames of a message (§5.4)."""
    b, port = ws_broker()
    stream = bin_frames(mqttraw.connect(client_id="split"), mqttraw.subscribe(1, [("s/t", 0)]),
                        mqttraw.publish("s/t", b"hello"))
    for cut in range(1, len(stream)):
        c = WS(port)
        c.send(stream[:cut])
        time.sleep(0.005)
        c.send(stream[cut:])
        packets = c.recv_mqtt(3)
        assert packets[0][0] == 0x20 and packets[1][0] == 0x90 and packets[2][0] == 0x30, (cut, packets)
        assert packets[2].endswith(b"hello")
        c.close()
    merged = mqttraw.connect(client_id="merged") + mqttraw.subscribe(1, [("m/t", 0)]) + mqttraw.publish("m/t", b"one")
    c = WS(port)
    c.send(WS.frame(2, merged))
    assert [p[0] for p in c.recv_mqtt(3)] == [0x20, 0x90, 0x30]
    pub = mqttraw.publish("m/t", b"fragmented")
    c.send(WS.frame(2, pub[:3], fin=False) + WS.frame(0, pub[3:7], fin=False) + WS.frame(0, pub[7:]))
    assert c.recv_mqtt()[0].endswith(b"fragmented")
    c.close()
    stop_and_check(b)


def test_ping_inside_fragmented_message(ws_broker):
    """A ping between two continuation frames gets its pong (same payload) at once (§5.5.2);
    a pong from the client is ignored (§5.5.3)."""
    b, port = ws_broker()
    c = WS(port)
    c.send(bin_frames(mqttraw.connect(client_id="pinger"), mqttraw.subscribe(1, [("p/t", 0)])))
    c.recv_mqtt(2)
    pub = mqttraw.publish("p/t", b"around a ping")
    c.send(WS.frame(2, pub[:4], fin=False) + WS.frame(9, b"are you there") + WS.frame(10, b"unsolicited"))
    f = c.recv_frame()
    assert f == (10, b"are you there"), f
    c.send(WS.frame(0, pub[4:]))
    assert c.recv_mqtt()[0] == pub
    c.close()
    stop_and_check(b)


@pytest.mark.parametrize("case,code", [
    ("unmasked", 1002), ("text", 1003), ("oversize", 1009), ("rsv", 1002), ("opcode", 1002), ("close", 1000)])
def test_close_codes(ws_broker, case, code):
    """§5.1 unmasked -> 1002; text -> 1003 (MQTT is binary, [MQTT-6.0.0-1]); a frame over the
    bound (max_packet_size + 64 KiB) -> 1009; reserved bits or opcodes -> 1002; the close
    handshake echoes 1000 (§5.5.1). Each closes that connection only."""
    b, port = ws_broker(["max_packet_size 1024"])
    bystander = WS(port)
    bystander.send(bin_frames(mqttraw.connect(client_id="bystander")))
    bystander.recv_mqtt()
    c = WS(port)
    c.send(bin_frames(mqttraw.connect(client_id=f"victim-{case}")))
    c.recv_mqtt()
    frame = {
        "unmasked": WS.frame(2, mqttraw.PINGREQ, masked=False),
        "text": WS.frame(1, b"hello"),
        "oversize": WS.frame(2, bytes(1024 + 65536 + 1)),
        "rsv": WS.frame(2, mqttraw.PINGREQ, rsv=0x40),
        "opcode": WS.frame(3, b""),
        "close": WS.frame(8, struct.pack(">H", 1000) + b"bye"),
    }[case]
    try:
        c.send(frame)
    except (BrokenPipeError, ConnectionResetError):
        pass
    c.expect_close(code)
    bystander.send(WS.frame(2, mqttraw.PINGREQ))
    assert bystander.recv_mqtt()[0] == b"\xd0\x00"
    bystander.close()
    stop_and_check(b)


# --- real clients ---------------------------------------------------------------------------

def paho_roundtrip(port, version, tls_ca=None, big_bytes=100_000):
    got = []
    clients = []
    for name in ("sub", "pub"):
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"paho-ws-{name}-{version}",
                        protocol=version, transport="websockets")
        if tls_ca:
            c.tls_set(ca_certs=tls_ca)
        c.on_message = lambda cl, u, m: got.append((m.topic, m.payload, m.qos))
        c.connect(HOST, port)
        c.loop_start()
        clients.append(c)
    sub, pub = clients
    deadline = time.monotonic() + scaled(5)
    while not (sub.is_connected() and pub.is_connected()) and time.monotonic() < deadline:
        time.sleep(0.02)
    _, mid = sub.subscribe("pw/#", qos=2)
    time.sleep(0.3)
    big = b"B" * big_bytes  # larger than an I/O chunk
    for q in (0, 1, 2):
        pub.publish(f"pw/q{q}", f"q{q}".encode(), qos=q).wait_for_publish(scaled(5))
    pub.publish("pw/big", big, qos=1).wait_for_publish(scaled(5))
    deadline = time.monotonic() + scaled(5)
    while len(got) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    for c in clients:
        c.disconnect()
        c.loop_stop()
    assert sorted(got) == sorted([("pw/q0", b"q0", 0), ("pw/q1", b"q1", 1), ("pw/q2", b"q2", 2), ("pw/big", big, 1)])


@pytest.mark.parametrize("version", [V311, V5], ids=["3.1.1", "5"])
def test_paho_ws_and_wss(ws_broker, pki, version):
    wss = harness.free_port()
    b, port = ws_broker(listener_lines=[f"listener {wss} {HOST}", "protocol websockets",
                                        f"certfile {pki['server.crt']}", f"keyfile {pki['server.key']}"])
    deadline = time.monotonic() + scaled(5)
    while not harness.port_accepts(wss) and time.monotonic() < deadline:
        time.sleep(0.05)
    paho_roundtrip(port, version)
    paho_roundtrip(wss, version, tls_ca=pki["ca.crt"])
    log = stop_and_check(b)
    assert "WebSockets over TLS" in log


@pytest.mark.parametrize("version", [4, 5], ids=["3.1.1", "5"])
def test_mqttjs_ws_and_wss(ws_broker, pki, version):
    node = mqttjs_node()
    wss = harness.free_port()
    b, port = ws_broker(listener_lines=[f"listener {wss} {HOST}", "protocol websockets",
                                        f"certfile {pki['server.crt']}", f"keyfile {pki['server.key']}"])
    for url, ca in ((f"ws://{HOST}:{port}/mqtt", None), (f"wss://localhost:{wss}/mqtt", pki["ca.crt"])):
        prefix = f"js/{version}/{url[:3]}"
        args = [node, str(SCRIPT), str(port), str(version), prefix, str(int(scaled(15) * 1000)),
                str(int(scaled(0.3) * 1000)), url] + ([ca] if ca else [])
        r = subprocess.run(args, env=node_env(), capture_output=True, text=True, timeout=scaled(15) + 15)
        assert r.returncode == 0, f"{url}: {r.stdout}\n{r.stderr}"
        report = json.loads(r.stdout.strip().splitlines()[-1])
        assert report["granted"] == [2] and report["acks"] == [0, 1, 2], report
        received = sorted(report["received"], key=lambda m: m["topic"])
        assert [(m["topic"], m["qos"]) for m in received] == [(f"{prefix}/q{q}", q) for q in (0, 1, 2)]
    stop_and_check(b)


# --- http_dir -------------------------------------------------------------------------------

def http(port, request):
    s = socket.create_connection((HOST, port), timeout=scaled(5))
    s.sendall(request if isinstance(request, bytes) else request.encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
    return lines[0], headers, body


def test_http_dir(ws_broker, www):
    b, port = ws_broker(["websockets_headers_size 1024"], listener_lines=[f"http_dir {www}"])
    for path, ctype in (("/", "text/html"), ("/index.html", "text/html"), ("/app.js", "text/javascript"),
                        ("/style.css", "text/css"), ("/data.json", "application/json"), ("/pic.png", "image/png"),
                        ("/icon.svg", "image/svg+xml"), ("/sub/inner.txt", "text/plain"),
                        ("/inside.txt", "text/plain")):
        status, headers, body = http(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == "HTTP/1.1 200 OK", (path, status)
        assert headers["content-type"].startswith(ctype), (path, headers)
        name = "index.html" if path == "/" else path[1:]
        expected = (www / name).read_bytes()
        assert body == expected and int(headers["content-length"]) == len(expected)
    status, headers, body = http(port, "GET /big.txt HTTP/1.1\r\n\r\n")
    assert status.endswith("200 OK") and body == (www / "big.txt").read_bytes()
    status, headers, body = http(port, "HEAD /app.js HTTP/1.1\r\n\r\n")
    assert status.endswith("200 OK") and body == b"" and headers["content-length"] == "14"
    for path in ("/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/escape.txt", "/nope.html",
                 "/sub/", "/sub"):
        status, _, body = http(port, f"GET {path} HTTP/1.1\r\n\r\n")
        assert status == "HTTP/1.1 404 Not Found", (path, status)
        assert b"secret" not in body
    assert http(port, "POST /app.js HTTP/1.1\r\n\r\n")[0] == "HTTP/1.1 405 Method Not Allowed"
    assert http(port, "GET app.js HTTP/1.1\r\n\r\n")[0] == "HTTP/1.1 400 Bad Request"
    assert http(port, "GET /" + "a" * 300 + " HTTP/1.1\r\n\r\n")[0] == "HTTP/1.1 414 URI Too Long"
    # A request that fills websockets_headers_size (1024) without ending: 414 while the request
    # line is not complete, 431 after it. Exactly 1024 bytes, so that no unread byte turns the
    # close into a reset that would lose the answer.
    assert http(port, "GET /" + "a" * 1019)[0] == "HTTP/1.1 414 URI Too Long"
    pad = "GET / HTTP/1.1\r\n" + "X-Pad: y\r\n" * 200
    assert http(port, pad[:1024])[0].startswith("HTTP/1.1 431")
    # Still serving WebSockets on the same listener.
    c = WS(port)
    assert c.status.startswith("HTTP/1.1 101")
    c.close()
    stop_and_check(b)


def test_without_http_dir_404(ws_broker):
    b, port = ws_broker()
    assert http(port, "GET /index.html HTTP/1.1\r\n\r\n")[0] == "HTTP/1.1 404 Not Found"
    stop_and_check(b)


def test_sys_counters(ws_broker):
    b, port = ws_broker(["sys_interval 1"])
    WS(port, protocol="foo")
    WS(port).close()
    c = WS(port)
    c.send(bin_frames(mqttraw.connect(client_id="x")))
    c.recv_mqtt()
    c.send(WS.frame(1, b"text"))
    c.expect_close(1003)
    values = {}
    deadline = time.monotonic() + scaled(10)
    while time.monotonic() < deadline:
        out = subprocess.run(["mosquitto_sub", "-h", HOST, "-p", str(b.port), "-v", "-C", "5", "-W", "5",
                              "-t", "$SYS/broker/midge/websockets/#"], capture_output=True, text=True,
                             timeout=scaled(10))
        values = {l.split(" ", 1)[0].rsplit("/", 1)[1]: int(l.split(" ", 1)[1]) for l in out.stdout.splitlines()}
        if values.get("upgrades") == 2 and values.get("frame_errors") == 1:
            break
    assert values["upgrades"] == 2 and values["handshakes_failed"] == 1 and values["frame_errors"] == 1, values
    stop_and_check(b)


def test_config_errors(tmp_path):
    conf = tmp_path / "bad.conf"
    for lines, message in ((["protocol websockets"], "'protocol' must follow a 'listener'"),
                           (["listener 1884 127.0.0.1", "protocol http"], "invalid value 'http' for 'protocol'"),
                           (["listener 1884 127.0.0.1", "http_dir /tmp"], "needs 'protocol websockets'")):
        conf.write_text("".join(l + "\n" for l in lines))
        r = subprocess.run(harness.broker_command("-c", conf, "--plan"), capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and message in r.stderr, r.stderr
    conf.write_text("listener 1884 127.0.0.1\nprotocol websockets\nmax_websockets_handshakes 3\n")
    r = subprocess.run(harness.broker_command("-c", conf, "--plan"), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "WebSocket handshake buffers" in r.stdout and "WebSocket states" in r.stdout
    assert re.search(r"WebSocket handshake buffers\s+3\s+4100", r.stdout), r.stdout


def test_http_dir_over_tls_and_raw_wss(ws_broker, pki, www):
    """A wss listener with http_dir: files over TLS (pread, one record per write), then a raw
    WebSocket over TLS with a ping and a close handshake."""
    b, port = ws_broker(listener_lines=[f"http_dir {www}", f"certfile {pki['server.crt']}",
                                        f"keyfile {pki['server.key']}"])
    ctx = ssl.create_default_context(cafile=pki["ca.crt"])
    for name in ("index.html", "big.txt"):
        raw = socket.create_connection((HOST, port), timeout=scaled(5))
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        s.sendall(f"GET /{name} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ssl.SSLError:
                break
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK"), head
        assert body == (www / name).read_bytes()
    c = WS(port, context=ctx)
    assert c.status.startswith("HTTP/1.1 101")
    c.send(bin_frames(mqttraw.connect(client_id="wss-raw")))
    assert c.recv_mqtt()[0][:4] == b"\x20\x02\x00\x00"
    c.send(WS.frame(9, b"tls ping"))
    assert c.recv_frame() == (10, b"tls ping")
    c.send(WS.frame(8, struct.pack(">H", 1000)))
    f = c.recv_frame()
    assert f[0] == 8 and f[1][:2] == struct.pack(">H", 1000), f
    c.close()
    stop_and_check(b)


def test_chromium_page_from_http_dir(ws_broker, tmp_path):
    """A real browser (Debian's chromium, headless, driven over DevTools: cdp.py) loads a page
    from http_dir and speaks MQTT over a WebSocket to the same listener: CONNACK and PINGRESP
    arrive in the page. (Waited for in real time: a virtual-time budget ran out under qemu.)"""
    import cdp
    if cdp.chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (toolchain/install-deps.sh installs it)")
        pytest.skip("chromium is not installed")
    page = Path(__file__).with_name("ws_page")
    b, port = ws_broker(listener_lines=[f"http_dir {page}"])
    browser = cdp.Browser(tmp_path, timeout=scaled(20))
    try:
        browser.navigate(f"http://{HOST}:{port}/")
        got = browser.wait_for(
            "(function(){var t=document.getElementById('out').textContent;"
            "return t.length>=18&&t!=='pending'&&t})()", scaled(20))
    finally:
        browser.close()
    assert got == "got 32,2,0,0,208,0", got
    stop_and_check(b)


def test_websockets_headers_size_zero_keeps_default(tmp_path):
    """Mosquitto's `websockets_headers_size 0` means its default: midge keeps its own (4096)."""
    conf = tmp_path / "m.conf"
    conf.write_text("listener 1884 127.0.0.1\nprotocol websockets\nwebsockets_headers_size 0\nlog_type websockets\n")
    r = subprocess.run(harness.broker_command("-c", conf, "--plan"), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert re.search(r"WebSocket handshake buffers\s+8\s+4100", r.stdout), r.stdout
