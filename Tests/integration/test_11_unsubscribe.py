"""11. UNSUBSCRIBE stops delivery and is acknowledged with UNSUBACK."""

import mqttraw
from clients import Paho
from harness import scaled


def test_unsubscribe_stops_delivery(broker):
    b = broker()
    sub = Paho(b.port).wait_connected()
    pub = Paho(b.port).wait_connected()
    try:
        sub.subscribe("u/t", "u/control")
        pub.publish("u/t", "first")
        assert sub.wait_messages(1) == [("u/t", b"first")]
        sub.unsubscribe("u/t")                      # waits for on_unsubscribe (UNSUBACK)
        pub.publish("u/t", "after unsubscribe")
        pub.publish("u/control", "still subscribed")
        assert sub.settle(2) == [("u/t", b"first"), ("u/control", b"still subscribed")]
        sub.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()


def test_unsubscribe_wildcard_filter(broker):
    b = broker()
    sub = Paho(b.port).wait_connected()
    pub = Paho(b.port).wait_connected()
    try:
        sub.subscribe("w/#", "w/+/x")
        sub.unsubscribe("w/#")                      # "w/+/x" stays
        pub.publish("w/a", "dropped")
        pub.publish("w/a/x", "kept")
        assert sub.settle(1) == [("w/a/x", b"kept")]
    finally:
        sub.close()
        pub.close()


def test_unsuback_bytes(broker):
    b = broker()
    with mqttraw.connected_client(b.port, client_id="raw-unsub") as client:
        client.send(mqttraw.subscribe(0x1234, ["r/a"]))
        assert client.read_packet(scaled(5)) == mqttraw.suback(0x1234, [0])
        client.send(mqttraw.unsubscribe(0x4321, ["r/a"]))
        assert client.read_packet(scaled(5)) == bytes([0xB0, 0x02, 0x43, 0x21])
        # Unsubscribing from a filter that is not subscribed still gets UNSUBACK [MQTT-3.10.4-5].
        client.send(mqttraw.unsubscribe(7, ["never/subscribed"]))
        assert client.read_packet(scaled(5)) == mqttraw.unsuback(7)
        client.send(mqttraw.publish("r/a", "nobody listens"))
        client.send(mqttraw.PINGREQ)                # the PINGRESP comes, the publish does not
        assert client.read_packet(scaled(5)) == mqttraw.PINGRESP
