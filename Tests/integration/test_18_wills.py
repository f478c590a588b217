"""18. Will messages (MQTT 3.1.1 section 3.1.2.5, MQTT 5 sections 3.1.2.5 and 3.1.3.2).

The will is published when the network connection closes without DISCONNECT [MQTT-3.1.2-8]
(socket closed, keepalive expired), with MQTT 5 also on DISCONNECT reason 0x04, after the
Will Delay Interval; it is discarded by a normal DISCONNECT [MQTT-3.1.2-10]."""

import time

import pytest

from clients import V311, V5, MosquittoTool, PahoClient
from harness import HOST, IS_MOSQUITTO, scaled


@pytest.fixture
def observer(broker):
    """(port, a QoS 2 subscriber of will/#)."""
    b = broker()
    obs = PahoClient(b.port, version=V5).wait_connected()
    obs.subscribe("will/#", 2)
    yield b.port, obs
    obs.close()


def _sentinel(port, obs, topic="will/sentinel"):
    """Publish a sentinel on will/... and return what the observer got before it."""
    pub = PahoClient(port, version=V311).wait_connected()
    try:
        pub.publish(topic, "sentinel", qos=2)
        got = obs.wait_payload(b"sentinel")
        pub.disconnect()
        return got[:-1]
    finally:
        pub.close()


@pytest.mark.parametrize("will_qos", [0, 1, 2])
def test_will_published_when_client_process_is_killed(observer, will_qos):
    """mosquitto_sub with --will-* options, SIGKILLed: the kernel closes its socket without
    DISCONNECT; the will arrives at its own QoS (observer subscribed at 2)."""
    port, obs = observer
    tool = MosquittoTool(["mosquitto_sub", "-d", "-h", HOST, "-p", port,
                          "-i", f"doomed-{will_qos}", "-t", "some/topic",
                          "--will-topic", f"will/killed/{will_qos}",
                          "--will-payload", f"killed at qos {will_qos}", "--will-qos", will_qos])
    try:
        tool.wait_line(b"Client doomed-%d received SUBACK" % will_qos)
        assert obs.received() == []
        tool.kill()
        got = obs.wait_messages(1)
        assert [(m.topic, m.payload, m.qos, m.retain) for m in got] == [
            (f"will/killed/{will_qos}", f"killed at qos {will_qos}".encode(), will_qos, False)]
    finally:
        tool.close()


def test_will_published_when_socket_closes_without_disconnect(observer):
    """paho 3.1.1 client whose TCP connection is shut down under it (no DISCONNECT)."""
    port, obs = observer
    doomed = PahoClient(port, version=V311,
                        will={"topic": "will/socket", "payload": b"\x00binary\xff", "qos": 1})
    try:
        doomed.wait_connected()
        doomed.kill()
        got = obs.wait_messages(1)
        assert [(m.topic, m.payload, m.qos) for m in got] == [
            ("will/socket", b"\x00binary\xff", 1)]
    finally:
        doomed.close()


@pytest.mark.parametrize("version", [pytest.param(V311, id="3.1.1"), pytest.param(V5, id="5")])
def test_will_not_published_after_normal_disconnect(observer, version):
    port, obs = observer
    polite = PahoClient(port, version=version, will={"topic": "will/polite", "payload": "no"})
    try:
        polite.wait_connected()
        polite.disconnect()          # v5: reason 0x00, normal disconnection
    finally:
        polite.close()
    assert _sentinel(port, obs) == []


def test_mosquitto_sub_exiting_normally_sends_no_will(observer):
    """mosquitto_sub -C 1 exits after one message with DISCONNECT: no will."""
    port, obs = observer
    tool = MosquittoTool(["mosquitto_sub", "-d", "-h", HOST, "-p", port, "-i", "polite-tool",
                          "-t", "will/trigger", "-C", "1", "--will-topic", "will/polite-tool",
                          "--will-payload", "should not appear"])
    try:
        tool.wait_line(b"Client polite-tool received SUBACK")
        pub = PahoClient(port, version=V311).wait_connected()
        pub.publish("will/trigger", "go", qos=1)
        pub.disconnect()
        assert tool.wait_exit() == 0
    finally:
        tool.close()
    assert [m.payload for m in _sentinel(port, obs)] == [b"go"]


# midge: silence of 1.5 x keepalive closes the connection [MQTT-3.1.2-24]; mosquitto 2.0.11
# checks keepalive on a coarse timer (test_06 measured up to 6 s for keepalive 1).
KEEPALIVE_WILL_WITHIN = 8.0 if IS_MOSQUITTO else scaled(3)


