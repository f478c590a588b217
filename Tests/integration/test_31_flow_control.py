"""31. Flow control that isolates clients (issue 18): a sleeping subscriber or a pipelining
publisher never stops anyone else.

- A full recipient queue (`max_queued_messages`, default 1000 waiting beyond the in-flight
  window) costs that recipient the message, nobody else: the publisher is acknowledged and
  never paused or disconnected, every other recipient gets it. `queue_full_action
  drop_newest` (the default) keeps the queue, `drop_oldest` drops its oldest message. Each
  drop is counted in $SYS per reason, and logged at most once a minute per session
  ("Outgoing messages are being dropped for client ID (reason)", Mosquitto's words).
- Fair share: when a shared pool (message store, queue entries, send chunks) has less than a
  quarter free, a session already holding an in-flight window of waiting messages gets no new
  ones from it (counted as fair_share): stalled and offline sessions cannot starve a healthy one.
- Inbound QoS 2 from MQTT 3.1/3.1.1 clients beyond `max_inflight_messages` unreleased ids
  spills into one shared table (`qos2_spill_ids`), exactly once kept; only a full table
  disconnects the publisher, without acknowledging the PUBLISH that did not fit. MQTT 5
  clients keep the protocol's rule (Receive Maximum exceeded: DISCONNECT 0x93).

Run against Mosquitto 2.0.11 (MIDGE_IS_MOSQUITTO=1) the tests not marked midge_only pass
there too: Mosquitto drops the newest message for a full queue and logs the same first words;
the checks of midge's own $SYS topics and log wording run only against midge. midge_only:
the options Mosquitto lacks (drop_oldest, memory_budget, qos2_spill_ids, reject_publish,
max_inflight_outgoing), the QoS 2 bursts (Mosquitto 2.0.11 answers PUBREC beyond its window
but drops those messages) and the 0x93 rule (Mosquitto answers PUBREC 0x97 and stays)."""

import collections
import json
import queue
import re
import shutil
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import mqttraw
from clients import (PUBACK, PUBCOMP, PUBREC, PUBREL, V311, V5, MosquittoSub, PahoClient,
                     mqttjs_node, node_env, parse_connack_v5, parse_publish, raw_ack, raw_connect_v5,
                     raw_disconnect_reason, raw_publish)
from harness import HOST, IS_MOSQUITTO, run_broker, scaled

midge_only = pytest.mark.midge_only

SYS_MIDGE = "$SYS/broker/midge/"
DROPPED_TOTAL = "$SYS/broker/publish/messages/dropped"
DROPPED = {reason: f"{SYS_MIDGE}messages/dropped/{reason}"
           for reason in ("queue_full", "fair_share", "send_queue", "store_full")}
DROPPED_OLD_NAME = f"{SYS_MIDGE}messages/dropped_queue_full"
SPILLED = f"{SYS_MIDGE}qos2/spilled"
SPILL_FULL = f"{SYS_MIDGE}qos2/spill_full"
DROP_LINE = "Outgoing messages are being dropped for client "


# --- helpers -----------------------------------------------------------------------------

class SysWatch:
    """A paho subscriber to $SYS topics (broker configured with `sys_interval 1`): waits
    until the latest value of a topic satisfies a condition."""

    def __init__(self, port, *filters):
        self.client = PahoClient(port, version=V311).wait_connected()
        for topic_filter in filters:
            self.client.subscribe(topic_filter, 0)

    def latest(self, topic):
        for m in reversed(self.client.received()):
            if m.topic == topic:
                return m.payload.decode()
        return None

    def wait(self, topic, want, timeout=None):
        """want: an int (the exact value) or a predicate on the int value. Returns the value."""
        check = (lambda v: v == want) if isinstance(want, int) else want
        timeout = scaled(5) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            value = self.latest(topic)
            if value is not None and check(int(value.split()[0])):
                return int(value.split()[0])
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic} is {value!r} after {timeout:.1f} s, "
                                     f"expected {want if isinstance(want, int) else 'otherwise'}")
            time.sleep(0.05)

    def close(self):
        self.client.close()


def broker_log(b):
    return b.stderr_path.read_text(errors="replace")


def drop_lines(b, client_id):
    """The broker's "messages are being dropped" lines for one client."""
    pattern = re.compile(re.escape(DROP_LINE + client_id) + r"(?:[ .].*)?$", re.M)
    return pattern.findall(broker_log(b))


def disconnect_reasons(b, client_id):
    """midge's logged disconnect reasons of one client (README, Logging)."""
    return re.findall(rf"Client {re.escape(client_id)} from \S+ \(p\d\) disconnected: (.*)$",
                      broker_log(b), re.M)


def wait_acked(client, infos, timeout, what="publisher"):
    """Wait until every publication in infos completed (PUBACK / PUBCOMP); fails at once when
    the client was disconnected. Returns the reason codes."""
    deadline = time.monotonic() + timeout
    mids = [info.mid for info in infos]
    with client.cond:
        while True:
            done = sum(1 for mid in mids if mid in client.pub_acks)
            if done == len(mids):
                return [client.pub_acks[mid] for mid in mids]
            if client.disconnected.is_set():
                raise AssertionError(
                    f"{what} {client.client_id} was disconnected (reason "
                    f"{client.disconnect_rc}) with {done} of {len(mids)} publications "
                    "acknowledged")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"{what} {client.client_id}: {done} of {len(mids)} publications "
                    f"acknowledged after {timeout:.1f} s (held back by the broker?)")
            client.cond.wait(min(remaining, 0.1))


