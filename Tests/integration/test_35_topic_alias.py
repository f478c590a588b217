"""34. Server-to-client topic aliases (MQTT 5 §3.3.2.3.4, `max_topic_alias_broker`). Here's how
it works: a subscriber that sends Topic Alias Maximum in CONNECT receives the topic name once per
alias, then an empty topic name with the Topic Alias property [MQTT-3.3.2-8]; past its maximum,
the oldest alias is re-bound (a PUBLISH with a name and an existing alias). Checked on the wire
with a raw socket, with paho-mqtt 5 (which reports the Topic Alias property but does not resolve
aliases itself: the test resolves them from what paho decoded), and with MQTT.js 5 (which
resolves them: every topic must come out right, with re-binding). The last test counts the bytes
on the wire for 1,000 messages on a 60-byte topic with and without aliases."""

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

import mqttraw
from clients import (PahoClient, mqttjs_node, node_env, parse_publish, raw_connect_v5, raw_publish,
                     raw_subscribe_v5)
from harness import scaled

pytestmark = pytest.mark.midge_only

TOPIC60 = "sensors/building-7/floor-3/room-301/temperature/celsius/avg1"
assert len(TOPIC60) == 60


def raw_subscriber(port, client_id, alias_max, topic_filter):
    """A raw MQTT 5 subscriber (QoS 0) with Topic Alias Maximum alias_max (None: not sent)."""
    c = mqttraw.RawClient(port, timeout=scaled(5))
    props = [] if alias_max is None else [(0x22, alias_max)]
    c.send(raw_connect_v5(client_id, properties=props))
    assert c.read_packet(scaled(5))[0] == mqttraw.CONNACK
    c.send(raw_subscribe_v5(1, topic_filter, 0))
    assert c.read_packet(scaled(5))[0] == mqttraw.SUBACK
    return c


def test_second_message_carries_an_empty_topic_and_the_alias(broker):
    """[MQTT-3.3.2-8]: the name once with alias 1, then an empty topic with alias 1; a client
    that did not send Topic Alias Maximum gets full names and no alias [MQTT-3.3.2-9]."""
    b = broker()
    aliased = raw_subscriber(b.port, "aliased", 10, "sensors/#")
    plain = raw_subscriber(b.port, "plain", None, "sensors/#")
    pub = PahoClient(b.port).wait_connected()
    try:
        for i in range(3):
            pub.publish(TOPIC60, f"m{i}".encode(), qos=1)
        got = [parse_publish(aliased.read_packet(scaled(5)), v5=True) for _ in range(3)]
        assert [m["topic"] for m in got] == [TOPIC60, "", ""], got
        assert [dict(m["properties"]).get(0x23) for m in got] == [1, 1, 1], got
        assert [m["payload"] for m in got] == [b"m0", b"m1", b"m2"]
        plain_got = [parse_publish(plain.read_packet(scaled(5)), v5=True) for _ in range(3)]
        assert [m["topic"] for m in plain_got] == [TOPIC60] * 3
        assert all(0x23 not in dict(m["properties"]) for m in plain_got)
    finally:
        pub.close()
        aliased.close()
        plain.close()


def test_max_topic_alias_broker_0_turns_aliases_off(broker):
    b = broker(["max_topic_alias_broker 0"])
    c = raw_subscriber(b.port, "aliased", 10, "t")
    pub = PahoClient(b.port).wait_connected()
    try:
        for i in range(2):
            pub.publish("t", b"x", qos=1)
        got = [parse_publish(c.read_packet(scaled(5)), v5=True) for _ in range(2)]
        assert [m["topic"] for m in got] == ["t", "t"] and all(not m["properties"] for m in got), got
    finally:
        pub.close()
        c.close()


