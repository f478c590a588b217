"""20. Shared subscriptions (MQTT 5 section 4.8.2), topic aliases from clients (3.3.2.3.4),
message expiry (3.3.2.3.3) and the offline queue limit."""

import struct
import time

import mqttraw
from clients import (V311, PahoClient, parse_connack_v5, raw_connect_v5,
                     raw_disconnect_reason, raw_publish)
from harness import scaled


# --- shared subscriptions --------------------------------------------------------------

def test_shared_subscription_splits_messages_between_members(broker):
    """$share/group/topic [§4.8.2]: each message goes to exactly one member of the
    group; another group gets every message too, and so does a plain subscriber.
    Choice left open by the spec: how messages are spread. Both members getting some of
    40 is asserted (mosquitto: round robin; midge: round robin)."""
    b = broker()
    count = 40
    members = [PahoClient(b.port).wait_connected() for _ in range(2)]
    solo = PahoClient(b.port).wait_connected()       # the only member of group "other"
    plain = PahoClient(b.port).wait_connected()
    pub = PahoClient(b.port).wait_connected()
    everyone = members + [solo, plain, pub]
    try:
        for m in members:
            m.subscribe("$share/workers/jobs/+", 1)
        solo.subscribe("$share/other/jobs/+", 1)
        plain.subscribe("jobs/+", 1)
        for i in range(count):
            pub.publish("jobs/new", struct.pack("!I", i), qos=1)
        expected = list(range(count))
        assert [struct.unpack("!I", m.payload)[0] for m in plain.settle(count)] == expected
        assert [struct.unpack("!I", m.payload)[0] for m in solo.settle(count, grace=0)] == expected
        shares = [[struct.unpack("!I", m.payload)[0] for m in c.received()] for c in members]
        assert sorted(shares[0] + shares[1]) == expected, \
            f"each message exactly once across the group: {shares}"
        assert shares[0] and shares[1], f"one member got nothing: {shares}"
        # Messages to one member keep their relative order [MQTT-4.6.0-5].
        assert all(s == sorted(s) for s in shares), shares
        assert all(m.topic == "jobs/new" and m.qos == 1 for c in members for m in c.received())
        for c in everyone:
            c.disconnect()
    finally:
        for c in everyone:
            c.close()


def test_shared_subscription_member_leaving(broker):
    """After one member unsubscribes, the remaining one gets every message."""
    b = broker()
    a = PahoClient(b.port).wait_connected()
    c = PahoClient(b.port).wait_connected()
    pub = PahoClient(b.port).wait_connected()
    try:
        a.subscribe("$share/g/leave/t", 1)
        c.subscribe("$share/g/leave/t", 1)
        c.unsubscribe("$share/g/leave/t")
        for i in range(10):
            pub.publish("leave/t", f"m{i}", qos=1)
        assert [m.payload for m in a.settle(10)] == [f"m{i}".encode() for i in range(10)]
        assert c.received() == []
        for x in (a, c, pub):
            x.disconnect()
    finally:
        for x in (a, c, pub):
            x.close()


# --- topic aliases (client to server) ------------------------------------------------

