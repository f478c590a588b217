"""9. CONNACK return codes (MQTT 3.1.1 section 3.2.2.3)."""

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


@pytest.mark.midge_only
def test_qos_1_and_2_requests_are_granted_qos_0(broker):
    """midge supports QoS 0 only for now: it grants QoS 0 whatever was asked
    (mosquitto grants the requested QoS)."""
    b = broker()
    with mqttraw.connected_client(b.port, client_id="qos12") as client:
        client.send(mqttraw.subscribe(4, [("q/1", 1), ("q/2", 2), ("q/0", 0)]))
        assert client.read_packet(scaled(5)) == mqttraw.suback(4, [0, 0, 0])
        client.send(mqttraw.publish("q/1", "delivered at qos 0"))
        assert client.read_packet(scaled(5)) == mqttraw.publish("q/1", "delivered at qos 0")