def test_will_published_after_keepalive_timeout(observer):
    """A client that goes silent (socket open, no PINGREQ) with keepalive 1: the broker
    closes it and publishes its will, not before the keepalive ran out."""
    port, obs = observer
    silent = PahoClient(port, version=V311, keepalive=1,
                        will={"topic": "will/keepalive", "payload": "timed out", "qos": 1})
    try:
        silent.wait_connected()
        before = time.monotonic()
        silent.go_silent()             # joins paho's thread: up to ~1 s, it may still ping
        got = obs.wait_messages(1, timeout=KEEPALIVE_WILL_WITHIN)   # counted from silence
        assert [(m.topic, m.payload) for m in got] == [("will/keepalive", b"timed out")]
        # paho pinged at most 1 s before `before`: 1.5 s of silence ends >= 0.5 s after it.
        elapsed = got[0].at - before
        assert elapsed >= 0.5, f"will after {elapsed:.2f} s: before the keepalive ran out"
    finally:
        silent.close()


def test_v5_disconnect_with_will_message_reason_publishes_the_will(observer):
    """MQTT 5 section 3.14.2.1: DISCONNECT reason 0x04 (Disconnect with Will Message)."""
    port, obs = observer
    c = PahoClient(port, version=V5, will={"topic": "will/reason4", "payload": "asked for",
                                          "qos": 1})
    try:
        c.wait_connected()
        c.disconnect(reason=0x04)
    finally:
        c.close()
    got = obs.wait_messages(1)
    assert [(m.topic, m.payload, m.qos) for m in got] == [("will/reason4", b"asked for", 1)]


def test_v5_will_properties_are_forwarded(observer):
    port, obs = observer
    props = {"ContentType": "application/json", "ResponseTopic": "will/reply",
             "CorrelationData": b"\x01\x02", "UserProperty": [("why", "killed"), ("k", "v")],
             "PayloadFormatIndicator": 1}
    c = PahoClient(port, version=V5,
                   will={"topic": "will/props", "payload": '{"gone": true}', "qos": 1,
                         "properties": props})
    try:
        c.wait_connected()
        c.kill()
    finally:
        c.close()
    got = obs.wait_messages(1)
    assert got[0].payload == b'{"gone": true}'
    for name, value in props.items():
        assert got[0].properties.get(name) == value, got[0].properties


def _delayed_will_client(port, client_id, delay, expiry=30):
    return PahoClient(port, client_id, version=V5, clean=False,
                      properties={"SessionExpiryInterval": expiry},
                      will={"topic": f"will/delayed/{client_id}", "payload": "late", "qos": 1,
                            "properties": {"WillDelayInterval": delay}})


def test_v5_will_delay_interval(observer):
    """[MQTT-3.1.3-9]: the will is published once the Will Delay Interval (1 s) has passed
    (mosquitto measured ~1.5 s: its timers tick once a second)."""
    port, obs = observer
    c = _delayed_will_client(port, "delay-1", 1)
    try:
        c.wait_connected()
        start = time.monotonic()
        c.kill()
        got = obs.wait_messages(1, timeout=1 + scaled(4))
        assert [(m.topic, m.payload) for m in got] == [("will/delayed/delay-1", b"late")]
        assert got[0].at - start >= 0.9, f"will after {got[0].at - start:.2f} s, delay is 1 s"
    finally:
        c.close()
        PahoClient(port, "delay-1", version=V5, clean=True).wait_connected().disconnect()


def test_v5_will_cancelled_when_the_session_resumes_within_the_delay(observer):
    """[MQTT-3.1.3-9, §3.1.3.2.2]: a new connection to the session before
    the delay has passed means the will is not sent; a normal DISCONNECT of that new
    connection does not send it either."""
    port, obs = observer
    c = _delayed_will_client(port, "delay-2", 2)
    back = None
    try:
        c.wait_connected()
        c.kill()
        back = PahoClient(port, "delay-2", version=V5, clean=False,
                          properties={"SessionExpiryInterval": 30})
        back.wait_connected(session_present=True)
        time.sleep(2 + scaled(1.5))   # past the delay (plus mosquitto's 1 s timer tick)
        assert _sentinel(port, obs) == []
        back.disconnect(properties={"SessionExpiryInterval": 0})
        assert _sentinel(port, obs, "will/sentinel2") == []
    finally:
        c.close()
        if back:
            back.close()


def test_will_with_retain_flag_is_retained(observer):
    """mosquitto_pub -l (connected, reading stdin) with --will-retain, killed: the will
    is delivered and stored as retained [MQTT-3.1.2-17]."""
    port, obs = observer
    tool = MosquittoTool(["mosquitto_pub", "-d", "-h", HOST, "-p", port, "-i", "retained-will",
                          "-t", "some/topic", "-l", "--will-topic", "will/retained",
                          "--will-payload", "last words", "--will-retain", "--will-qos", "1"])
    try:
        tool.wait_line(b"Client retained-will received CONNACK")
        tool.kill()
        got = obs.wait_messages(1)
        assert [(m.topic, m.payload) for m in got] == [("will/retained", b"last words")]
    finally:
        tool.close()
    late = PahoClient(port, version=V311).wait_connected()
    try:
        late.subscribe("will/retained", 1)
        got = late.wait_messages(1)
        assert [(m.payload, m.retain, m.qos) for m in got] == [(b"last words", True, 1)]
        late.disconnect()
    finally:
        late.close()