def test_paho_subscriber_with_topic_alias_maximum(broker):
    """paho-mqtt 5 with TopicAliasMaximum 2 and three topics: what paho decodes (topic, Topic
    Alias property) resolves to the published topics, with alias 1 re-bound at the third."""
    b = broker()
    sub = PahoClient(b.port, properties={"TopicAliasMaximum": 2}).wait_connected()
    pub = PahoClient(b.port).wait_connected()
    try:
        sub.subscribe("pa/#", 1)
        topics = ["pa/one", "pa/two", "pa/one", "pa/three", "pa/three", "pa/two"]
        for i, t in enumerate(topics):
            pub.publish(t, f"{i} {t}".encode(), qos=1)
        got = sub.wait_messages(len(topics))
        aliases, resolved = {}, []
        for m in got:
            alias = m.properties.get("TopicAlias")
            assert alias is not None and 1 <= alias <= 2, m
            if m.topic:
                aliases[alias] = m.topic
            resolved.append(aliases[alias])
        assert resolved == topics, got
        assert [m.payload.decode().split(" ", 1)[1] for m in got] == topics
        assert [m.topic for m in got] == ["pa/one", "pa/two", "", "pa/three", "", ""], got
    finally:
        pub.close()
        sub.close()


def test_mqttjs_resolves_every_topic(broker):
    """MQTT.js 5 (Debian's node-mqtt) with topicAliasMaximum 3, 40 messages over 5 topics:
    every topic MQTT.js reports is the published one, aliases stay within 1..3."""
    node = mqttjs_node()
    b = broker()
    script = Path(__file__).with_name("mqttjs_topic_alias.js")
    timeout_ms = int(scaled(15) * 1000)
    r = subprocess.run([node, str(script), str(b.port), "3", "5", "40", str(timeout_ms)], env=node_env(),
                       capture_output=True, text=True, timeout=scaled(15) + 15)
    assert r.returncode == 0, f"mqttjs: {r.stdout}\n{r.stderr}"
    received = json.loads(r.stdout.strip().splitlines()[-1])["received"]
    assert len(received) == 40
    for m in received:
        assert m["payload"].split(" ", 1)[1] == m["topic"], m
        assert m["alias"] is not None and 1 <= m["alias"] <= 3, m
    assert sorted(int(m["payload"].split(" ")[0]) for m in received) == list(range(40))


def count_bytes(port, alias_max, count=1000, payload_bytes=16):
    """Bytes a raw subscriber reads for `count` QoS 0 messages on TOPIC60 (after its SUBACK)."""
    sub = raw_subscriber(port, f"bytes-{alias_max}", alias_max, TOPIC60)
    total = [0, 0]  # bytes, PUBLISH packets

    def read():
        deadline = time.monotonic() + scaled(20)
        while total[1] < count and time.monotonic() < deadline:
            p = sub.read_packet(max(0.01, deadline - time.monotonic()))
            total[0] += len(p)
            total[1] += p[0] & 0xF0 == mqttraw.PUBLISH

    reader = threading.Thread(target=read)
    reader.start()
    pub = mqttraw.RawClient(port, timeout=scaled(5))
    try:
        pub.send(raw_connect_v5(f"bytes-pub-{alias_max}"))
        assert pub.read_packet(scaled(5))[0] == mqttraw.CONNACK
        body = b"p" * payload_bytes
        for start in range(0, count, 100):  # in batches, so that no QoS 0 message is dropped
            pub.send(b"".join(raw_publish(TOPIC60, body, properties=[]) for _ in range(min(100, count - start))))
            time.sleep(0.01)
        reader.join(scaled(25))
    finally:
        pub.close()
        sub.close()
    assert total[1] == count, f"{total[1]} of {count} messages"
    return total[0]


def test_bytes_saved_for_1000_messages_on_a_60_byte_topic(broker):
    b = broker()
    without = count_bytes(b.port, None)
    with_aliases = count_bytes(b.port, 10)
    saved = without - with_aliases
    print(f"1000 x PUBLISH QoS 0, 60-byte topic, 16-byte payload: {without} bytes without aliases, "
          f"{with_aliases} with, {saved} saved ({100 * saved / without:.1f}%)")
    # Each later message drops the 60-byte name and carries a 3-byte Topic Alias property.
    assert saved == 999 * (60 - 3) - 3, (without, with_aliases)
