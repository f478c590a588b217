"""15. QoS 1 and 2 end to end (MQTT 3.1.1 section 4.3, MQTT 5 section 4.3).

A message is delivered at min(publish QoS, subscription QoS) [MQTT-3.8.4-6 / 3.1.1 §3.8.4];
QoS 2 arrives exactly once, QoS 1 in publish order on one topic [MQTT-4.6.0-5]."""

import struct

import pytest

import mqttraw
from clients import (PUBCOMP, PUBREC, PUBREL, V311, V5, MosquittoSub, PahoClient, mosquitto_pub,
                     parse_publish, raw_ack, raw_publish)
from harness import scaled

VERSIONS = [pytest.param(V311, id="3.1.1"), pytest.param(V5, id="5")]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_qos_pair_is_delivered_at_the_minimum(broker, version):
    """9 (publish QoS, subscription QoS) pairs, each on its own topic: each message arrives
    exactly once at min of the two; paho completes every QoS 1 / 2 handshake both ways
    (paho hands a QoS 2 message over only after the broker's PUBREL)."""
    b = broker()
    sub = PahoClient(b.port, version=version).wait_connected()
    pub = PahoClient(b.port, version=version).wait_connected()
    try:
        for sub_qos in (0, 1, 2):
            sub.subscribe(f"qos/sub{sub_qos}", sub_qos)
        for sub_qos in (0, 1, 2):
            for pub_qos in (0, 1, 2):
                # wait=True: PUBACK (QoS 1) / PUBCOMP (QoS 2) came back, reason code success.
                assert pub.publish(f"qos/sub{sub_qos}", f"p{pub_qos}s{sub_qos}", qos=pub_qos) == 0
        got = sub.settle(9)
        assert sorted((m.payload.decode(), m.qos) for m in got) == sorted(
            (f"p{p}s{s}", min(p, s)) for p in (0, 1, 2) for s in (0, 1, 2)), got
        assert not any(m.dup or m.retain for m in got), got
        sub.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()


@pytest.mark.parametrize("protocol", ["mqttv311", "mqttv5"])
def test_mosquitto_tools_qos_levels(broker, protocol):
    """mosquitto_pub -q 0/1/2 to a mosquitto_sub -q 2 (and to a -q 1 one): %q shows min."""
    b = broker()
    subs = {q: MosquittoSub(b.port, "tools/qos", count=3, wait_seconds=int(scaled(10)),
                            extra_args=["-q", q, "-V", protocol, "-F", "%q %p"])
            for q in (1, 2)}
    try:
        for sub in subs.values():
            sub.wait_subscribed()
        for qos in (0, 1, 2):
            mosquitto_pub(b.port, "tools/qos", message=f"sent at {qos}", qos=qos,
                          extra_args=["-V", protocol])
        for sub_qos, sub in subs.items():
            rc, lines = sub.finish()
            assert rc == 0, sub.stderr
            assert lines == [f"{min(q, sub_qos)} sent at {q}\n".encode() for q in (0, 1, 2)]
    finally:
        for sub in subs.values():
            sub.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_qos2_messages_arrive_exactly_once_and_in_order(broker, version):
    b = broker()
    count = 300
    sub = PahoClient(b.port, version=version).wait_connected()
    pub = PahoClient(b.port, version=version).wait_connected()
    try:
        sub.subscribe("qos2/many", 2)
        infos = [pub.publish("qos2/many", struct.pack("!I", i), qos=2, wait=False)
                 for i in range(count)]
        for info in infos:
            assert pub.wait_published(info, timeout=scaled(30)) == 0
        got = sub.settle(count, timeout=scaled(30))
        sequence = [struct.unpack("!I", m.payload)[0] for m in got]
        assert len(sequence) == count, f"{len(sequence)} deliveries for {count} QoS 2 messages"
        assert sequence == list(range(count))
        assert {m.qos for m in got} == {2}
        sub.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()


