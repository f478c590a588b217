"""1. Round trip through the broker with real clients."""

from clients import MosquittoSub, Paho, mosquitto_pub


def test_mosquitto_sub_pub_roundtrip(broker):
    b = broker()
    sub = MosquittoSub(b.port, "roundtrip/text", count=1, wait_seconds=10)
    try:
        sub.wait_subscribed()
        mosquitto_pub(b.port, "roundtrip/text", message="hello midge: 123 ünïcödé")
        rc, lines = sub.finish()
    finally:
        sub.close()
    assert rc == 0, sub.stderr
    assert lines == ["hello midge: 123 ünïcödé\n".encode()]


def test_paho_binary_payload_roundtrip(broker):
    b = broker()
    payload = bytes(range(256))
    sub = Paho(b.port).wait_connected()
    pub = Paho(b.port).wait_connected()
    try:
        sub.subscribe("roundtrip/binary")
        pub.publish("roundtrip/binary", payload)
        pub.publish("roundtrip/binary", b"")          # empty payload is legal too
        assert sub.settle(2) == [("roundtrip/binary", payload), ("roundtrip/binary", b"")]
        sub.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()
