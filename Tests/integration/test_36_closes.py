"""33. Closes that deliver their reason. Here's how it works: each test makes midge close a
connection after it sent something the client must read (DISCONNECT 0x93 for a client that
exceeds Receive Maximum, a refusing CONNACK, DISCONNECT 0x8E on takeover), while the client keeps
writing across the close, the way Eclipse Paho's interoperability test `test_flow_control2` does
(it writes a PUBREL after the broker's DISCONNECT is on its way). A broker that close()s a socket
with unread input makes Linux send a reset (RFC 1122 4.2.2.13): the client's next write fails
with EPIPE/ECONNRESET and it never sees the reason. midge shuts its sending side down and reads
and discards the client's input for a bounded time (Linger.swift), so every write here must
succeed and the reason must then be read, followed by an orderly end of stream. The same over
TLS (Python's ssl, OpenSSL), where close_notify precedes the FIN."""

import socket
import ssl
import threading
import time

import pytest

import mqttraw
import tlspki
from clients import (PUBREL, PahoClient, raw_ack, raw_connect_v5, raw_disconnect_reason, raw_publish)
from harness import HOST, free_port, port_accepts, scaled

pytestmark = pytest.mark.midge_only

RECEIVE_MAXIMUM = 4


class TLSRaw(mqttraw.RawClient):
    def __init__(self, port, context, timeout=5.0):
        raw = socket.create_connection((HOST, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.buffer = b""


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return tlspki.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(params=["tcp", "tls"])
def endpoint(request, broker, pki):
    """(broker, open_client): a broker with Receive Maximum 4 and a client factory, over plain
    TCP or over a TLS listener."""
    lines = [f"max_inflight_messages {RECEIVE_MAXIMUM}"]
    if request.param == "tcp":
        b = broker(lines)
        return b, lambda: mqttraw.RawClient(b.port, timeout=scaled(5))
    port = free_port()
    b = broker([*lines, f"listener {port} {HOST}", f"certfile {pki['server.crt']}",
                f"keyfile {pki['server.key']}"])
    deadline = time.monotonic() + scaled(10)
    while not port_accepts(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    context = ssl.create_default_context(cafile=pki["ca.crt"])
    return b, lambda: TLSRaw(port, context, timeout=scaled(5))


def keep_writing(client, data, writes=20, pause=0.02):
    """Writes data `writes` times across the broker's close; returns the first error, if any."""
    for _ in range(writes):
        try:
            client.sock.sendall(data)
        except (OSError, ssl.SSLError) as e:  # BrokenPipeError, ConnectionResetError
            return e
        time.sleep(pause)
    return None


def read_until_closed(client, timeout):
    """Every packet up to the end of the stream; raises on a reset or a TLS error."""
    packets = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            packets.append(client.read_packet(max(0.01, deadline - time.monotonic())))
        except ConnectionError as e:
            if isinstance(e, ConnectionResetError):
                raise
            return packets  # "broker closed the connection": EOF (or TLS close_notify)


def test_receive_maximum_exceeded_is_read_while_writing(endpoint):
    """Paho's test_flow_control2: one QoS 2 PUBLISH beyond Receive Maximum gets DISCONNECT 0x93
    [MQTT-3.3.4-9]; the client keeps writing PUBRELs and must still read the 0x93."""
    b, open_client = endpoint
    with open_client() as c:
        c.send(raw_connect_v5("fc2"))
        assert c.read_packet(scaled(5))[0] == mqttraw.CONNACK
        burst = b"".join(raw_publish("fc/2", b"x" * 100, qos=2, packet_id=i, properties=[])
                         for i in range(1, RECEIVE_MAXIMUM + 2))
        c.sock.sendall(burst)
        time.sleep(scaled(0.2))  # midge reads the burst and closes
        error = keep_writing(c, raw_ack(PUBREL, 1))
        assert error is None, f"a write after midge's DISCONNECT failed: {error!r}"
        packets = read_until_closed(c, scaled(5))
    reasons = [raw_disconnect_reason(p) for p in packets if p[0] == 0xE0]
    assert reasons == [0x93], [p[:8].hex(" ") for p in packets]
    assert_still_serving(b)


def test_refused_connack_is_read_by_a_client_that_wrote_more(endpoint):
    """A CONNACK with a refusal (0x8C, bad authentication method [MQTT-4.12.0-1]) reaches a
    client that sent more packets right behind its CONNECT and keeps writing."""
    b, open_client = endpoint
    with open_client() as c:
        after = b"".join(raw_publish("refused/more", b"y" * 200, qos=0, properties=[]) for _ in range(50))
        c.sock.sendall(raw_connect_v5("refused", properties=[(0x15, "SCRAM-SHA-1")]) + after)
        time.sleep(scaled(0.2))
        error = keep_writing(c, after)
        assert error is None, f"a write after the refusing CONNACK failed: {error!r}"
        packets = read_until_closed(c, scaled(5))
    assert packets and packets[0][0] == mqttraw.CONNACK, [p[:8].hex(" ") for p in packets]
    assert packets[0][3] == 0x8C, packets[0].hex(" ")
    assert_still_serving(b)


def test_takeover_reason_is_read_while_writing(endpoint):
    """The connection that is taken over gets DISCONNECT 0x8E [MQTT-3.1.4-3] while it is
    still publishing; it must read it."""
    b, open_client = endpoint
    with open_client() as old, open_client() as new:
        old.send(raw_connect_v5("twin"))
        assert old.read_packet(scaled(5))[0] == mqttraw.CONNACK
        publish = raw_publish("twin/t", b"z" * 500, qos=0, properties=[])
        assert keep_writing(old, publish, writes=5) is None
        new.send(raw_connect_v5("twin"))
        assert new.read_packet(scaled(5))[0] == mqttraw.CONNACK
        error = keep_writing(old, publish)
        assert error is None, f"a write after the takeover failed: {error!r}"
        packets = read_until_closed(old, scaled(5))
    reasons = [raw_disconnect_reason(p) for p in packets if p[0] == 0xE0]
    assert reasons == [0x8E], [p[:8].hex(" ") for p in packets]


def assert_still_serving(b):
    with mqttraw.RawClient(b.port, timeout=scaled(5)) as c:
        assert c.connect(scaled(5), client_id="after") == mqttraw.connack(0)


def test_linger_counters_in_sys(broker):
    """$SYS/broker/midge/closes/lingered counts closes that lingered (a refused CONNACK here)."""
    b = broker(["sys_interval 1"])
    with mqttraw.RawClient(b.port, timeout=scaled(5)) as c:
        c.send(raw_connect_v5("refused", properties=[(0x15, "SCRAM-SHA-1")]))
        assert c.read_packet(scaled(5))[3] == 0x8C
        c.wait_closed(scaled(5))
    values = sys_closes(b.port, lambda v: v.get("lingered", 0) >= 1, scaled(8))
    assert values.get("lingered", 0) >= 1 and values.get("linger_full") == 0, values


def test_paho_publisher_taken_over_reads_0x8E(broker):
    """paho-mqtt 5 publishing QoS 0 from a second thread while another connection takes its
    client identifier: paho must report a DISCONNECT from the server [MQTT-3.1.4-3], not a lost
    connection. (paho 2.1.0 drops the reason byte of a DISCONNECT with remaining length 1, so
    0x8E itself is checked by the raw tests above; on the code before lingering this paho
    pattern happened to pass as well: paho's writes did not cross the close in 3 runs.)"""
    b = broker()
    old = PahoClient(b.port, "paho-twin").wait_connected()
    stop = threading.Event()

    def flood():
        payload = b"f" * 1000
        deadline = time.monotonic() + scaled(5)
        while not stop.is_set() and time.monotonic() < deadline:
            old.client.publish("paho/twin", payload, qos=0)
            time.sleep(0.0005)

    writer = threading.Thread(target=flood)
    writer.start()
    try:
        time.sleep(scaled(0.3))
        new = PahoClient(b.port, "paho-twin").wait_connected()
        old.wait_disconnected(scaled(5))
        stop.set()
        writer.join(scaled(6))
        assert old.disconnect_packet_from_server, f"paho saw no DISCONNECT, rc {old.disconnect_rc:#x}"
        new.close()
    finally:
        stop.set()
        writer.join(scaled(6))
        old.close()


def sys_closes(port, done, timeout):
    """$SYS/broker/midge/closes/lingered and linger_full as a dict, read until done(values)."""
    with mqttraw.RawClient(port, timeout=scaled(5)) as s:
        assert s.connect(scaled(5), client_id="sys") == mqttraw.connack(0)
        s.send(mqttraw.subscribe(1, [("$SYS/broker/midge/closes/#", 0)]))
        values = {}
        deadline = time.monotonic() + timeout
        while not done(values) and time.monotonic() < deadline:
            p = s.read_packet(max(0.01, deadline - time.monotonic()))
            if p[0] & 0xF0 == mqttraw.PUBLISH:
                start = 4 if p[1] < 0x80 else 5
                n = int.from_bytes(p[start - 2:start], "big")
                name = p[start:start + n].decode().rsplit("/", 1)[1]
                if name in ("lingered", "linger_full"):
                    values[name] = int(p[start + n:])
        return values


def test_a_full_linger_table_closes_at_once_and_counts(broker):
    """70 refused clients that neither read nor close: 64 linger (the table's size), the other
    6 are closed at once and counted in closes/linger_full; the broker serves on."""
    b = broker(["sys_interval 1"])
    clients = []
    try:
        for i in range(70):
            c = mqttraw.RawClient(b.port, timeout=scaled(5))
            clients.append(c)
            c.send(raw_connect_v5(f"r{i}", properties=[(0x15, "SCRAM-SHA-1")]))
            assert c.read_packet(scaled(5))[3] == 0x8C
        values = sys_closes(b.port, lambda v: v.get("lingered", 0) + v.get("linger_full", 0) >= 70, scaled(5))
        assert values.get("lingered") == 64 and values.get("linger_full") == 6, values
    finally:
        for c in clients:
            c.close()
