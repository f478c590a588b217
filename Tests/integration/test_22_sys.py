"""22. $SYS statistics (sys_interval), read with mosquitto_sub like any monitoring setup."""

import subprocess

from harness import HOST, scaled


def sys_values(port, topics, wait):
    """The last value mosquitto_sub prints for each topic: the retained one, then one from
    an interval that started after it subscribed."""
    args = ["mosquitto_sub", "-h", HOST, "-p", str(port), "-v", "-C", str(2 * len(topics)),
            "-W", str(int(wait))]
    for t in topics:
        args += ["-t", t]
    out = subprocess.run(args, capture_output=True, timeout=wait + 5)
    values = {}
    for line in out.stdout.decode().splitlines():
        topic, _, value = line.partition(" ")
        values[topic] = value
    return values


def test_sys_counters_follow_the_broker(broker):
    b = broker(["sys_interval 1"])
    subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(b.port), "-t", "sys/test", "-m", "x",
                    "-q", "1"], check=True, timeout=scaled(10))
    topics = ["$SYS/broker/clients/connected", "$SYS/broker/uptime", "$SYS/broker/messages/received"]
    values = sys_values(b.port, topics, scaled(3) + 2)
    assert set(values) == set(topics), values
    assert int(values["$SYS/broker/clients/connected"]) >= 1   # mosquitto_sub itself
    assert values["$SYS/broker/uptime"].endswith(" seconds")
    assert int(values["$SYS/broker/uptime"].split()[0]) >= 0
    assert int(values["$SYS/broker/messages/received"]) >= 1


def test_sys_is_not_matched_by_a_leading_wildcard(broker):
    b = broker(["sys_interval 1"])
    # '#' must not see $SYS [MQTT-4.7.2-1]: nothing arrives within two intervals.
    out = subprocess.run(["mosquitto_sub", "-h", HOST, "-p", str(b.port), "-t", "#", "-C", "1",
                          "-W", str(int(scaled(2)) + 1)], capture_output=True,
                         timeout=scaled(2) + 10)
    assert out.stdout == b"", out.stdout