def test_topic_alias_from_publisher(broker):
    """Topic Alias Maximum is read from CONNACK (> 0 is needed here); the publisher maps
    alias 1 with a full topic, then publishes with an empty topic and the alias; a remapped
    alias takes the new topic. The subscriber (which allowed no aliases) sees full topics."""
    b = broker()
    pub = PahoClient(b.port).wait_connected()
    sub = PahoClient(b.port).wait_connected()
    try:
        maximum = pub.connack_properties.get("TopicAliasMaximum", 0)
        assert maximum > 0, f"broker advertises no topic aliases: {pub.connack_properties}"
        sub.subscribe("alias/#", 1)
        assert pub.publish("alias/long/topic/name", "mapped", qos=1,
                           properties={"TopicAlias": 1}) == 0
        assert pub.publish("", "by alias", qos=1, properties={"TopicAlias": 1}) == 0
        pub.publish("", "by alias qos 0", qos=0, properties={"TopicAlias": 1})
        assert pub.publish("alias/other", "remapped", qos=1,
                           properties={"TopicAlias": maximum}) == 0
        assert pub.publish("alias/second", "alias 1 again", qos=1,
                           properties={"TopicAlias": 1}) == 0
        assert pub.publish("", "via the top alias", qos=1,
                           properties={"TopicAlias": maximum}) == 0
        assert pub.publish("", "via remapped 1", qos=1, properties={"TopicAlias": 1}) == 0
        got = sub.settle(7)
        assert [(m.topic, m.payload) for m in got] == [
            ("alias/long/topic/name", b"mapped"), ("alias/long/topic/name", b"by alias"),
            ("alias/long/topic/name", b"by alias qos 0"), ("alias/other", b"remapped"),
            ("alias/second", b"alias 1 again"), ("alias/other", b"via the top alias"),
            ("alias/second", b"via remapped 1")]
        assert not any("TopicAlias" in m.properties for m in got)
        pub.disconnect()
        sub.disconnect()
    finally:
        pub.close()
        sub.close()


def test_topic_alias_above_maximum_disconnects_with_0x94(broker):
    """[MQTT-3.3.2-9]: a Topic Alias greater than the server's Topic Alias Maximum (0 if
    absent) is a protocol error: DISCONNECT with reason 0x94 (Topic Alias invalid), then
    close. Raw client: paho 2.1.0 would report such a one-byte DISCONNECT as reason 0."""
    b = broker()
    with mqttraw.RawClient(b.port) as raw:
        raw.send(raw_connect_v5("alias-too-big"))
        _, reason, props = parse_connack_v5(raw.read_packet(scaled(5)))
        assert reason == 0
        maximum = dict(props).get(0x22, 0)
        raw.send(raw_publish("alias/too/big", b"x", qos=0, properties=[(0x23, maximum + 1)]))
        _, data = raw.wait_closed(scaled(5))
        assert raw_disconnect_reason(data) == 0x94, data.hex(" ")


# --- message expiry --------------------------------------------------------------------

def test_message_expiry_for_an_offline_subscriber(broker):
    """[MQTT-3.3.2-5]: a queued message whose Message Expiry Interval (1 s) passed before
    it could be delivered is not delivered; one with 60 s is, with the interval lowered by
    the time it waited [MQTT-3.3.2-6]; one without expiry is, without the property."""
    b = broker()
    first = PahoClient(b.port, "expiry-sub", clean=False,
                       properties={"SessionExpiryInterval": 60}).wait_connected()
    pub = PahoClient(b.port).wait_connected()
    back = None
    try:
        first.subscribe("expire/t", 1)
        first.disconnect()
        pub.publish("expire/t", "short-lived", qos=1, properties={"MessageExpiryInterval": 1})
        pub.publish("expire/t", "long-lived", qos=1, properties={"MessageExpiryInterval": 60})
        pub.publish("expire/t", "forever", qos=1)
        published = time.monotonic()
        time.sleep(2.0)                       # let the 1 s interval run out
        back = PahoClient(b.port, "expiry-sub", clean=False,
                          properties={"SessionExpiryInterval": 60})
        back.wait_connected(session_present=True)
        got = back.settle(2)
        waited = time.monotonic() - published
        assert [m.payload for m in got] == [b"long-lived", b"forever"]
        remaining = got[0].properties.get("MessageExpiryInterval")
        assert remaining is not None and 60 - waited - 1 <= remaining <= 59, \
            f"expiry {remaining} after {waited:.1f} s"
        assert "MessageExpiryInterval" not in got[1].properties
        back.disconnect(properties={"SessionExpiryInterval": 0})
        pub.disconnect()
    finally:
        for c in (first, pub, back):
            if c:
                c.close()


