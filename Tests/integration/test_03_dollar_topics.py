"""3. Topics starting with '$' are not matched by filters starting with a
wildcard [MQTT-4.7.2-1], but are matched by filters naming them."""

from clients import Paho, settle_all


def test_dollar_topics(broker):
    b = broker()
    pub = Paho(b.port).wait_connected()
    subs = {f: Paho(b.port).wait_connected() for f in ("#", "+/x", "+/+", "$foo/#", "$foo/+")}
    try:
        for topic_filter, sub in subs.items():
            sub.subscribe(topic_filter)
        pub.publish("$foo/x", "dollar")
        pub.publish("foo/x", "plain")
        dollar, plain = ("$foo/x", b"dollar"), ("foo/x", b"plain")
        got = settle_all({f: (sub, 1) for f, sub in subs.items()})
        assert got == {"#": [plain], "+/x": [plain], "+/+": [plain],
                       "$foo/#": [dollar], "$foo/+": [dollar]}
    finally:
        pub.close()
        for sub in subs.values():
            sub.close()
