"""17. Retained messages (MQTT 3.1.1 section 3.3.1.3, MQTT 5 sections 3.3.1.3 and 3.8.3.1).

"Nothing (else) was delivered" is checked with a sentinel: after the SUBACK the test
publishes a non-retained message on a topic the client also subscribes to; retained
messages are sent while the broker handles the SUBSCRIBE, so they precede the sentinel.
The sentinel travels at QoS 2 because paho hands a QoS 2 message to the application only
at PUBREL: a QoS 2 retained message sent before a QoS 1 sentinel would surface after it."""

import pytest

from clients import V311, V5, MosquittoSub, PahoClient, mosquitto_pub
from harness import scaled


class Subscriber:
    """A PahoClient subscribed to a sentinel topic, able to list what one SUBSCRIBE
    brought (retained messages) before a sentinel published after its SUBACK."""

    def __init__(self, port, pub, version=V311, sentinel="sentinel/retained"):
        self.pub = pub
        self.sentinel = sentinel
        self.count = 0
        self.client = PahoClient(port, version=version).wait_connected()
        self.client.subscribe(sentinel, 2)

    def subscribe(self, topic_filter, qos=1, **options):
        """Subscribe; returns the messages that arrived before the next sentinel."""
        self.client.subscribe(topic_filter, qos, **options)
        return self.until_sentinel()

    def until_sentinel(self):
        self.count += 1
        payload = f"sentinel {self.count}".encode()
        self.pub.publish(self.sentinel, payload, qos=2)
        before = self.client.wait_payload(payload)
        self.client.clear()
        return [m for m in before if m.topic != self.sentinel]

    def close(self):
        self.client.close()


@pytest.fixture
def pub_and_port(broker):
    b = broker()
    pub = PahoClient(b.port, version=V311).wait_connected()
    yield pub, b.port
    pub.close()


def test_retained_message_delivered_on_subscribe_with_retain_flag(pub_and_port):
    pub, port = pub_and_port
    mosquitto_pub(port, "ret/one", message="kept", qos=1, extra_args=["-r"])
    sub = Subscriber(port, pub)
    try:
        got = sub.subscribe("ret/one", 1)
        # [MQTT-3.3.1-8]: retain flag 1 on a message sent because of a new subscription.
        assert [(m.topic, m.payload, m.qos, m.retain) for m in got] == [
            ("ret/one", b"kept", 1, True)]
    finally:
        sub.close()
    # mosquitto_sub sees it too: %r is the retain flag.
    tool = MosquittoSub(port, "ret/one", count=1, wait_seconds=int(scaled(10)),
                        extra_args=["-F", "%r %q %t %p", "-q", "2"])
    try:
        tool.wait_subscribed()
        rc, lines = tool.finish()
    finally:
        tool.close()
    assert rc == 0, tool.stderr
    assert lines == [b"1 1 ret/one kept\n"]


def test_retained_message_replaced_by_the_next_one(pub_and_port):
    pub, port = pub_and_port
    for payload in ("v1", "v2", "v3"):
        assert pub.publish("ret/replace", payload, qos=1, retain=True) == 0
    sub = Subscriber(port, pub)
    try:
        assert [m.payload for m in sub.subscribe("ret/replace")] == [b"v3"]
    finally:
        sub.close()


def test_empty_retained_payload_clears_the_topic(pub_and_port):
    pub, port = pub_and_port
    live = Subscriber(port, pub)
    late = None
    try:
        live.subscribe("ret/clear", 1)
        assert pub.publish("ret/clear", "soon gone", qos=1, retain=True) == 0
        assert pub.publish("ret/clear", b"", qos=1, retain=True) == 0
        # [3.1.1 3.3.1.3]: the zero-byte retained message is delivered to current
        # subscribers as normal, then no longer stored [MQTT-3.3.1-10, MQTT-3.3.1-11].
        assert [(m.payload, m.retain) for m in live.until_sentinel()] == [
            (b"soon gone", False), (b"", False)]
        late = Subscriber(port, pub)
        assert late.subscribe("ret/clear", 1) == []
        assert late.subscribe("ret/#", 1) == []
    finally:
        live.close()
        if late:
            late.close()


def test_mosquitto_pub_remove_retained(pub_and_port):
    """The same with the tools: mosquitto_pub -r -n (null message) clears."""
    pub, port = pub_and_port
    mosquitto_pub(port, "ret/tools", message="stored", extra_args=["-r"])
    mosquitto_pub(port, "ret/tools", message="", extra_args=["-r"])
    sub = Subscriber(port, pub)
    try:
        assert sub.subscribe("ret/tools") == []
    finally:
        sub.close()