def test_message_expiry_is_forwarded_to_live_subscribers(broker):
    """A message delivered at once keeps its Message Expiry Interval (minus at most the
    second or so it spent in the broker)."""
    b = broker()
    sub = PahoClient(b.port).wait_connected()
    pub = PahoClient(b.port).wait_connected()
    try:
        sub.subscribe("expire/live", 2)
        pub.publish("expire/live", "fresh", qos=2, properties={"MessageExpiryInterval": 30})
        got = sub.settle(1)
        assert 29 <= got[0].properties.get("MessageExpiryInterval", -1) <= 30, got
        sub.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()


def test_expired_retained_message_is_not_delivered(broker):
    """[MQTT-3.3.2-5] applies to retained messages too: a retained message with expiry 1 s
    is no longer sent to a subscriber arriving 2 s later; one without expiry still is."""
    b = broker()
    pub = PahoClient(b.port).wait_connected()
    sub = None
    try:
        pub.publish("expire/ret/short", "gone", qos=1, retain=True,
                    properties={"MessageExpiryInterval": 1})
        pub.publish("expire/ret/keep", "kept", qos=1, retain=True)
        time.sleep(2.0)
        sub = PahoClient(b.port).wait_connected()
        sub.subscribe("expire/ret/#", 1)
        assert [(m.topic, m.retain) for m in sub.settle(1)] == [("expire/ret/keep", True)]
        sub.disconnect()
        pub.disconnect()
    finally:
        pub.close()
        if sub:
            sub.close()


# --- offline queue limit ---------------------------------------------------------------

def test_offline_queue_is_bounded_by_max_queued_messages(broker):
    """Config max_queued_messages 10; 30 QoS 1 messages published while a persistent 3.1.1
    subscriber is offline. The policy for the excess differs: mosquitto acknowledges and
    drops it (keeps the first 10); midge applies back-pressure instead (withholds PUBACK
    and stops reading the publisher until there is room). So only what both do is
    asserted: the publisher waits for PUBACKs while they keep coming, then dies (TCP
    reset: unread PUBLISH packets are lost, never acknowledged); the returning subscriber
    gets at most 10 messages, at least one, in publish order, without duplicates.
    (Measured: both deliver messages 0-9. midge documents its limit as "beyond the
    in-flight window": if it ever counts in-flight slots for an offline session, the
    bound here becomes 10 + max_inflight_messages.) Policy test: a candidate for a
    `midge_policy` marker once conftest.py registers one."""
    count, limit = 30, 10
    b = broker([f"max_queued_messages {limit}"])
    first = PahoClient(b.port, "queue-limit", version=V311, clean=False).wait_connected()
    try:
        first.subscribe("queue/t", 1)
        first.disconnect()
    finally:
        first.close()
    pub = PahoClient(b.port, version=V311).wait_connected()
    try:
        infos = [pub.publish("queue/t", struct.pack("!I", i), qos=1, wait=False)
                 for i in range(count)]
        for info in infos:         # mosquitto acknowledges all 30 (dropped or queued)
            info.wait_for_publish(timeout=scaled(1))
            if not info.is_published():
                break              # held back: stop waiting
        # Leave with a TCP reset: a broker that stopped reading this connection loses
        # the PUBLISH packets still unread in its socket (they were never acknowledged).
        pub.kill(reset=True)
    finally:
        pub.close()
    back = PahoClient(b.port, "queue-limit", version=V311, clean=False)
    try:
        back.wait_connected(session_present=True)
        got = back.settle(1, grace=scaled(1))
        sequence = [struct.unpack("!I", m.payload)[0] for m in got]
        assert 1 <= len(sequence) <= limit, f"{len(sequence)} delivered: {sequence}"
        assert sequence == sorted(set(sequence)), f"out of order or duplicated: {sequence}"
        assert set(sequence) <= set(range(count))
        back.disconnect()
    finally:
        back.close()
    PahoClient(b.port, "queue-limit", version=V311, clean=True).wait_connected().disconnect()
