"""9. CONNACK return codes (MQTT 3.1.1 section 3.2.2.3)."""

import subprocess
import time

import pytest

import mqttraw
from harness import scaled


def test_unacceptable_protocol_level(broker):
    b = broker()
    with mqttraw.RawClient(b.port) as client:
        client.send(mqttraw.connect(client_id="lvl7", level=7))
        # [MQTT-3.1.2-2]: CONNACK with return code 1, then close.
        assert client.recv_exact(4, scaled(5)) == bytes([0x20, 0x02, 0x00, 0x01])
        _, rest = client.wait_closed(scaled(3))
        assert rest == b""


def test_empty_client_id_without_clean_session_is_rejected(broker):
    b = broker()
    with mqttraw.RawClient(b.port) as client:
        client.send(mqttraw.connect(client_id="", clean_session=False))
        # [MQTT-3.1.3-8]: CONNACK return code 2 (identifier rejected), then close.
        assert client.recv_exact(4, scaled(5)) == bytes([0x20, 0x02, 0x00, 0x02])
        _, rest = client.wait_closed(scaled(3))
        assert rest == b""


def test_empty_client_id_with_clean_session_is_accepted(broker):
    b = broker()
    with mqttraw.RawClient(b.port) as client:
        client.send(mqttraw.connect(client_id="", clean_session=True))
        # [MQTT-3.1.3-6]: accepted, session present 0 [MQTT-3.2.2-1].
        assert client.recv_exact(4, scaled(5)) == bytes([0x20, 0x02, 0x00, 0x00])
        # The connection is usable: subscribe, publish to ourselves, ping.
        client.send(mqttraw.subscribe(1, ["self/t"]))
        assert client.read_packet(scaled(5)) == mqttraw.suback(1, [0])
        client.send(mqttraw.publish("self/t", "to myself"))
        assert client.read_packet(scaled(5)) == mqttraw.publish("self/t", "to myself")
        client.send(mqttraw.PINGREQ)
        assert client.read_packet(scaled(5)) == mqttraw.PINGRESP
        client.send(mqttraw.DISCONNECT)


def test_mqtt_3_1_client_is_accepted(broker):
    b = broker()
    with mqttraw.RawClient(b.port) as client:
        # MQTT 3.1: protocol name "MQIsdp", protocol level 3.
        client.send(mqttraw.connect(client_id="old-3.1-client", protocol_name="MQIsdp", level=3))
        assert client.recv_exact(4, scaled(5)) == bytes([0x20, 0x02, 0x00, 0x00])
        client.send(mqttraw.subscribe(9, [("v31/#", 0)]))
        assert client.read_packet(scaled(5)) == mqttraw.suback(9, [0])
        client.send(mqttraw.publish("v31/x", b"\x00\x01"))
        assert client.read_packet(scaled(5)) == mqttraw.publish("v31/x", b"\x00\x01")
        client.send(mqttraw.DISCONNECT)


def test_suback_grants_qos_0(broker):
    b = broker()
    with mqttraw.connected_client(b.port, client_id="qos0") as client:
        client.send(mqttraw.subscribe(3, [("q/a", 0), ("q/#", 0)]))
        assert client.read_packet(scaled(5)) == mqttraw.suback(3, [0, 0])


def test_qos_1_and_2_requests_are_granted(broker):
    """The requested QoS is granted [MQTT-3.8.4-6]; a QoS 0 publish is delivered at QoS 0."""
    b = broker()
    with mqttraw.connected_client(b.port, client_id="qos12") as client:
        client.send(mqttraw.subscribe(4, [("q/1", 1), ("q/2", 2), ("q/0", 0)]))
        assert client.read_packet(scaled(5)) == mqttraw.suback(4, [1, 2, 0])
        client.send(mqttraw.publish("q/1", "delivered at qos 0"))
        assert client.read_packet(scaled(5)) == mqttraw.publish("q/1", "delivered at qos 0")


# A v5 CONNECT, byte by byte (MQTT 5.0 section 3.1):
CONNECT_V5 = bytes([
    0x10, 0x0F,              # CONNECT, remaining length 15
    0x00, 0x04, 0x4D, 0x51, 0x54, 0x54,  # protocol name "MQTT"
    0x05,                    # protocol level 5
    0x02,                    # connect flags: clean start
    0x00, 0x3C,              # keep alive 60 s
    0x00,                    # property length 0
    0x00, 0x02, 0x76, 0x35,  # client identifier "v5"
])


@pytest.mark.midge_only
def test_full_connection_table_answers_server_unavailable(broker):
    """max_connections clients are in: a 3.1.1 client gets CONNACK 3 (server unavailable),
    a v5 client CONNACK 0x89 (server busy), both then closed [MQTT-3.2.2-5]; the connected
    clients are unaffected."""
    b = broker(["max_connections 2"])
    first = mqttraw.connected_client(b.port, client_id="full-1", timeout=scaled(5))
    second = mqttraw.connected_client(b.port, client_id="full-2", timeout=scaled(5))
    try:
        with mqttraw.RawClient(b.port) as late:
            late.send(mqttraw.connect(client_id="full-3"))
            assert late.recv_exact(4, scaled(5)) == bytes([0x20, 0x02, 0x00, 0x03])
            late.wait_closed(scaled(5))
        with mqttraw.RawClient(b.port) as late5:
            late5.send(CONNECT_V5)
            # CONNACK, remaining length 3, session present 0, reason 0x89, no properties.
            assert late5.recv_exact(5, scaled(5)) == bytes([0x20, 0x03, 0x00, 0x89, 0x00])
            late5.wait_closed(scaled(5))
        # A real client sees the refusal too.
        r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(b.port), "-t", "x",
                            "-C", "1", "-W", str(int(scaled(5)))],
                           capture_output=True, text=True, timeout=scaled(10))
        assert r.returncode != 0
        assert "unavailable" in (r.stderr + r.stdout).lower()
        # The connected clients still work.
        first.send(mqttraw.PINGREQ)
        assert first.read_packet(scaled(5)) == bytes([0xD0, 0x00])
        # When one leaves, a new client is admitted.
        second.send(mqttraw.DISCONNECT)
        second.wait_closed(scaled(5))
        for attempt in range(50):
            with mqttraw.RawClient(b.port) as again:
                again.send(mqttraw.connect(client_id="full-4"))
                ack = again.recv_exact(4, scaled(5))
            if ack == bytes([0x20, 0x02, 0x00, 0x00]):
                break
            time.sleep(0.1)
        assert ack == bytes([0x20, 0x02, 0x00, 0x00])
    finally:
        first.close()
        second.close()
