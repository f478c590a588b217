"""19. MQTT 5 specifics: CONNACK properties, Server Keep Alive, subscription options and
identifiers, PUBLISH properties, payload format, client limits (Receive Maximum, Maximum
Packet Size) and enhanced authentication refusal."""

import pytest

import mqttraw
from clients import (PUBACK, MosquittoSub, PahoClient, mosquitto_pub, parse_connack_v5,
                     parse_publish, raw_ack, raw_connect_v5, raw_disconnect_reason,
                     raw_publish, raw_subscribe_v5)
from harness import scaled

# CONNACK properties (MQTT 5 section 3.2.2.3): identifier -> name.
CONNACK_PROPERTIES = {
    0x11: "Session Expiry Interval", 0x21: "Receive Maximum", 0x24: "Maximum QoS",
    0x25: "Retain Available", 0x27: "Maximum Packet Size", 0x12: "Assigned Client Identifier",
    0x22: "Topic Alias Maximum", 0x1F: "Reason String", 0x26: "User Property",
    0x28: "Wildcard Subscription Available", 0x29: "Subscription Identifiers Available",
    0x2A: "Shared Subscription Available", 0x13: "Server Keep Alive",
    0x1A: "Response Information", 0x1C: "Server Reference", 0x15: "Authentication Method",
    0x16: "Authentication Data",
}


def test_connack_properties_are_well_formed(broker):
    """Only CONNACK properties, each at most once (User Property excepted) [MQTT-2.2.2-2],
    values in range: Receive Maximum > 0, Maximum QoS 0 or 1 when present [MQTT-3.2.2-9],
    flags 0/1, Maximum Packet Size > 0; no Assigned Client Identifier for a named client;
    no authentication properties when the client sent none."""
    b = broker()
    with mqttraw.RawClient(b.port) as raw:
        raw.send(raw_connect_v5("props-check"))
        present, reason, props = parse_connack_v5(raw.read_packet(scaled(5)))
        assert (present, reason) == (False, 0)
        ids = [ident for ident, _ in props]
        assert set(ids) <= set(CONNACK_PROPERTIES), [hex(i) for i in ids]
        singles = [i for i in ids if i != 0x26]
        assert len(singles) == len(set(singles)), f"repeated property: {props}"
        values = dict(props)
        assert values.get(0x21, 1) >= 1
        assert values.get(0x24, 0) in (0, 1)
        for flag in (0x25, 0x28, 0x29, 0x2A):
            assert values.get(flag, 1) in (0, 1)
        assert values.get(0x27, 1) >= 1
        assert not {0x12, 0x15, 0x16} & set(ids)
        raw.send(bytes([0xE0, 0x00]))


def test_server_keep_alive_caps_the_client_keepalive(broker):
    """Config max_keepalive 10; a client asking for 60 gets Server Keep Alive 10 in CONNACK
    [MQTT-3.2.2-21, MQTT-3.1.2-21]. A client asking for 5 may be told nothing or 5."""
    b = broker(["max_keepalive 10"])
    greedy = PahoClient(b.port, keepalive=60)
    modest = PahoClient(b.port, keepalive=5)
    try:
        greedy.wait_connected()
        assert greedy.connack_properties.get("ServerKeepAlive") == 10, greedy.connack_properties
        modest.wait_connected()
        assert modest.connack_properties.get("ServerKeepAlive", 5) == 5, modest.connack_properties
        greedy.disconnect()
        modest.disconnect()
    finally:
        greedy.close()
        modest.close()


