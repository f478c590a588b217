"""8. Malformed input closes only the offending connection.

A paho subscriber/publisher pair keeps exchanging messages on one broker
while other sockets send garbage; after every case the broker must be alive
and the pair must still work."""

import random
from dataclasses import dataclass

import pytest

import mqttraw
from clients import Paho
from harness import scaled
from mqttraw import connect, mqtt_string, packet, publish, subscribe, unsubscribe


@dataclass
class Case:
    name: str
    data: bytes
    after_connect: bool = False      # send a valid CONNECT (and get CONNACK) first
    expect_before_close: bytes = None  # exact bytes the broker must send before closing
    midge_only: bool = False


CASES = [
    # --- before CONNECT: the first packet MUST be CONNECT [MQTT-3.1.0-1] ---
    # Type 13 (PINGRESP, server-to-client) with a 5-byte body, then random noise.
    Case("random bytes", b"\xde\x05" + random.Random(1234).randbytes(2000)),
    # CONNECT of 64 random bytes: the protocol name length points past the packet.
    Case("connect with random body", b"\x10\x40\xff\xff" + random.Random(5678).randbytes(62)),
    Case("http request", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    Case("publish before connect", publish("g/x", "early")),
    Case("subscribe before connect", subscribe(1, ["g/#"])),
    Case("pingreq before connect", mqttraw.PINGREQ),
    # Protocol name not "MQTT": the server MAY close without CONNACK [MQTT-3.1.2-1].
    Case("connect with bad protocol name", connect(client_id="g1", protocol_name="MQTX")),
    # Unsupported level: CONNACK return code 1, then close [MQTT-3.1.2-2].
    Case("connect with protocol level 7", connect(client_id="g2", level=7),
         expect_before_close=bytes([0x20, 0x02, 0x00, 0x01])),
    # Reserved connect flag (bit 0) set [MQTT-3.1.2-3].
    Case("connect with reserved flag", connect(client_id="g3", flags=0x03)),
    # Reserved fixed-header flags of CONNECT must be 0000 [MQTT-2.2.2-2].
    Case("connect with header flags 0001", bytes([0x11]) + connect(client_id="g4")[1:]),
    # Remaining length 6 covers only the protocol name: truncated variable header.
    Case("truncated connect", packet(0x10, mqtt_string("MQTT"))),
    # Remaining Length is at most 4 bytes; here the 4th byte still says "more follows".
    Case("connect with 5-byte remaining length", bytes([0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])),
    Case("reserved packet type 0 first", bytes([0x00, 0x00])),

    # --- after a successful CONNECT ---
    Case("second connect", connect(client_id="g5"), after_connect=True),  # [MQTT-3.1.0-2]
    Case("publish with 5-byte remaining length",
         bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), after_connect=True),
    # Five length bytes that all have the continuation bit set.
    Case("publish with 5 continuation bytes",
         bytes([0x30, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), after_connect=True),
    # A non-minimal 5-byte encoding of the value 1 is still more than 4 bytes.
    Case("pingreq with 5-byte remaining length",
         bytes([0xC0, 0x81, 0x80, 0x80, 0x80, 0x00]), after_connect=True),
    Case("reserved packet type 0", bytes([0x00, 0x00]), after_connect=True),
    Case("reserved packet type 15", bytes([0xF0, 0x00]), after_connect=True),
    Case("connack from client", bytes([0x20, 0x02, 0x00, 0x00]), after_connect=True),
    # Requested QoS 3 is malformed [MQTT-3.8.3-4].
    Case("subscribe with qos 3", subscribe(7, [("g/#", 3)]), after_connect=True),
    # SUBSCRIBE fixed-header flags must be 0010 [MQTT-3.8.1-1].
    Case("subscribe with header flags 0000", subscribe(7, ["g/#"], first_byte=0x80),
         after_connect=True),
    # A SUBSCRIBE without any topic filter is a protocol violation [MQTT-3.8.3-3].
    Case("subscribe without filters", packet(0x82, b"\x00\x07"), after_connect=True),
    # UNSUBSCRIBE fixed-header flags must be 0010 [MQTT-3.10.1-1].
    Case("unsubscribe with header flags 0000", bytes([0xA0]) + unsubscribe(8, ["g/#"])[1:],
         after_connect=True),
    # PUBLISH with both QoS bits set [MQTT-3.3.1-4].
    Case("publish with qos 3", publish("g/x", "q3", first_byte=0x36), after_connect=True),
    # Topic names must not contain wildcards [MQTT-3.3.2-2].
    Case("publish to wildcard topic", publish("g/+", "wild"), after_connect=True),
    # Topic names must be at least one character long [MQTT-4.7.3-1].
    Case("publish to empty topic", publish("", "empty"), after_connect=True),
    # U+0000 must not appear in a UTF-8 string [MQTT-1.5.3-2].
    Case("publish topic with NUL", publish(b"g/\x00x", "nul"), after_connect=True),
    # Ill-formed UTF-8 must close the connection [MQTT-1.5.3-1].
    Case("publish topic with invalid utf-8", publish(b"g/\xc3\x28", "bad"), after_connect=True),
    # PINGREQ's reserved flags must be 0000 [MQTT-2.2.2-2]. Quirk: mosquitto
    # 2.0.11 ignores them, answers PINGRESP and keeps the connection open.
    Case("pingreq with header flags 0001", bytes([0xC1, 0x00]), after_connect=True,
         midge_only=True),
]


@pytest.fixture(scope="module")
def pair(module_broker):
    sub = Paho(module_broker.port, client_id="good-sub").wait_connected()
    pub = Paho(module_broker.port, client_id="good-pub").wait_connected()
    sub.subscribe("good/pair")
    yield sub, pub
    sub.close()
    pub.close()


def exchange(pair, broker, tag, expect_before=()):
    """One message through the good pair; fails if the broker died or the pair
    did not receive exactly expect_before followed by this message."""
    assert broker.alive(), broker.describe_exit()
    sub, pub = pair
    pub.publish("good/pair", tag)
    expected = [("good/pair", t.encode()) for t in (*expect_before, tag)]
    assert sub.wait_messages(len(expected)) == expected
    assert broker.alive(), broker.describe_exit()


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.name, marks=[pytest.mark.midge_only] if c.midge_only else [])
    for c in CASES])
def test_garbage_closes_only_that_connection(case, module_broker, pair):
    pair[0].clear()
    exchange(pair, module_broker, "before")
    if case.after_connect:
        client = mqttraw.connected_client(module_broker.port, client_id="garbage")
    else:
        client = mqttraw.RawClient(module_broker.port)
    with client:
        client.send(case.data)
        pair[1].publish("good/pair", "during")   # traffic while the broker handles garbage
        _, received = client.wait_closed(scaled(3))
    if case.expect_before_close is not None:
        assert received == case.expect_before_close
    elif not case.after_connect:
        assert not received.startswith(mqttraw.connack(0)), "garbage was accepted as CONNECT"
    exchange(pair, module_broker, "after", expect_before=("before", "during"))