def test_qos1_order_of_1000_messages_on_one_topic(broker):
    """[MQTT-4.6.0-5]: one publisher, one topic, QoS 1: delivered in publish order."""
    b = broker()
    count = 1000
    sub = PahoClient(b.port, version=V311).wait_connected()
    pub = PahoClient(b.port, version=V311).wait_connected()
    try:
        sub.subscribe("qos1/order", 1)
        infos = [pub.publish("qos1/order", struct.pack("!I", i) + b"." * (i % 50), qos=1,
                             wait=False) for i in range(count)]
        for info in infos:
            pub.wait_published(info, timeout=scaled(30))
        got = sub.settle(count, timeout=scaled(30))
        sequence = [struct.unpack("!I", m.payload[:4])[0] for m in got]
        for expected, seen in enumerate(sequence):
            assert seen == expected, f"delivery #{expected} carried {seen} (gap, dupe or reorder)"
        assert len(sequence) == count, f"{len(sequence) - count} extra deliveries"
        assert all(m.qos == 1 and len(m.payload) == 4 + i % 50 for i, m in enumerate(got))
        sub.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()


def test_retransmitted_qos2_publish_is_delivered_once(broker):
    """A QoS 2 PUBLISH sent again with DUP=1 before PUBREL (what a client does after a lost
    PUBREC) is the same message: one delivery [MQTT-4.3.3-9 / 3.1.1 §4.3.3]. After PUBCOMP
    the packet identifier is free again and a new PUBLISH with it is a new message."""
    b = broker()
    sub = PahoClient(b.port, version=V311).wait_connected()
    try:
        sub.subscribe("qos2/dup", 2)
        with mqttraw.connected_client(b.port, client_id="raw-qos2-pub",
                                      timeout=scaled(5)) as raw:
            raw.send(raw_publish("qos2/dup", b"first", qos=2, packet_id=7))
            assert raw.read_packet(scaled(5)) == raw_ack(PUBREC, 7)
            raw.send(raw_publish("qos2/dup", b"first", qos=2, packet_id=7, dup=True))
            assert raw.read_packet(scaled(5)) == raw_ack(PUBREC, 7)
            raw.send(raw_ack(PUBREL, 7))
            assert raw.read_packet(scaled(5)) == raw_ack(PUBCOMP, 7)
            raw.send(raw_publish("qos2/dup", b"second", qos=2, packet_id=7))
            assert raw.read_packet(scaled(5)) == raw_ack(PUBREC, 7)
            raw.send(raw_ack(PUBREL, 7))
            assert raw.read_packet(scaled(5)) == raw_ack(PUBCOMP, 7)
            raw.send(mqttraw.DISCONNECT)
        got = sub.settle(2)
        assert [(m.payload, m.qos) for m in got] == [(b"first", 2), (b"second", 2)]
        sub.disconnect()
    finally:
        sub.close()


def test_qos2_flow_resumed_after_publisher_reconnects(broker):
    """Publisher (clean session 0) gets PUBREC, loses its connection, reconnects and sends
    PUBREL again [MQTT-4.4.0-1]: the broker completes with PUBCOMP and the message is
    delivered exactly once (whether the broker forwarded it at PUBLISH or at PUBREL)."""
    b = broker()
    sub = PahoClient(b.port, version=V311).wait_connected()
    try:
        sub.subscribe("qos2/resume", 2)
        raw = mqttraw.connected_client(b.port, client_id="raw-qos2-resume", timeout=scaled(5),
                                       clean_session=False)
        with raw:
            raw.send(raw_publish("qos2/resume", b"once", qos=2, packet_id=300))
            assert raw.read_packet(scaled(5)) == raw_ack(PUBREC, 300)
        with mqttraw.RawClient(b.port) as again:
            ack = again.connect(scaled(5), client_id="raw-qos2-resume", clean_session=False)
            assert ack == mqttraw.connack(0, session_present=True)
            again.send(raw_ack(PUBREL, 300))
            assert again.read_packet(scaled(5)) == raw_ack(PUBCOMP, 300)
            again.send(mqttraw.DISCONNECT)
        got = sub.settle(1)
        assert [(m.payload, m.qos) for m in got] == [(b"once", 2)]
        sub.disconnect()
    finally:
        sub.close()
        with mqttraw.RawClient(b.port) as cleanup:     # drop the persistent session
            cleanup.connect(scaled(5), client_id="raw-qos2-resume", clean_session=True)