def publish_paced(pub, sub, topic, payloads, ahead, timeout, what="publisher"):
    """Publish payloads at QoS 1 without waiting for acknowledgements, but at most `ahead`
    messages ahead of what sub (a healthy subscriber in this same process) has received, so
    that its queue stays short however the threads of this process get scheduled. Fails at
    once when pub is disconnected, or when sub stops progressing for timeout. Returns the
    publications (paho MQTTMessageInfo)."""
    infos = []
    for i, payload in enumerate(payloads):
        deadline = time.monotonic() + timeout
        while len(sub.messages) < i - ahead:
            assert not pub.disconnected.is_set(), \
                f"{what} disconnected (reason {pub.disconnect_rc}) at message {i}"
            if time.monotonic() > deadline:
                with pub.cond:
                    codes = collections.Counter(pub.pub_acks[info.mid] for info in infos
                                                if info.mid in pub.pub_acks)
                raise AssertionError(
                    f"{sub.client_id} stuck at {len(sub.messages)} of {i} sent; the {what} "
                    f"got {sum(codes.values())} acknowledgements (reason code: count "
                    f"{dict(codes)})")
            time.sleep(0.001)
        info = pub.client.publish(topic, payload, qos=1)
        assert info.rc == 0 and not pub.disconnected.is_set(), \
            f"{what} disconnected (reason {pub.disconnect_rc}) at message {i}"
        infos.append(info)
    return infos


