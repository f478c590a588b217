"""2. Topic filters with + and # (MQTT 3.1.1 section 4.7)."""

import pytest

from clients import Paho, settle_all

TOPICS = ["a/b/c", "a/x/c", "a//c", "a/b", "a", "a/b/c/d", "a/b/d", "b/c", "/a", "x/y/z"]

# Which of TOPICS each filter must receive; everything else must not arrive.
EXPECTED = {
    "a/+/c": ["a/b/c", "a/x/c", "a//c"],
    # "a/#" also matches the parent level "a" (section 4.7.1.2).
    "a/#": ["a/b/c", "a/x/c", "a//c", "a/b", "a", "a/b/c/d", "a/b/d"],
    "#": TOPICS,
    "+/+": ["a/b", "b/c", "/a"],
    "a/b/#": ["a/b/c", "a/b", "a/b/c/d", "a/b/d"],      # includes the parent "a/b"
    "+": ["a"],
    "a/b/c": ["a/b/c"],
    "+/b/+": ["a/b/c", "a/b/d"],
}


@pytest.fixture
def pub(broker):
    b = broker()
    client = Paho(b.port).wait_connected()
    client.broker = b
    yield client
    client.close()


def test_wildcard_matching(pub):
    subs = {}
    try:
        for topic_filter in EXPECTED:
            subs[topic_filter] = Paho(pub.broker.port).wait_connected()
            subs[topic_filter].subscribe(topic_filter)
        for topic in TOPICS:
            pub.publish(topic, f"payload for {topic}")
        got = settle_all({f: (subs[f], len(expected)) for f, expected in EXPECTED.items()})
        for topic_filter, expected in EXPECTED.items():
            want = [(t, f"payload for {t}".encode()) for t in expected]
            assert got[topic_filter] == want, f"filter {topic_filter!r}"
    finally:
        for sub in subs.values():
            sub.close()


def test_overlapping_subscriptions_deliver_at_least_once(pub):
    """3.1.1 allows one copy per matching subscription or one copy in total."""
    sub = Paho(pub.broker.port).wait_connected()
    try:
        sub.subscribe("o/#", "o/+", "o/b")
        pub.publish("o/b", "one")
        got = sub.settle(1)
        assert 1 <= len(got) <= 3 and set(got) == {("o/b", b"one")}
    finally:
        sub.close()


@pytest.mark.midge_only
def test_overlapping_subscriptions_deliver_once(pub):
    """midge delivers a message once per client, at the maximum granted QoS
    of its matching subscriptions (mosquitto sends one copy per subscription)."""
    sub = Paho(pub.broker.port).wait_connected()
    try:
        sub.subscribe("o/#", "o/+", "o/b", "#")
        sub.subscribe("+/b")           # a second SUBSCRIBE packet, overlapping too
        pub.publish("o/b", "one")
        pub.publish("o/c", "two")      # matches o/#, o/+ and #
        assert sub.settle(2) == [("o/b", b"one"), ("o/c", b"two")]
    finally:
        sub.close()