@pytest.mark.parametrize("version", [pytest.param(V311, id="3.1.1"), pytest.param(V5, id="5")])
def test_live_messages_carry_retain_flag_0(pub_and_port, version):
    """[MQTT-3.3.1-9] (3.1.1; MQTT 5 with Retain As Published 0 [MQTT-3.3.1-12]): a message
    forwarded to an established subscription has RETAIN 0, however it was published."""
    pub, port = pub_and_port
    sub = Subscriber(port, pub, version=version)
    try:
        sub.subscribe("ret/live", 2)
        pub.publish("ret/live", "retained and live", qos=2, retain=True)
        pub.publish("ret/live", "plain", qos=2)
        got = sub.until_sentinel()
        assert [(m.payload, m.retain) for m in got] == [
            (b"retained and live", False), (b"plain", False)]
        # ... while a new subscription gets the stored one with RETAIN 1.
        again = sub.subscribe("ret/+", 2)
        assert [(m.payload, m.retain) for m in again] == [(b"retained and live", True)]
    finally:
        sub.close()


def test_wildcard_subscription_gets_every_retained_message_at_min_qos(pub_and_port):
    pub, port = pub_and_port
    for leaf, qos in (("a", 0), ("b", 1), ("c", 2), ("deep/er", 2)):
        pub.publish(f"ret/wild/{leaf}", f"retained {leaf}", qos=qos, retain=True)
    pub.publish("ret/other", "not matched", qos=1, retain=True)
    sub = Subscriber(port, pub)
    try:
        got = sub.subscribe("ret/wild/#", 1)
        assert sorted((m.topic, m.qos, m.retain) for m in got) == [
            ("ret/wild/a", 0, True), ("ret/wild/b", 1, True), ("ret/wild/c", 1, True),
            ("ret/wild/deep/er", 1, True)]
        got = sub.subscribe("ret/wild/+", 2)
        assert sorted((m.topic, m.qos) for m in got) == [
            ("ret/wild/a", 0), ("ret/wild/b", 1), ("ret/wild/c", 2)]
    finally:
        sub.close()


# --- MQTT 5 subscription options -------------------------------------------------------

@pytest.mark.parametrize("handling,first,again", [
    (0, 1, 1),   # send retained messages at every subscribe
    (1, 1, 0),   # only if the subscription did not exist yet
    (2, 0, 0),   # never at subscribe time
])
def test_v5_retain_handling(pub_and_port, handling, first, again):
    """[MQTT-3.3.1-9..11]: Retain Handling 0/1/2; the re-subscription replaces the
    existing one (same filter) [MQTT-3.8.4-3]."""
    pub, port = pub_and_port
    pub.publish("ret5/rh", "stored", qos=1, retain=True)
    sub = Subscriber(port, pub, version=V5)
    try:
        got = sub.subscribe("ret5/rh", 1, retain_handling=handling)
        assert [(m.payload, m.retain) for m in got] == [(b"stored", True)] * first
        got = sub.subscribe("ret5/rh", 1, retain_handling=handling)
        assert [(m.payload, m.retain) for m in got] == [(b"stored", True)] * again
        # The subscription is live whatever the handling.
        pub.publish("ret5/rh", "live", qos=1)
        assert [(m.payload, m.retain) for m in sub.until_sentinel()] == [(b"live", False)]
    finally:
        sub.close()


def test_v5_retain_as_published(pub_and_port):
    """[MQTT-3.3.1-12, MQTT-3.3.1-13]: with Retain As Published the forwarded message keeps
    the RETAIN flag it was published with; without it the flag is 0."""
    pub, port = pub_and_port
    plain = Subscriber(port, pub, version=V5)
    rap = Subscriber(port, pub, version=V5)
    try:
        plain.subscribe("ret5/rap", 1)
        rap.subscribe("ret5/rap", 1, retain_as_published=True)
        pub.publish("ret5/rap", "published retained", qos=1, retain=True)
        pub.publish("ret5/rap", "published plain", qos=1)
        assert [(m.payload, m.retain) for m in plain.until_sentinel()] == [
            (b"published retained", False), (b"published plain", False)]
        assert [(m.payload, m.retain) for m in rap.until_sentinel()] == [
            (b"published retained", True), (b"published plain", False)]
    finally:
        plain.close()
        rap.close()


def test_v5_retained_message_keeps_its_properties(pub_and_port):
    """Properties of a retained message are delivered with it to later subscribers
    (section 3.3.2.3: forwarded unaltered)."""
    pub, port = pub_and_port
    props = {"ContentType": "text/plain", "UserProperty": [("origin", "retained test")],
             "PayloadFormatIndicator": 1}
    publisher = PahoClient(port, version=V5).wait_connected()
    sub = Subscriber(port, pub, version=V5)
    try:
        publisher.publish("ret5/props", "with properties", qos=1, retain=True, properties=props)
        got = sub.subscribe("ret5/props", 1)
        assert len(got) == 1 and got[0].retain
        for name, value in props.items():
            assert got[0].properties.get(name) == value, got[0].properties
        publisher.disconnect()
    finally:
        publisher.close()
        sub.close()