def publish_lines(port, topic, client_id, payloads, timeout):
    """mosquitto_pub -q 1 -l: one message per line of stdin. Must finish within timeout and
    exit 0 (it exits once every message was acknowledged)."""
    if shutil.which("mosquitto_pub") is None:
        pytest.skip("mosquitto_pub is not installed")
    proc = subprocess.Popen(["mosquitto_pub", "-h", HOST, "-p", str(port), "-i", client_id,
                             "-t", topic, "-q", "1", "-l"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    data = b"".join(p + b"\n" for p in payloads)
    start = time.monotonic()
    try:
        out, err = proc.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"mosquitto_pub -i {client_id} ({len(payloads)} QoS 1 messages to "
                             f"{topic}) still running after {timeout:.1f} s: the broker held "
                             "the publisher back") from None
    assert proc.returncode == 0, \
        f"mosquitto_pub -i {client_id} exited {proc.returncode}: {err!r} {out!r}"
    return time.monotonic() - start


def payload_lines(sub, count, prefix, timeout, grace):
    """Output lines of a running MosquittoSub that start with prefix (-F '%t %p' lines; its
    -d lines start otherwise): wait for count of them, then grace seconds more for any extra."""
    lines = []
    deadline = time.monotonic() + timeout
    while True:
        if len(lines) >= count and deadline > time.monotonic() + grace:
            deadline = time.monotonic() + grace           # now only extras are awaited
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return lines
        try:
            line = sub.lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:                                  # it exited
            return lines
        if line.startswith(prefix):
            lines.append(line)


def numbered(count, start=1):
    return [b"%d" % i for i in range(start, start + count)]


def sequence_of(messages):
    return [struct.unpack("!I", m.payload[:4])[0] for m in messages]


# --- 1. the phone asleep: a full offline queue stops nobody --------------------------------

SENSOR, OTHER, LIMIT = 1500, 10, 1000     # LIMIT: the default max_queued_messages


@pytest.mark.parametrize("action", [
    pytest.param(None, id="default"),
    pytest.param("drop_oldest", id="drop_oldest", marks=midge_only),
])
def test_phone_asleep_with_mosquitto_clients(broker, action):
    """Issue 18, scenario 1, with the mosquitto tools. A persistent subscriber (`mosquitto_sub
    -c -i phone -q 1 -t 'home/#'`) goes away; a live one stays. A sensor publishes 1,500
    QoS 1 messages to home/temp (`mosquitto_pub -q 1 -l`): it finishes within 10 s, exit 0,
    never disconnected; then a second publisher sends 10 to home/other and finishes too. The
    live subscriber gets all 1,510 in order. The phone returns to exactly 1,000: the first
    ones by default (drop_newest), the newest with drop_oldest. 510 drops, counted under
    queue_full and in the total, and one log line for the phone."""
    config = ["sys_interval 1"] + ([f"queue_full_action {action}"] if action else [])
    b = broker(config)
    watch = SysWatch(b.port, DROPPED_TOTAL, f"{SYS_MIDGE}messages/#")
    live = None
    try:
        phone = MosquittoSub(b.port, "home/#", count=1, wait_seconds=int(scaled(10)),
                             client_id="phone", extra_args=["-c", "-q", "1", "-E"])
        phone.wait_subscribed()
        rc, lines = phone.finish()
        assert rc == 0 and lines == [], phone.stderr
        live = MosquittoSub(b.port, "home/#", count=SENSOR + OTHER,
                            wait_seconds=int(scaled(30)), client_id="live",
                            extra_args=["-q", "1", "-F", "%t %p"])
        live.wait_subscribed()

        took = publish_lines(b.port, "home/temp", "sensor", numbered(SENSOR), scaled(10))
        publish_lines(b.port, "home/other", "other", numbered(OTHER), scaled(10))

        sent = ([b"home/temp %d\n" % i for i in range(1, SENSOR + 1)] +
                [b"home/other %d\n" % i for i in range(1, OTHER + 1)])
        rc, lines = live.finish()
        assert len(lines) == len(sent), f"live subscriber got {len(lines)} of {len(sent)}"
        assert lines == sent, "live subscriber: messages lost, duplicated or reordered"

        back = MosquittoSub(b.port, "home/#", count=LIMIT + 1, wait_seconds=int(scaled(20)),
                            client_id="phone", extra_args=["-c", "-q", "1", "-F", "%t %p"])
        try:
            lines = payload_lines(back, LIMIT, b"home/", scaled(10), grace=scaled(0.5))
        finally:
            back.close()
        expected = sent[-LIMIT:] if action == "drop_oldest" else sent[:LIMIT]
        assert len(lines) == LIMIT, f"the phone got {len(lines)} messages, expected {LIMIT}"
        assert lines == expected, f"the phone got {lines[:2]} .. {lines[-2:]}, " \
                                  f"expected {expected[:2]} .. {expected[-2:]}"

        drops = len(sent) - LIMIT
        watch.wait(DROPPED_TOTAL, drops)
        if not IS_MOSQUITTO:
            watch.wait(DROPPED["queue_full"], drops)
            watch.wait(DROPPED_OLD_NAME, drops)
            for reason in ("fair_share", "send_queue", "store_full"):
                watch.wait(DROPPED[reason], 0)
        logged = drop_lines(b, "phone")
        assert len(logged) == 1, f"drop log lines for the phone: {logged}"
        if not IS_MOSQUITTO:
            assert "(queue full)" in logged[0], logged
            assert disconnect_reasons(b, "sensor") == ["client disconnected"]
            assert disconnect_reasons(b, "other") == ["client disconnected"]
        print(f"\nsensor: {SENSOR} QoS 1 messages in {took:.2f} s")
    finally:
        watch.close()
        if live:
            live.close()


@pytest.mark.parametrize("version", [pytest.param(V311, id="3.1.1"), pytest.param(V5, id="5")])
def test_phone_asleep_with_paho(broker, version):
    """The same with paho-mqtt: the sensor's 1,500 QoS 1 publications (never more than 200
    ahead of the live subscriber) are all acknowledged with reason 0, its connection never
    ends (no disconnect callback); the live subscriber gets all of them in order; the
    returning phone gets the first 1,000; 500 drops in $SYS, one log line."""
    b = broker(["sys_interval 1"])
    watch = SysWatch(b.port, DROPPED_TOTAL, f"{SYS_MIDGE}messages/#")
    phone_id = f"phone-{'5' if version == V5 else '311'}"
    session = {"SessionExpiryInterval": 3600} if version == V5 else None
    clients = []
    try:
        phone = PahoClient(b.port, phone_id, version=version, clean=False, properties=session)
        clients.append(phone)
        phone.wait_connected()
        phone.subscribe("home/#", 1)
        phone.disconnect()
        live = PahoClient(b.port, version=version).wait_connected()
        sensor = PahoClient(b.port, "sensor", version=version).wait_connected()
        clients += [live, sensor]
        live.subscribe("home/#", 1)

        start = time.monotonic()
        # Up to 200 ahead of the live subscriber: paho in this process must not fall 1,000
        # messages behind (it would then miss some, as a slow subscriber should).
        infos = publish_paced(sensor, live, "home/temp",
                              [struct.pack("!I", i) for i in range(SENSOR)], ahead=200,
                              timeout=scaled(10), what="sensor")
        codes = wait_acked(sensor, infos, scaled(10), "sensor")
        took = time.monotonic() - start
        assert set(codes) == {0}, f"PUBACK reason codes {sorted(set(codes))}"
        assert sequence_of(live.settle(SENSOR, timeout=scaled(10))) == list(range(SENSOR))
        assert not sensor.disconnected.is_set(), f"sensor disconnected: {sensor.disconnect_rc}"

        back = PahoClient(b.port, phone_id, version=version, clean=False, properties=session)
        clients.append(back)
        back.wait_connected(session_present=True)
        got = back.settle(LIMIT, grace=scaled(0.5))
        assert sequence_of(got) == list(range(LIMIT)), \
            f"the phone got {len(got)}: {sequence_of(got)[:3]} .. {sequence_of(got)[-3:]}"

        watch.wait(DROPPED_TOTAL, SENSOR - LIMIT)
        if not IS_MOSQUITTO:
            watch.wait(DROPPED["queue_full"], SENSOR - LIMIT)
        assert len(drop_lines(b, phone_id)) == 1, drop_lines(b, phone_id)
        sensor.disconnect()
        back.disconnect()
        live.disconnect()
        print(f"\nsensor: {SENSOR} QoS 1 messages acknowledged in {took:.2f} s")
    finally:
        watch.close()
        for c in clients:
            c.close()


# --- 2. a '#' subscriber that never reads, and healthy pairs ------------------------------

class Flood:
    """mosquitto_pub -q 1 -l fed by a thread: a burst of `burst` lines as fast as the broker
    takes them, then about `rate` lines a second until stop()."""

    def __init__(self, port, topic, client_id, burst, rate):
        if shutil.which("mosquitto_pub") is None:
            pytest.skip("mosquitto_pub is not installed")
        self.proc = subprocess.Popen(["mosquitto_pub", "-h", HOST, "-p", str(port), "-i",
                                      client_id, "-t", topic, "-q", "1", "-l"],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.burst, self.rate = burst, rate
        self.sent = 0
        self.burst_done = threading.Event()
        self.stopping = threading.Event()
        self.broken = None
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _lines(self, n):
        lines = b"".join(b"%08d " % (self.sent + i) + b"f" * 200 + b"\n" for i in range(n))
        self.sent += n
        return lines

    def _feed(self):
        try:
            while self.sent < self.burst:
                self.proc.stdin.write(self._lines(100))
                self.proc.stdin.flush()
            self.burst_done.set()
            step = max(1, int(self.rate / 100))
            while not self.stopping.is_set():
                self.proc.stdin.write(self._lines(step))
                self.proc.stdin.flush()
                time.sleep(0.01)
            self.proc.stdin.close()
        except OSError as exc:   # the process was killed, or the broker closed it
            self.broken = exc

    def finish(self, timeout):
        """Stop feeding, close stdin; returns mosquitto_pub's exit code (it exits after the
        last acknowledgement), or None if it was still blocked."""
        self.stopping.set()
        self.thread.join(timeout)
        if self.thread.is_alive():
            return None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        self.stopping.set()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.thread.join(5)


PAIRS, ROUND_TRIPS = 4, 200


def _round_trips(pub, sub, topic, out):
    try:
        times, infos = [], []
        for i in range(ROUND_TRIPS):
            start = time.monotonic()
            infos.append(pub.publish(topic, b"%d" % i, qos=1, wait=False))
            got = sub.wait_messages(i + 1, timeout=scaled(5))
            assert got[i].payload == b"%d" % i, f"{topic}: round trip {i} got {got[i]}"
            times.append(got[i].at - start)
        assert set(wait_acked(pub, infos, scaled(5))) == {0}
        out[topic] = times
    except BaseException as exc:   # reported by the main thread
        out[topic] = exc


def test_stalled_hash_subscriber_does_not_hold_back_healthy_pairs(broker):
    """Issue 18, scenario 2: a QoS 1 '#' subscriber that never reads (raw socket, small socket
    buffers) under a flood of QoS 1 messages; 4 paho pub/sub pairs on their own topics each do
    200 QoS 1 round trips meanwhile (each publish waits for its delivery). Every round trip
    completes, every publication is acknowledged, nobody is disconnected, the median round
    trip stays under 20 ms and the slowest under 1 s; the flood publisher finishes (exit 0).
    midge: the stalled subscriber's drops are counted (queue_full) and logged once."""
    config = ["sys_interval 1"]
    if not IS_MOSQUITTO:
        config += ["socket_send_buffer 16KiB", "socket_receive_buffer 16KiB"]
    b = broker(config)
    stalled = mqttraw.connected_client(b.port, client_id="stalled-hash", timeout=scaled(5))
    flood = None
    clients = []
    try:
        stalled.send(mqttraw.subscribe(1, [("#", 1)]))
        assert stalled.read_packet(scaled(5)) == mqttraw.suback(1, [1])
        # ... and never reads again.
        pairs = []
        for i in range(PAIRS):
            sub = PahoClient(b.port, f"pair-sub-{i}", version=V311).wait_connected()
            pub = PahoClient(b.port, f"pair-pub-{i}", version=V311).wait_connected()
            clients += [sub, pub]
            sub.subscribe(f"pair/{i}", 1)
            pairs.append((pub, sub, f"pair/{i}"))
        flood = Flood(b.port, "flood/x", "flood", burst=4000, rate=1000)
        flood.burst_done.wait(scaled(5))     # the stalled queue is full from here on
        time.sleep(scaled(0.2))

        results = {}
        threads = [threading.Thread(target=_round_trips, args=(*pair, results), daemon=True)
                   for pair in pairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(60))
        failures = {k: v for k, v in results.items() if isinstance(v, BaseException)}
        assert not failures, f"round trips failed: {failures}"
        assert len(results) == PAIRS, f"round trips still running: {sorted(results)}"
        for pub, sub, topic in pairs:
            assert not pub.disconnected.is_set() and not sub.disconnected.is_set(), topic
        times = sorted(t for v in results.values() for t in v)
        p50, worst = times[len(times) // 2], times[-1]
        print(f"\nround trips: {len(times)}, p50 {p50 * 1000:.2f} ms, "
              f"p99 {times[int(len(times) * 0.99)] * 1000:.2f} ms, max {worst * 1000:.1f} ms, "
              f"flood lines {flood.sent}")
        assert p50 < scaled(0.020), f"median round trip {p50 * 1000:.1f} ms"
        assert worst < scaled(1.0), f"slowest round trip {worst * 1000:.0f} ms"

        rc = flood.finish(scaled(10))
        assert rc == 0, f"flood publisher: exit {rc} after {flood.sent} lines ({flood.broken}) " \
                        f"{flood.proc.stderr.read() if rc is not None else ''}"
        for c in clients:
            c.disconnect()
        if not IS_MOSQUITTO:
            watch = SysWatch(b.port, f"{SYS_MIDGE}messages/#")
            try:
                watch.wait(DROPPED["queue_full"], lambda v: v > 0)
            finally:
                watch.close()
            assert len(drop_lines(b, "stalled-hash")) == 1, drop_lines(b, "stalled-hash")
            for i in range(PAIRS):
                assert drop_lines(b, f"pair-sub-{i}") == []
            assert disconnect_reasons(b, "flood") == ["client disconnected"]
    finally:
        stalled.close()
        if flood:
            flood.kill()
        for c in clients:
            c.close()


# --- 3. fair share of the pools ------------------------------------------------------------

OFFLINE, PAYLOAD = 20, 1000
SMALL = ["memory_budget 4MiB", "max_connections 64", "max_packet_size 16384",
         "max_subscriptions 256", "max_topic_length 64", "max_queued_messages 100000",
         "max_queued_bytes 256KiB", "sys_interval 1"]


def store_bytes(config_path):
    """Bytes of the message store in the broker's plan (`midge --plan -c FILE`)."""
    out = run_broker(["--plan", "-c", config_path], timeout=scaled(10))
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    m = re.search(r"^message chunks\s+(\d+)\s+(\d+)", out.stdout.decode(), re.M)
    assert m, out.stdout.decode()
    return int(m.group(1)) * int(m.group(2))


@midge_only
def test_fair_share_offline_sessions_cannot_starve_a_healthy_subscriber(broker):
    """memory_budget 4MiB; 20 offline persistent sessions subscribed to load/# at QoS 1 with
    room for 100,000 messages each; ~1 KB QoS 1 messages to load/x, 2.5 times what the store
    holds, while a healthy subscriber keeps up (the publisher stays at most 10 messages ahead
    of it). Without fair share the offline queues would take the whole store (and the queue
    entries). The healthy subscriber gets every message in order; the publisher is never
    disconnected and every publication is acknowledged; $SYS counts fair_share drops and no
    store_full ones; an offline session returns to an in-order part of the stream."""
    b = broker(SMALL)
    count = max(1000, int(2.5 * store_bytes(b.config_path) / PAYLOAD))
    for i in range(OFFLINE):
        with mqttraw.connected_client(b.port, client_id=f"offline-{i}", timeout=scaled(5),
                                      clean_session=False) as raw:
            raw.send(mqttraw.subscribe(1, [("load/#", 1)]))
            assert raw.read_packet(scaled(5)) == mqttraw.suback(1, [1])
            raw.send(mqttraw.DISCONNECT)
    watch = SysWatch(b.port, f"{SYS_MIDGE}messages/#")
    healthy = PahoClient(b.port, "healthy", version=V311).wait_connected()
    pub = PahoClient(b.port, "load-pub", version=V311).wait_connected()
    back = None
    try:
        healthy.subscribe("load/#", 1)
        infos = publish_paced(pub, healthy, "load/x",
                              [struct.pack("!I", i) + b"L" * (PAYLOAD - 4) for i in range(count)],
                              ahead=10, timeout=scaled(5), what="flood publisher")
        assert set(wait_acked(pub, infos, scaled(10), "flood publisher")) == {0}
        got = healthy.settle(count, timeout=scaled(10))
        assert sequence_of(got) == list(range(count)), "healthy subscriber lost messages"
        assert not pub.disconnected.is_set()
        fair = watch.wait(DROPPED["fair_share"], lambda v: v > 0)
        watch.wait(DROPPED["store_full"], 0)

        back = PahoClient(b.port, "offline-0", version=V311, clean=False)
        back.wait_connected(session_present=True)
        seq = sequence_of(back.settle(20, grace=scaled(0.5)))
        assert seq == sorted(set(seq)) and 20 <= len(seq) < count, \
            f"offline-0 got {len(seq)}: {seq[:5]} .. {seq[-5:]}"
        print(f"\n{count} messages of {PAYLOAD} B; fair_share drops {fair}; "
              f"offline-0 kept {len(seq)}")
        back.disconnect()
        pub.disconnect()
        healthy.disconnect()
    finally:
        watch.close()
        for c in (healthy, pub, back):
            if c:
                c.close()


# --- 4. QoS 2 bursts beyond the in-flight window (MQTT 3.1 / 3.1.1) ------------------------
# midge only: mosquitto 2.0.11 answers PUBREC to every one of these PUBLISH packets but
# delivers only those within its max_inflight_messages (20) and drops the rest: acknowledged
# and lost, which breaks exactly once (the paho burst: 37 of 100 delivered, MQTT.js: 20 of
# 100, the raw client: 20 of 500).

@midge_only
def test_paho_311_qos2_burst_of_100_beyond_the_window(broker):
    """paho-mqtt 3.1.1 with max_inflight_messages_set(100) puts 100 QoS 2 PUBLISH packets on
    the wire at once: more unreleased ids than the broker's window (20). All 100 complete
    (PUBCOMP), the publisher is never disconnected, the subscriber gets each exactly once,
    in order."""
    paho_qos2_burst(broker(), V311, "paho-burst", "burst/paho")


def paho_qos2_burst(b, version, client_id, topic, count=100):
    """paho-mqtt with max_inflight_messages_set(count) puts count QoS 2 PUBLISH packets on the
    wire at once; each must complete with reason 0, without a disconnect, and a paho 3.1.1
    subscriber gets each exactly once, in order, at QoS 2."""
    sub = PahoClient(b.port, version=V311).wait_connected()
    pub = PahoClient(b.port, client_id, version=version, connect=False)
    try:
        sub.subscribe(topic, 2)
        pub.client.max_inflight_messages_set(count)
        pub.start().wait_connected()
        infos = [pub.publish(topic, struct.pack("!I", i), qos=2, wait=False) for i in range(count)]
        assert set(wait_acked(pub, infos, scaled(10))) == {0}
        got = sub.settle(count, timeout=scaled(10))
        assert sequence_of(got) == list(range(count)), \
            f"{len(got)} deliveries: {sequence_of(got)[:30]}"
        assert {m.qos for m in got} == {2}
        assert not pub.disconnected.is_set()
        pub.disconnect()
        sub.disconnect()
    finally:
        pub.close()
        sub.close()


@midge_only
@pytest.mark.parametrize("version", [pytest.param(4, id="3.1.1"), pytest.param(3, id="3.1")])
def test_mqttjs_qos2_burst_of_100(broker, version):
    """MQTT.js (which has no outgoing window of its own) bursts 100 QoS 2 publications:
    all complete without a close, a paho subscriber gets each once, in order."""
    node = mqttjs_node()
    b = broker()
    count = 100
    sub = PahoClient(b.port, version=V311).wait_connected()
    try:
        sub.subscribe("burst/mqttjs", 2)
        script = Path(__file__).with_name("mqttjs_qos2_burst.js")
        result = subprocess.run([node, str(script), str(b.port), str(version), "burst/mqttjs",
                                 str(count), str(int(scaled(15) * 1000))],
                                env=node_env(), capture_output=True, text=True, timeout=scaled(15) + 15)
        assert result.returncode == 0, f"mqttjs: {result.stdout}\n{result.stderr}"
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["acked"] == count and not report["closed"], report
        got = sub.settle(count, timeout=scaled(10))
        assert [int(m.payload) for m in got] == list(range(count)), \
            f"{len(got)} deliveries: {[m.payload for m in got][:30]}"
        assert {m.qos for m in got} == {2}
        sub.disconnect()
    finally:
        sub.close()


def _read_acks(raw, first_byte, count, timeout):
    """count acknowledgements (first byte first_byte) -> their packet ids, in arrival order."""
    ids = []
    for _ in range(count):
        try:
            pkt = raw.read_packet(timeout)
        except ConnectionError as exc:
            raise AssertionError(f"connection closed by the broker ({exc}) after {len(ids)} "
                                 f"of {count} answers {first_byte:#x}") from None
        assert pkt[0] == first_byte and len(pkt) == 4, \
            f"expected {first_byte:#x} #{len(ids) + 1}, got {pkt[:8].hex(' ')}"
        ids.append(struct.unpack("!H", pkt[2:4])[0])
    return ids


def _raw_311(port, client_id, level, clean, session_present):
    raw = mqttraw.RawClient(port, timeout=scaled(5))
    name = "MQIsdp" if level == 3 else "MQTT"
    ack = raw.connect(scaled(5), client_id=client_id, clean_session=clean, protocol_name=name,
                      level=level)
    if level == 3:    # MQTT 3.1 has no session present flag: that CONNACK byte is reserved
        assert ack[:2] == b"\x20\x02" and ack[3] == 0, ack.hex(" ")
    else:
        assert ack == mqttraw.connack(0, session_present=session_present), ack.hex(" ")
    return raw


@midge_only
@pytest.mark.parametrize("level", [pytest.param(4, id="3.1.1"), pytest.param(3, id="3.1")])
def test_raw_500_unreleased_qos2_across_a_reconnect(broker, level):
    """A raw persistent (clean session 0) client sends 250 QoS 2 PUBLISH packets at once and
    gets 250 PUBREC, sends no PUBREL and leaves (DISCONNECT); it returns (session present),
    re-sends ids 1..250 with DUP (each answered PUBREC again, none delivered again), sends
    251..500 (PUBREC), then PUBREL for all 500 (PUBCOMP for all). The subscriber gets the 500
    messages exactly once, in order."""
    b = broker()
    count, half = 500, 250
    client_id = f"raw-burst-{level}"
    sub = PahoClient(b.port, version=V311).wait_connected()

    def message(i, dup=False):
        return raw_publish("burst/raw", struct.pack("!I", i), qos=2, packet_id=i, dup=dup)

    try:
        sub.subscribe("burst/raw", 2)
        with _raw_311(b.port, client_id, level, clean=False, session_present=False) as raw:
            raw.send(b"".join(message(i) for i in range(1, half + 1)))
            assert _read_acks(raw, PUBREC, half, scaled(5)) == list(range(1, half + 1))
            raw.send(mqttraw.DISCONNECT)
        with _raw_311(b.port, client_id, level, clean=False, session_present=True) as raw:
            raw.send(b"".join(message(i, dup=True) for i in range(1, half + 1)))
            assert _read_acks(raw, PUBREC, half, scaled(5)) == list(range(1, half + 1))
            raw.send(b"".join(message(i) for i in range(half + 1, count + 1)))
            assert _read_acks(raw, PUBREC, count - half, scaled(5)) == \
                list(range(half + 1, count + 1))
            raw.send(b"".join(raw_ack(PUBREL, i) for i in range(1, count + 1)))
            assert _read_acks(raw, PUBCOMP, count, scaled(5)) == list(range(1, count + 1))
            raw.send(mqttraw.PINGREQ)
            assert raw.read_packet(scaled(5)) == mqttraw.PINGRESP
            raw.send(mqttraw.DISCONNECT)
        got = sub.settle(count, grace=scaled(0.5), timeout=scaled(10))
        assert sequence_of(got) == list(range(1, count + 1)), \
            f"{len(got)} deliveries for {count} messages"
        sub.disconnect()
    finally:
        sub.close()
        with mqttraw.RawClient(b.port, timeout=scaled(5)) as cleanup:   # end the session
            cleanup.connect(scaled(5), client_id=client_id, clean_session=True)


@midge_only
def test_full_spill_table_disconnects_without_losing_anything(broker):
    """max_inflight_messages 4, qos2_spill_ids 16: a raw 3.1.1 persistent client pipelines 30
    unreleased QoS 2 PUBLISH packets. It gets PUBREC for the first 20 (4 in the window, 16 in
    the table), none for the 21st, and is disconnected; spill_full counts 1 and the table
    holds its 16 ids while it is away. It returns, releases 1..20 (PUBCOMP each) and re-sends
    21..30 as a client does with unacknowledged messages (DUP), which now fit. The
    subscriber gets all 30 exactly once, in order; the table is empty again."""
    b = broker(["max_inflight_messages 4", "qos2_spill_ids 16", "sys_interval 1"])
    watch = SysWatch(b.port, f"{SYS_MIDGE}qos2/#")
    sub = PahoClient(b.port, version=V311).wait_connected()

    def message(i, dup=False):
        return raw_publish("spill/t", struct.pack("!I", i), qos=2, packet_id=i, dup=dup)

    try:
        sub.subscribe("spill/t", 2)
        watch.wait(SPILL_FULL, 0)
        with _raw_311(b.port, "spill-pub", 4, clean=False, session_present=False) as raw:
            raw.send(b"".join(message(i) for i in range(1, 31)))
            acked = []
            try:
                while True:
                    pkt = raw.read_packet(scaled(5))
                    acked.append(pkt)
            except ConnectionError:
                pass
            except TimeoutError:
                raise AssertionError(f"still connected after {len(acked)} answers: "
                                     f"{[p.hex(' ') for p in acked[-3:]]}") from None
            assert acked == [raw_ack(PUBREC, i) for i in range(1, 21)], \
                [p.hex(" ") for p in acked]
        watch.wait(SPILL_FULL, 1)
        watch.wait(SPILLED, 16)
        with _raw_311(b.port, "spill-pub", 4, clean=False, session_present=True) as raw:
            raw.send(b"".join(raw_ack(PUBREL, i) for i in range(1, 21)))
            assert _read_acks(raw, PUBCOMP, 20, scaled(5)) == list(range(1, 21))
            raw.send(b"".join(message(i, dup=True) for i in range(21, 31)))
            assert _read_acks(raw, PUBREC, 10, scaled(5)) == list(range(21, 31))
            raw.send(b"".join(raw_ack(PUBREL, i) for i in range(21, 31)))
            assert _read_acks(raw, PUBCOMP, 10, scaled(5)) == list(range(21, 31))
            raw.send(mqttraw.DISCONNECT)
        got = sub.settle(30, grace=scaled(0.5))
        assert sequence_of(got) == list(range(1, 31)), f"{len(got)} deliveries"
        watch.wait(SPILLED, 0)
        watch.wait(SPILL_FULL, 1)
        sub.disconnect()
    finally:
        watch.close()
        sub.close()


@midge_only
def test_mqtt5_client_beyond_receive_maximum_is_disconnected_0x93(broker):
    """MQTT 5 keeps the protocol's rule: a client must not exceed the server's Receive Maximum
    [MQTT-3.3.4-7], and one that does meets DISCONNECT 0x93 (Receive Maximum exceeded,
    sections 3.2.2.3.3 and 4.9). Sent more unreleased QoS 2 PUBLISH packets than that, it gets
    PUBREC for those within it, then DISCONNECT 0x93, and the connection is closed. (The old
    broker passes this too: it guards the rule the new spill table must not relax.
    mosquitto 2.0.11 answers the one too many with PUBREC 0x97 and stays connected.)"""
    b = broker()
    with mqttraw.RawClient(b.port, timeout=scaled(5)) as raw:
        raw.send(raw_connect_v5("recv-max-exceeded"))
        _, reason, props = parse_connack_v5(raw.read_packet(scaled(5)))
        assert reason == 0
        maximum = dict(props).get(0x21, 65535)
        assert maximum <= 1000, f"Receive Maximum {maximum}: too large for this test"
        raw.send(b"".join(raw_publish("rm5/t", b"x", qos=2, packet_id=i, properties=[])
                          for i in range(1, maximum + 2)))
        answers = []
        try:
            while True:
                answers.append(raw.read_packet(scaled(5)))
        except ConnectionError:
            pass
        except TimeoutError:
            raise AssertionError(f"still connected after {len(answers)} answers") from None
        assert answers[-1:] and raw_disconnect_reason(answers[-1]) == 0x93, \
            [p.hex(" ") for p in answers[-3:]]
        recs = answers[:-1]
        assert [p[0] for p in recs] == [PUBREC] * maximum, [p.hex(" ") for p in recs[-3:]]
        assert [struct.unpack("!H", p[2:4])[0] for p in recs] == list(range(1, maximum + 1))


# Evidence for receive_maximum_exceeded: paho-mqtt 2.1 (MQTT 5, max_inflight_messages_set(100))
# and MQTT.js 4.3.7 (MQTT 5) send past the server's Receive Maximum. On the protocol's rule
# (the default) paho reconnects in a loop (17 disconnects in 10 s, 20 of 100 acknowledged in
# one run) and MQTT.js is closed at once; mosquitto 2.0.11 answers the excess with PUBREC 0x97,
# which paho reports as completed: 40 of 100 lost in one run. With `spill`, both complete.

@midge_only
def test_paho_mqtt5_qos2_burst_beyond_receive_maximum_spills(broker):
    """receive_maximum_exceeded spill: paho-mqtt's MQTT 5 client ignores the Receive Maximum
    when its own window is larger; its 100 QoS 2 PUBLISH packets all complete with reason 0,
    no disconnect, the subscriber gets each exactly once, in order."""
    paho_qos2_burst(broker(["receive_maximum_exceeded spill"]), V5, "paho5-burst", "burst/paho5")


@midge_only
@pytest.mark.parametrize("setting, completes", [("spill", True), ("disconnect", False)])
def test_mqttjs_mqtt5_burst_and_receive_maximum_exceeded(broker, setting, completes):
    """MQTT.js over MQTT 5 bursts 100 QoS 2 publications past the Receive Maximum (20): with
    `spill` all complete in order without a close; with `disconnect` (the default) the client
    is closed (DISCONNECT 0x93) and only the messages within the window (PUBREC sent) are
    delivered, once each, in order."""
    node = mqttjs_node()
    b = broker([f"receive_maximum_exceeded {setting}"])
    count = 100
    sub = PahoClient(b.port, version=V311).wait_connected()
    try:
        sub.subscribe("burst/mqttjs5", 2)
        script = Path(__file__).with_name("mqttjs_qos2_burst.js")
        result = subprocess.run([node, str(script), str(b.port), "5", "burst/mqttjs5",
                                 str(count), str(int(scaled(15) * 1000))],
                                env=node_env(), capture_output=True, text=True, timeout=scaled(15) + 15)
        report = json.loads(result.stdout.strip().splitlines()[-1])
        if completes:
            assert result.returncode == 0 and report["acked"] == count and not report["closed"], report
            got = sub.settle(count, timeout=scaled(10))
            assert [int(m.payload) for m in got] == list(range(count))
        else:
            assert result.returncode == 1 and report["closed"], report
            got = [int(m.payload) for m in sub.settle(0, grace=scaled(1))]
            assert got == list(range(len(got))) and len(got) <= 20, got
        sub.disconnect()
    finally:
        sub.close()


# --- 5. the options ------------------------------------------------------------------------

@midge_only
@pytest.mark.parametrize("value", ["drop_newest", "drop_oldest", "reject_publish",
                                   "pause_publisher", "quota_exceeded", "pause"])
def test_queue_full_action_values(tmp_path, value):
    """The four actions, and the old names (quota_exceeded = reject_publish, pause =
    pause_publisher), are accepted; anything else is refused."""
    conf = tmp_path / "midge.conf"
    conf.write_text(f"queue_full_action {value}\nmax_inflight_outgoing 64\nqos2_spill_ids 1024\n")
    out = run_broker(["--plan", "-c", conf], timeout=scaled(10))
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    conf.write_text("queue_full_action drop_everything\n")
    out = run_broker(["--plan", "-c", conf], timeout=scaled(10))
    assert out.returncode != 0 and b"queue_full_action" in out.stderr, out.stderr


@midge_only
def test_reject_publish_answers_0x97_and_delivers_to_nobody(broker):
    """queue_full_action reject_publish (lossless, for MQTT 5 publishers that handle 0x97),
    max_queued_messages 5, one offline persistent MQTT 5 subscriber: an MQTT 5 publisher's
    first 5 QoS 1 messages are acknowledged with 0, the next 3 with 0x97 (quota exceeded) and
    reach nobody: the live subscriber gets the first 5 only, so does the returning one."""
    b = broker(["queue_full_action reject_publish", "max_queued_messages 5"])
    session = {"SessionExpiryInterval": 600}
    clients = []
    try:
        away = PahoClient(b.port, "reject-away", clean=False, properties=session)
        clients.append(away)
        away.wait_connected()
        away.subscribe("reject/t", 1)
        away.disconnect()
        live = PahoClient(b.port).wait_connected()
        pub = PahoClient(b.port).wait_connected()
        clients += [live, pub]
        live.subscribe("reject/t", 1)
        codes = [pub.publish("reject/t", struct.pack("!I", i), qos=1) for i in range(8)]
        assert codes == [0] * 5 + [0x97] * 3, codes
        assert sequence_of(live.settle(5)) == list(range(5))
        back = PahoClient(b.port, "reject-away", clean=False, properties=session)
        clients.append(back)
        back.wait_connected(session_present=True)
        assert sequence_of(back.settle(5)) == list(range(5))
        for c in (back, live, pub):
            c.disconnect()
    finally:
        for c in clients:
            c.close()


@midge_only
def test_max_inflight_outgoing_bounds_unacknowledged_deliveries(broker):
    """max_inflight_outgoing 32 (above max_inflight_messages, 20 by default): a 3.1.1
    subscriber that does not acknowledge has exactly 32 QoS 1 messages in flight; one PUBACK
    lets the 33rd through."""
    window = 32
    b = broker([f"max_inflight_outgoing {window}"])
    pub = PahoClient(b.port, version=V311).wait_connected()
    try:
        with mqttraw.connected_client(b.port, client_id="window-sub", timeout=scaled(5)) as raw:
            raw.send(mqttraw.subscribe(1, [("window/t", 1)]))
            assert raw.read_packet(scaled(5)) == mqttraw.suback(1, [1])
            for i in range(window + 8):
                pub.publish("window/t", struct.pack("!I", i), qos=1)
            first = [parse_publish(raw.read_packet(scaled(5))) for _ in range(window)]
            assert [struct.unpack("!I", p["payload"])[0] for p in first] == list(range(window))
            with pytest.raises(TimeoutError):
                raw.read_packet(scaled(0.5))
            raw.send(raw_ack(PUBACK, first[0]["packet_id"]))
            nxt = parse_publish(raw.read_packet(scaled(5)))
            assert struct.unpack("!I", nxt["payload"])[0] == window
            raw.send(mqttraw.DISCONNECT)
        pub.disconnect()
    finally:
        pub.close()