def test_no_local(broker):
    """[MQTT-3.8.3-3]: with No Local the client's own publications are not sent back to it;
    other clients' are, and a subscription without No Local gets its own too."""
    b = broker()
    me = PahoClient(b.port).wait_connected()
    other = PahoClient(b.port).wait_connected()
    try:
        me.subscribe("nolocal/t", 1, no_local=True)
        me.subscribe("nolocal/echo", 1)
        me.publish("nolocal/t", "mine", qos=1)
        other.publish("nolocal/t", "theirs", qos=1)
        me.publish("nolocal/echo", "echo of mine", qos=1)
        got = me.settle(2)
        assert [(m.topic, m.payload) for m in got] == [
            ("nolocal/t", b"theirs"), ("nolocal/echo", b"echo of mine")]
        me.disconnect()
        other.disconnect()
    finally:
        me.close()
        other.close()


def test_subscription_identifiers(broker):
    """[MQTT-3.3.4-3..5] A message carries the identifier of the subscription that matched;
    a message matching two subscriptions of one client carries both identifiers, either in
    one copy or one in each copy (the spec allows both; mosquitto 2.0.11 sends one copy per
    subscription). A subscription without identifier adds none; re-subscribing replaces
    the identifier."""
    b = broker()
    sub = PahoClient(b.port).wait_connected()
    pub = PahoClient(b.port).wait_connected()
    try:
        sub.subscribe("sid/#", 1, sub_id=5)
        sub.subscribe("sid/a", 1, sub_id=7)
        sub.subscribe("nosid/t", 1)

        pub.publish("sid/b", "one match", qos=1)
        assert [(m.payload, m.properties.get("SubscriptionIdentifier")) for m in sub.settle(1)] \
            == [(b"one match", [5])]
        sub.clear()

        pub.publish("sid/a", "two matches", qos=1)
        got = sub.settle(1)
        assert all(m.payload == b"two matches" for m in got) and 1 <= len(got) <= 2, got
        ids = [m.properties.get("SubscriptionIdentifier", []) for m in got]
        assert sorted(i for copy in ids for i in copy) == [5, 7], ids
        if len(got) == 2:
            assert sorted(map(len, ids)) == [1, 1], ids     # one identifier per copy
        sub.clear()

        pub.publish("nosid/t", "no identifier", qos=1)
        got = sub.settle(1)
        assert [(m.payload, "SubscriptionIdentifier" in m.properties) for m in got] == [
            (b"no identifier", False)]
        sub.clear()

        sub.subscribe("sid/#", 1, sub_id=9)
        pub.publish("sid/b", "new identifier", qos=1)
        assert [m.properties.get("SubscriptionIdentifier") for m in sub.settle(1)] == [[9]]
        sub.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()


def test_mosquitto_sub_subscription_identifier(broker):
    b = broker()
    sub = MosquittoSub(b.port, "sid/tools", count=1, wait_seconds=int(scaled(10)),
                       extra_args=["-V", "mqttv5", "-D", "subscribe", "subscription-identifier",
                                   "42", "-F", "%S %p"])
    try:
        sub.wait_subscribed()
        mosquitto_pub(b.port, "sid/tools", message="tagged", extra_args=["-V", "mqttv5"])
        rc, lines = sub.finish()
    finally:
        sub.close()
    assert rc == 0, sub.stderr
    assert lines == [b"42 tagged\n"]


PUBLISH_PROPERTIES = {
    "PayloadFormatIndicator": 1,
    "ContentType": "application/json; charset=utf-8",
    "ResponseTopic": "reply/to/me",
    "CorrelationData": bytes(range(256))[::-1][:40] + b"\x00",
    # Duplicated names are legal and their order must be kept [MQTT-3.3.2-18].
    "UserProperty": [("zeta", "1"), ("alpha", "ünïcödé"), ("zeta", "2"), ("", "empty name")],
}


