"""22. $SYS statistics (sys_interval), read with mosquitto_sub like any monitoring setup."""

import re
import socket
import subprocess

import pytest

import mqttraw
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


def sys_snapshot(port, seconds):
    """Every $SYS/broker/ value mosquitto_sub saw within `seconds` (the last one per topic)."""
    out = subprocess.run(["mosquitto_sub", "-h", HOST, "-p", str(port), "-F", "%t\t%p", "-t", "$SYS/broker/#",
                          "-W", str(int(seconds))], capture_output=True, timeout=seconds + 10)
    values = {}
    for line in out.stdout.decode().splitlines():
        topic, _, value = line.partition("\t")   # topics may hold spaces ("retained messages")
        values[topic] = value
    return values


@pytest.mark.midge_only
def test_sys_load_pools_and_closes_follow_known_traffic(broker):
    """30 PUBLISHes from one mosquitto_pub and one malformed connection, then the $SYS tree:
    exact counts, load averages in Mosquitto's per-minute units, midge's pools and closes."""
    n = 30
    b = broker(["sys_interval 1", "memory_budget 32MiB"])
    subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(b.port), "-t", "load/x", "-l"],
                   input=b"".join(b"m%d\n" % i for i in range(n)), check=True, timeout=scaled(10))
    with socket.create_connection((HOST, b.port), timeout=scaled(5)) as s:
        s.sendall(mqttraw.connect(client_id="bad"))
        assert s.recv(4) == mqttraw.connack(0)
        s.sendall(b"\x00\x00")       # packet type 0 is reserved: malformed, the broker closes
        assert s.recv(4) == b""
    v = sys_snapshot(b.port, scaled(2) + 1)
    assert v["$SYS/broker/version"].startswith("midge version "), v
    assert v["$SYS/broker/publish/messages/received"] == str(n)
    # messages/* count every packet: n PUBLISH + CONNECT + DISCONNECT, + CONNECT (bad),
    # + CONNECT and SUBSCRIBE of the reading mosquitto_sub.
    assert int(v["$SYS/broker/messages/received"]) == n + 5, v["$SYS/broker/messages/received"]
    assert int(v["$SYS/broker/publish/messages/sent"]) > 0      # the $SYS messages themselves
    # All n PUBLISHes within a few seconds: the 1 min average is close to n per minute, the 5 min
    # one to n/5, the 15 min one to n/15 (each decays by e^(-t/window) afterwards).
    load1 = float(v["$SYS/broker/load/publish/received/1min"])
    load5 = float(v["$SYS/broker/load/publish/received/5min"])
    load15 = float(v["$SYS/broker/load/publish/received/15min"])
    assert 0.75 * n <= load1 <= 1.01 * n, load1   # (qemu: read up to ~15 s later)
    assert 0.18 * n <= load5 <= 0.202 * n, load5
    assert 0.062 * n <= load15 <= 0.0675 * n, load15
    assert 1.5 <= float(v["$SYS/broker/load/connections/1min"]) <= 3.05  # 3 CONNECTs, 2 of them early
    assert float(v["$SYS/broker/load/sockets/1min"]) > 0
    assert float(v["$SYS/broker/load/bytes/received/1min"]) > n * 4
    for name in ("messages/received", "messages/sent", "publish/dropped", "publish/received", "publish/sent",
                 "bytes/received", "bytes/sent", "connections", "sockets"):
        for window in ("1min", "5min", "15min"):
            assert re.fullmatch(r"\d+\.\d\d", v[f"$SYS/broker/load/{name}/{window}"]), (name, window)
    assert v["$SYS/broker/midge/memory/budget"] == f"{32 << 20} bytes"
    assert 0 < int(v["$SYS/broker/midge/memory/reserved"].split()[0]) <= 32 << 20
    # Only the reading mosquitto_sub is connected, with its one subscription.
    assert v["$SYS/broker/midge/pools/connections/used"] == "1"
    assert v["$SYS/broker/midge/pools/sessions/used"] == "1"
    assert v["$SYS/broker/midge/pools/subscriptions/used"] == "1"
    assert v["$SYS/broker/subscriptions/count"] == "1"
    assert int(v["$SYS/broker/midge/pools/sessions/capacity"]) > 1
    assert int(v["$SYS/broker/retained messages/count"]) >= 100    # the $SYS topics are retained
    assert v["$SYS/broker/midge/pools/retained/used"] == v["$SYS/broker/retained messages/count"]
    assert v["$SYS/broker/midge/closes/malformed"] == "1"
    assert v["$SYS/broker/midge/closes/client_disconnect"] == "1"   # mosquitto_pub
    assert v["$SYS/broker/midge/log/write_errors"] == "0"