def test_broker_side_qos2_handshake(broker):
    """The broker's own QoS 2 flow to a subscriber, byte by byte: PUBLISH with a non-zero
    packet id, PUBREL (flags 0010) after our PUBREC, nothing after our PUBCOMP."""
    b = broker()
    with mqttraw.connected_client(b.port, client_id="raw-qos2-sub", timeout=scaled(5)) as raw:
        raw.send(mqttraw.subscribe(1, [("qos2/raw", 2)]))
        assert raw.read_packet(scaled(5)) == mqttraw.suback(1, [2])
        pub = PahoClient(b.port, version=V311).wait_connected()
        try:
            assert pub.publish("qos2/raw", b"handshake", qos=2) == 0
            message = parse_publish(raw.read_packet(scaled(5)))
            assert (message["qos"], message["dup"], message["retain"], message["topic"],
                    message["payload"]) == (2, False, False, "qos2/raw", b"handshake")
            assert message["packet_id"] != 0
            raw.send(raw_ack(PUBREC, message["packet_id"]))
            assert raw.read_packet(scaled(5)) == raw_ack(PUBREL, message["packet_id"])
            raw.send(raw_ack(PUBCOMP, message["packet_id"]))
            raw.send(mqttraw.PINGREQ)
            assert raw.read_packet(scaled(5)) == mqttraw.PINGRESP
            pub.disconnect()
        finally:
            pub.close()


def _overlap_delivery(port, filters):
    sub = PahoClient(port, version=V311).wait_connected()
    pub = PahoClient(port, version=V311).wait_connected()
    try:
        for topic_filter, qos in filters:
            sub.subscribe(topic_filter, qos)
        assert pub.publish("ovl/a/x", b"overlap", qos=2) == 0
        got = sub.settle(1)
        sub.disconnect()
        pub.disconnect()
        return got
    finally:
        sub.close()
        pub.close()


def test_overlapping_subscriptions_deliver_once_at_maximum_qos(broker):
    """3.1.1 [MQTT-3.3.5-1]: a message matching several subscriptions of one client is
    delivered respecting the maximum QoS of them. Choice left open by the spec: a broker
    MAY send further copies (one per subscription); midge and mosquitto send one.
    The exact-topic filter carries the highest QoS here because mosquitto 2.0.11 takes the
    QoS of the first filter it matches (see the midge-only test below)."""
    b = broker()
    got = _overlap_delivery(b.port, [("ovl/#", 0), ("ovl/+/x", 1), ("ovl/a/x", 2)])
    assert [(m.payload, m.qos) for m in got] == [(b"overlap", 2)]


@pytest.mark.midge_only
@pytest.mark.parametrize("filters", [
    [("ovl/#", 2), ("ovl/a/x", 0)],
    [("ovl/a/x", 0), ("ovl/+/x", 2), ("ovl/#", 1)],
    [("ovl/+/x", 1), ("ovl/#", 2)],
    [("ovl/#", 1), ("+/a/x", 2)],
], ids=["hash2-exact0", "exact0-plus2-hash1", "plus1-hash2", "hash1-plus2"])
def test_overlapping_subscriptions_maximum_qos_whatever_the_order(broker, filters):
    """Same rule with the highest QoS on any of the filters. mosquitto 2.0.11 fails this
    (it delivers once at the QoS of the exact/first-walked filter, e.g. 0 for the first
    case): off-spec for [MQTT-3.3.5-1]."""
    b = broker()
    got = _overlap_delivery(b.port, filters)
    assert [(m.payload, m.qos) for m in got] == [(b"overlap", max(q for _, q in filters))]