def test_publish_properties_are_forwarded_unchanged(broker):
    """[MQTT-3.3.2-4, -15, -16, -17, -18]: payload format indicator, content type, response
    topic, correlation data and user properties (order kept) reach the subscriber as sent,
    at every QoS."""
    b = broker()
    sub = PahoClient(b.port).wait_connected()
    pub = PahoClient(b.port).wait_connected()
    try:
        sub.subscribe("props/#", 2)
        for qos in (0, 1, 2):
            pub.publish(f"props/q{qos}", '{"k": "v"}', qos=qos, properties=PUBLISH_PROPERTIES)
        got = sub.settle(3)
        assert sorted(m.topic for m in got) == ["props/q0", "props/q1", "props/q2"]
        for m in got:
            assert m.payload == b'{"k": "v"}'
            for name, value in PUBLISH_PROPERTIES.items():
                assert m.properties.get(name) == value, (m.topic, name, m.properties)
            assert "MessageExpiryInterval" not in m.properties
        sub.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()


def test_mosquitto_tools_publish_properties(broker):
    b = broker()
    sub = MosquittoSub(b.port, "props/tools", count=1, wait_seconds=int(scaled(10)),
                       extra_args=["-V", "mqttv5", "-F", "%C|%R|%D|%F|%P|%p"])
    try:
        sub.wait_subscribed()
        mosquitto_pub(b.port, "props/tools", message="with properties", qos=1, extra_args=[
            "-V", "mqttv5", "-D", "publish", "content-type", "text/plain",
            "-D", "publish", "response-topic", "props/answer",
            "-D", "publish", "correlation-data", "req-17",
            "-D", "publish", "payload-format-indicator", "1",
            "-D", "publish", "user-property", "b", "2",
            "-D", "publish", "user-property", "a", "1"])
        rc, lines = sub.finish()
    finally:
        sub.close()
    assert rc == 0, sub.stderr
    assert lines == [b"text/plain|props/answer|req-17|1|b:2 a:1|with properties\n"]


def _publish_invalid_utf8(port):
    """Raw v5 client: QoS 1 PUBLISH, Payload Format Indicator 1, payload not UTF-8.
    Returns the broker's answer: ("puback", reason) or ("disconnect", reason)."""
    with mqttraw.RawClient(port) as raw:
        raw.send(raw_connect_v5("bad-utf8"))
        assert parse_connack_v5(raw.read_packet(scaled(5)))[1] == 0
        raw.send(raw_publish("pfi/t", b"\xff\xfe not utf-8 \xc0\x80", qos=1, packet_id=1,
                             properties=[(0x01, 1)]))
        try:
            answer = raw.read_packet(scaled(5))
        except ConnectionError:
            return ("closed", None)
        if answer[0] == 0x40:
            assert answer[2:4] == b"\x00\x01", answer.hex(" ")
            return ("puback", answer[4] if len(answer) > 4 else 0)
        assert answer[0] == 0xE0, answer.hex(" ")
        return ("disconnect", raw_disconnect_reason(answer))


def test_payload_format_indicator_with_invalid_utf8(broker):
    """MQTT 5 section 3.3.2.3.2: the receiver MAY validate a payload marked UTF-8 and answer
    0x99 (Payload format invalid) by PUBACK or DISCONNECT. Either a rejection with 0x99 and
    no delivery, or acceptance and delivery unchanged with the indicator (mosquitto 2.0.11
    does not validate)."""
    b = broker()
    sub = PahoClient(b.port).wait_connected()
    try:
        sub.subscribe("pfi/t", 1)
        kind, reason = _publish_invalid_utf8(b.port)
        if kind == "puback" and reason in (0x00, 0x10):
            got = sub.settle(1)
            assert [(m.payload, m.properties.get("PayloadFormatIndicator")) for m in got] == [
                (b"\xff\xfe not utf-8 \xc0\x80", 1)]
        else:
            assert (kind, reason) in (("puback", 0x99), ("disconnect", 0x99)), (kind, reason)
        sub.disconnect()
    finally:
        sub.close()


@pytest.mark.midge_only
def test_payload_format_indicator_invalid_utf8_is_rejected(broker):
    """midge validates (the spec's MAY): PUBACK or DISCONNECT 0x99, nothing delivered."""
    b = broker()
    sub = PahoClient(b.port).wait_connected()
    pub = PahoClient(b.port).wait_connected()
    try:
        sub.subscribe("pfi/#", 1)
        assert _publish_invalid_utf8(b.port)[1] == 0x99
        pub.publish("pfi/after", "valid", qos=1, properties={"PayloadFormatIndicator": 1})
        assert [m.payload for m in sub.settle(1)] == [b"valid"]
        sub.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()


def test_client_maximum_packet_size(broker):
    """[MQTT-3.1.2-24, -25]: a client with Maximum Packet Size 100 is not sent a 500-byte
    message (the broker discards it for that client only) and stays connected; a normal
    subscriber gets it."""
    b = broker()
    small = PahoClient(b.port, properties={"MaximumPacketSize": 100}).wait_connected()
    normal = PahoClient(b.port).wait_connected()
    pub = PahoClient(b.port).wait_connected()
    try:
        for c in (small, normal):
            c.subscribe("mps/t", 1)
        pub.publish("mps/t", b"B" * 500, qos=1)
        pub.publish("mps/t", b"fits", qos=1)
        pub.publish("mps/t", b"B" * 500, qos=0)
        pub.publish("mps/t", b"fits too", qos=0)
        assert [len(m.payload) for m in normal.settle(4)] == [500, 4, 500, 8]
        assert [m.payload for m in small.settle(2)] == [b"fits", b"fits too"]
        assert not small.disconnected.is_set()
        for c in (small, normal, pub):
            c.disconnect()
    finally:
        for c in (small, normal, pub):
            c.close()


def test_unsupported_authentication_method_is_refused(broker):
    """[MQTT-4.12.0-1]: an Authentication Method the server does not support: CONNACK 0x8C
    (Bad authentication method) and the connection is closed. (The spec also allows 0x87,
    Not authorized; mosquitto and midge answer 0x8C.)"""
    b = broker()
    c = PahoClient(b.port, properties={"AuthenticationMethod": "SCRAM-SHA-1",
                                       "AuthenticationData": b"n,,n=user,r=nonce"})
    try:
        assert c.wait_connack() == 0x8C
        c.wait_disconnected()
    finally:
        c.close()


def test_receive_maximum_limits_unacknowledged_deliveries(broker):
    """[MQTT-3.3.4-9]: a client with Receive Maximum 2 has at most 2 unacknowledged QoS 1
    PUBLISH packets from the broker at a time; each PUBACK lets the next one through,
    in order."""
    b = broker()
    pub = PahoClient(b.port).wait_connected()
    try:
        with mqttraw.RawClient(b.port) as raw:
            raw.send(raw_connect_v5("recv-max-2", properties=[(0x21, 2)]))
            assert parse_connack_v5(raw.read_packet(scaled(5)))[1] == 0
            raw.send(raw_subscribe_v5(1, "rm/t", 1))
            assert raw.read_packet(scaled(5))[0] == 0x90
            for i in range(5):
                pub.publish("rm/t", f"m{i}", qos=1)
            first = [parse_publish(raw.read_packet(scaled(5)), v5=True) for _ in range(2)]
            assert [p["payload"] for p in first] == [b"m0", b"m1"]
            with pytest.raises(TimeoutError):
                raw.read_packet(scaled(0.5))       # a third one would exceed the maximum
            received = first
            pending = [p["packet_id"] for p in first]
            while len(received) < 5:
                raw.send(raw_ack(PUBACK, pending.pop(0)))
                nxt = parse_publish(raw.read_packet(scaled(5)), v5=True)
                received.append(nxt)
                pending.append(nxt["packet_id"])
            assert [p["payload"] for p in received] == [b"m0", b"m1", b"m2", b"m3", b"m4"]
            assert {p["qos"] for p in received} == {1}
            for packet_id in pending:
                raw.send(raw_ack(PUBACK, packet_id))
            raw.send(bytes([0xE0, 0x00]))
        pub.disconnect()
    finally:
        pub.close()
