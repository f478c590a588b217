"""Third-party MQTT clients used by the tests: paho-mqtt and mosquitto_sub/pub.

Paho (3.1.1, QoS 0, auto-reconnect) and MosquittoSub / mosquitto_pub serve the QoS 0 tests;
PahoClient (MQTT 5 or 3.1.1 with QoS, sessions, wills and properties, never reconnects)
and MosquittoTool serve the feature tests (test_15 onwards), together with a few raw
packet helpers for what no real client can be made to do."""

import itertools
import os
import queue
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

import mqttraw
from harness import HOST, scaled

mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed")

_ids = itertools.count()


class Paho:
    """A paho-mqtt 2.x client (network loop in its own thread) that records
    every message it receives and lets tests wait for acknowledgements."""

    def __init__(self, port, client_id=None, clean_session=True, keepalive=60,
                 protocol=mqtt.MQTTv311):
        self.client_id = client_id if client_id is not None else f"midge-test-{next(_ids)}"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                  clean_session=clean_session, protocol=protocol)
        self.messages = []
        self.arrivals = []                 # time.monotonic() of each message's arrival
        self.message_event = threading.Condition()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connect_rc = None
        self.disconnect_rc = None
        self.acks = {}                     # mid -> reason codes (SUBACK / UNSUBACK)
        self.ack_event = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_ack
        self.client.on_unsubscribe = self._on_ack
        self.client.connect(HOST, port, keepalive=keepalive)
        self.client.loop_start()

    # --- callbacks (paho network thread) ---------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connect_rc = reason_code
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.disconnect_rc = reason_code
        self.disconnected.set()

    def _on_message(self, client, userdata, msg):
        with self.message_event:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self.arrivals.append(time.monotonic())
            self.message_event.notify_all()

    def _on_ack(self, client, userdata, mid, reason_codes, properties):
        with self.ack_event:
            self.acks[mid] = list(reason_codes)
            self.ack_event.notify_all()

    # --- test API ----------------------------------------------------------
    def wait_connected(self, timeout=None):
        timeout = scaled(10) if timeout is None else timeout
        assert self.connected.wait(timeout), f"{self.client_id}: no CONNACK in {timeout:.1f} s"
        assert self.connect_rc == 0, f"{self.client_id}: CONNACK {self.connect_rc}"
        return self

    def _wait_ack(self, mid, timeout):
        deadline = time.monotonic() + timeout
        with self.ack_event:
            while mid not in self.acks:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"{self.client_id}: no ack for mid {mid} in {timeout:.1f} s"
                self.ack_event.wait(remaining)
            return self.acks[mid]

    def subscribe(self, *filters, timeout=None):
        """Subscribe at QoS 0 (one SUBSCRIBE packet); returns granted codes from SUBACK."""
        result, mid = self.client.subscribe([(f, 0) for f in filters])
        assert result == mqtt.MQTT_ERR_SUCCESS, f"subscribe failed: {result}"
        codes = self._wait_ack(mid, scaled(5) if timeout is None else timeout)
        assert [int(c.value) for c in codes] == [0] * len(filters), f"SUBACK {codes}"
        return codes

    def unsubscribe(self, *filters, timeout=None):
        result, mid = self.client.unsubscribe(list(filters))
        assert result == mqtt.MQTT_ERR_SUCCESS, f"unsubscribe failed: {result}"
        return self._wait_ack(mid, scaled(5) if timeout is None else timeout)

    def publish(self, topic, payload):
        info = self.client.publish(topic, payload, qos=0)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish failed: {info.rc}"
        return info

    def wait_messages(self, count, timeout=None):
        """Wait until at least count messages arrived; returns a copy of all of them."""
        timeout = scaled(10) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self.message_event:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{self.client_id}: {len(self.messages)} of {count} messages "
                        f"after {timeout:.1f} s; last: {self.messages[-3:]}")
                self.message_event.wait(remaining)
            return list(self.messages)

    def settle(self, count, grace=None, timeout=None):
        """Wait for count messages, then a short bounded grace period so that
        unexpected extra deliveries show up too; returns all messages."""
        self.wait_messages(count, timeout)
        time.sleep(scaled(0.3) if grace is None else grace)
        with self.message_event:
            return list(self.messages)

    def clear(self):
        with self.message_event:
            self.messages.clear()
            self.arrivals.clear()

    def disconnect(self, timeout=None):
        """Clean DISCONNECT; asserts paho saw a normal disconnect."""
        self.client.disconnect()
        ok = self.disconnected.wait(scaled(5) if timeout is None else timeout)
        self.client.loop_stop()
        assert ok, f"{self.client_id}: disconnect not completed"
        assert self.disconnect_rc == 0, f"{self.client_id}: disconnect {self.disconnect_rc}"

    def close(self):
        """Best-effort cleanup (no assertions)."""
        try:
            if not self.disconnected.is_set():
                self.client.disconnect()
                self.disconnected.wait(2)
        finally:
            self.client.loop_stop()


class MosquittoSub:
    """mosquitto_sub -C COUNT -W SECONDS, run with -d so the test can see when
    the SUBACK arrived. stdbuf makes its stdout line-buffered into our pipe.
    Debug lines start with "Client <id> "; every other line is a payload."""

    def __init__(self, port, topic, count, wait_seconds, client_id=None, extra_args=()):
        """extra_args go to mosquitto_sub as they are (e.g. -q 2, -c, -V mqttv5, -F FORMAT,
        --will-topic ...); with -F, payload lines are the formatted lines."""
        for tool in ("mosquitto_sub", "stdbuf"):
            if shutil.which(tool) is None:
                pytest.skip(f"{tool} is not installed")
        self.client_id = client_id or f"midge-test-sub-{next(_ids)}"
        self.wait_seconds = wait_seconds
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", "mosquitto_sub", "-d", "-h", HOST, "-p", str(port),
             "-i", self.client_id, "-t", topic, "-C", str(count), "-W", str(wait_seconds),
             *map(str, extra_args)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.stderr = b""

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_subscribed(self, timeout=None):
        timeout = scaled(10) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"mosquitto_sub not subscribed after {timeout:.1f} s"
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"mosquitto_sub exited early: {self._finish_stderr()}"
            if line.startswith(b"Subscribed (mid:"):
                return

    def _finish_stderr(self):
        try:
            _, self.stderr = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, self.stderr = self.proc.communicate(timeout=5)
        return self.stderr.decode(errors="replace")

    def finish(self):
        """Wait for exit (bounded by -W); returns (returncode, payload lines as bytes)."""
        try:
            self.proc.wait(timeout=self.wait_seconds + scaled(10))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.reader.join(timeout=5)
        self._finish_stderr()
        debug_prefix = f"Client {self.client_id} ".encode()
        payloads = []
        while True:
            line = self.lines.get_nowait() if not self.lines.empty() else None
            if line is None:
                break
            if not line.startswith(debug_prefix):
                payloads.append(line)
        return self.proc.returncode, payloads

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def mosquitto_pub(port, topic, *, message=None, lines=None, timeout=None, qos=0, extra_args=()):
    """Run mosquitto_pub -m MESSAGE, or -l fed LINES (bytes) on stdin, at QoS qos;
    extra_args (e.g. -r, -V mqttv5, -D publish ..., -i ID) go to it as they are."""
    if shutil.which("mosquitto_pub") is None:
        pytest.skip("mosquitto_pub is not installed")
    cmd = ["mosquitto_pub", "-h", HOST, "-p", str(port), "-t", topic, "-q", str(qos),
           *map(str, extra_args)]
    cmd += ["-m", message] if message is not None else ["-l"]
    stdin = {"input": lines} if message is None else {"stdin": subprocess.DEVNULL}
    result = subprocess.run(cmd, capture_output=True,
                            timeout=scaled(30) if timeout is None else timeout, **stdin)
    assert result.returncode == 0, f"mosquitto_pub failed: {result.stderr!r}"
    return result


def settle_all(counts, grace=None):
    """Like Paho.settle for several clients with one shared grace period.
    counts: {key: (client, expected count)} -> {key: all messages of that client}."""
    for client, count in counts.values():
        client.wait_messages(count)
    time.sleep(scaled(0.3) if grace is None else grace)
    result = {}
    for key, (client, _) in counts.items():
        with client.message_event:
            result[key] = list(client.messages)
    return result


# --- paho-mqtt with the whole protocol: QoS 1/2, sessions, wills, MQTT 5 ----------------

# MQTT.js (Debian's node-mqtt) lives in /usr/share/nodejs (arch-specific modules:
# /usr/lib/nodejs); Debian's nodejs searches there by itself, other builds of node need NODE_PATH.
DEBIAN_NODE_DIRS = ["/usr/share/nodejs", "/usr/lib/nodejs"]


def node_env():
    """The environment for a node process that requires 'mqtt'."""
    env = dict(os.environ)
    env["NODE_PATH"] = os.pathsep.join([p for p in [env.get("NODE_PATH")] if p] + DEBIAN_NODE_DIRS)
    return env


def mqttjs_node():
    """The node binary, when node and the mqtt module are installed; else the test is skipped."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed (toolchain/install-deps.sh installs node-mqtt)")
    probe = subprocess.run([node, "-e", "require('mqtt')"], env=node_env(), capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip("the mqtt module (Debian package node-mqtt) is not installed")
    return node


from paho.mqtt.packettypes import PacketTypes            # noqa: E402
from paho.mqtt.properties import Properties              # noqa: E402
from paho.mqtt.reasoncodes import ReasonCode             # noqa: E402
from paho.mqtt.subscribeoptions import SubscribeOptions  # noqa: E402

V311, V5 = mqtt.MQTTv311, mqtt.MQTTv5


def make_properties(packet_type, values):
    """paho Properties for packet_type (a PacketTypes constant) from a dict such as
    {"UserProperty": [("k", "v")], "MessageExpiryInterval": 5}; None when values is empty."""
    if not values:
        return None
    props = Properties(packet_type)
    for name, value in values.items():
        setattr(props, name, value)
    return props


def properties_dict(props):
    """{name: value} of the properties paho decoded (names without spaces)."""
    out = {}
    if props is None:
        return out
    for name in props.names:
        attr = name.replace(" ", "")
        if hasattr(props, attr):
            out[attr] = getattr(props, attr)
    return out


def _code(reason_code):
    """paho hands over a ReasonCode (MQTT 5, and 3.1.1 in CallbackAPIVersion 2) or an int."""
    return int(reason_code.value) if hasattr(reason_code, "value") else int(reason_code)


class Message:
    """One PUBLISH as a subscriber saw it."""
    __slots__ = ("topic", "payload", "qos", "retain", "dup", "mid", "properties", "at")

    def __init__(self, msg):
        self.topic = msg.topic
        self.payload = bytes(msg.payload)
        self.qos = msg.qos
        self.retain = bool(msg.retain)
        self.dup = bool(msg.dup)
        self.mid = msg.mid
        self.properties = properties_dict(getattr(msg, "properties", None))
        self.at = time.monotonic()

    def __repr__(self):
        return (f"Message({self.topic!r}, {self.payload[:40]!r}, qos={self.qos}, "
                f"retain={int(self.retain)}, props={self.properties})")


class PahoClient:
    """One connection of a paho-mqtt 2.x client, MQTT 5 (version=V5) or 3.1.1 (V311).

    Unlike Paho it never reconnects by itself (a test sees every disconnect: a reconnect
    is a new PahoClient with the same client_id), and it records each message with its
    QoS, retain flag and properties. Parameters:
      clean       clean session (3.1.1) / clean start (5)
      properties  CONNECT properties as a dict, e.g. {"SessionExpiryInterval": 60}
      will        {"topic", "payload", "qos", "retain", "properties"} (only "topic" needed)
      connect     False: create only; call start() to send CONNECT
    """

    def __init__(self, port, client_id=None, *, version=V5, clean=True, keepalive=60,
                 properties=None, will=None, connect=True):
        self.port = port
        self.version = version
        self.client_id = client_id if client_id is not None else f"midge-test-{next(_ids)}"
        self.clean = clean
        self.keepalive = keepalive
        self.connect_properties = properties or {}
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
            clean_session=clean if version != V5 else None, protocol=version,
            reconnect_on_failure=False)
        if will is not None:
            self.client.will_set(
                will["topic"], will.get("payload"), will.get("qos", 0), will.get("retain", False),
                properties=make_properties(PacketTypes.WILLMESSAGE, will.get("properties")))
        self.messages = []
        self.cond = threading.Condition()      # guards messages, acks, pub_acks
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connect_rc = None
        self.session_present = None
        self.connack_properties = {}
        self.disconnect_rc = None
        self.disconnect_properties = {}
        self.disconnect_packet_from_server = None
        self.acks = {}        # SUBACK/UNSUBACK: mid -> [reason code ints]
        self.pub_acks = {}    # PUBACK/PUBCOMP: mid -> reason code int
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_ack
        self.client.on_unsubscribe = self._on_ack
        self.client.on_publish = self._on_publish
        if connect:
            self.start()

    # --- callbacks (paho network thread) ------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connect_rc = _code(reason_code)
        self.session_present = bool(flags.session_present)
        self.connack_properties = properties_dict(properties)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.disconnect_rc = _code(reason_code)
        self.disconnect_properties = properties_dict(properties)
        self.disconnect_packet_from_server = flags.is_disconnect_packet_from_server
        self.disconnected.set()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.messages.append(Message(msg))
            self.cond.notify_all()

    def _on_ack(self, client, userdata, mid, reason_codes, properties):
        with self.cond:
            self.acks[mid] = [int(c.value) for c in reason_codes]
            self.cond.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self.cond:
            self.pub_acks[mid] = _code(reason_code)
            self.cond.notify_all()

    # --- connection ------------------------------------------------------------------
    def start(self):
        kwargs = {}
        if self.version == V5:
            kwargs = {"clean_start": self.clean,
                      "properties": make_properties(PacketTypes.CONNECT, self.connect_properties)}
        self.client.connect(HOST, self.port, keepalive=self.keepalive, **kwargs)
        self.client.loop_start()
        return self

    def wait_connack(self, timeout=None):
        """Wait for CONNACK; returns its reason code (0 = accepted)."""
        timeout = scaled(10) if timeout is None else timeout
        assert self.connected.wait(timeout), f"{self.client_id}: no CONNACK in {timeout:.1f} s"
        return self.connect_rc

    def wait_connected(self, timeout=None, session_present=None):
        rc = self.wait_connack(timeout)
        assert rc == 0, f"{self.client_id}: CONNACK reason {rc:#x}"
        if session_present is not None:
            assert self.session_present == session_present, \
                f"{self.client_id}: session present {self.session_present}, " \
                f"expected {session_present}"
        return self

    def wait_disconnected(self, timeout=None):
        """Wait until the connection is gone; returns paho's disconnect reason code."""
        timeout = scaled(10) if timeout is None else timeout
        assert self.disconnected.wait(timeout), \
            f"{self.client_id}: still connected after {timeout:.1f} s"
        return self.disconnect_rc

    def disconnect(self, reason=None, properties=None, timeout=None):
        """DISCONNECT (v5: with reason code `reason`, an int, and DISCONNECT properties)."""
        rc = None
        if reason is not None:
            rc = ReasonCode(PacketTypes.DISCONNECT, identifier=reason)
        self.client.disconnect(rc, make_properties(PacketTypes.DISCONNECT, properties))
        ok = self.disconnected.wait(scaled(5) if timeout is None else timeout)
        self._stop()
        assert ok, f"{self.client_id}: disconnect not completed"

    def kill(self, reset=False):
        """Close the TCP connection without DISCONNECT, as if the client process died:
        the broker sees EOF after what was sent; with reset, a TCP RST instead (the broker
        loses whatever it had not read yet)."""
        if reset:
            sock = self.client.socket()
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()   # paho's loop then fails on the closed socket and ends
            self.client.loop_stop()
            return
        sock = self.client.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.disconnected.wait(scaled(5))
        self.client.loop_stop()

    def go_silent(self):
        """Stop the network loop but keep the socket open: no more packets (no PINGREQ).
        Only without unacknowledged publications: paho's loop_stop waits for those."""
        self.client.loop_stop()

    def _stop(self):
        """End the network thread. paho's loop_stop alone waits until every outgoing
        message is acknowledged: a connection that did not end is closed first."""
        if not self.disconnected.is_set():
            sock = self.client.socket()
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        self.client.loop_stop()

    def close(self):
        """Best-effort cleanup (no assertions)."""
        try:
            if self.connected.is_set() and not self.disconnected.is_set():
                self.client.disconnect()
                self.disconnected.wait(2)
        except Exception:
            pass
        finally:
            self._stop()

    # --- operations ------------------------------------------------------------------
    def _wait_for(self, table, mid, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while mid not in table:
                remaining = deadline - time.monotonic()
                assert remaining > 0, \
                    f"{self.client_id}: no {what} for mid {mid} in {timeout:.1f} s"
                self.cond.wait(remaining)
            return table[mid]

    def subscribe(self, topic, qos=0, *, no_local=False, retain_as_published=False,
                  retain_handling=0, sub_id=None, expect=None, timeout=None):
        """One SUBSCRIBE with one filter; returns the SUBACK reason codes (ints).
        Asserts they are [qos] unless expect (a list) says otherwise."""
        if self.version == V5:
            options = SubscribeOptions(qos=qos, noLocal=no_local,
                                       retainAsPublished=retain_as_published,
                                       retainHandling=retain_handling)
            props = make_properties(PacketTypes.SUBSCRIBE,
                                    {"SubscriptionIdentifier": sub_id} if sub_id else None)
            result, mid = self.client.subscribe(topic, options=options, properties=props)
        else:
            result, mid = self.client.subscribe(topic, qos)
        assert result == mqtt.MQTT_ERR_SUCCESS, f"subscribe failed: {result}"
        codes = self._wait_for(self.acks, mid, scaled(5) if timeout is None else timeout, "SUBACK")
        expected = [qos] if expect is None else expect
        assert codes == expected, \
            f"{self.client_id}: SUBACK {codes} for {topic!r}, expected {expected}"
        return codes

    def unsubscribe(self, topic, timeout=None):
        result, mid = self.client.unsubscribe(topic)
        assert result == mqtt.MQTT_ERR_SUCCESS, f"unsubscribe failed: {result}"
        timeout = scaled(5) if timeout is None else timeout
        return self._wait_for(self.acks, mid, timeout, "UNSUBACK")

    def publish(self, topic, payload=b"", qos=0, retain=False, properties=None, wait=True,
                timeout=None):
        """Publish; with wait, block until the QoS flow completed (QoS 0: written) and
        return the PUBACK/PUBREC reason code (0 for 3.1.1 and QoS 0). Else return the info."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain,
                                   properties=make_properties(PacketTypes.PUBLISH, properties))
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish failed: {info.rc}"
        if not wait:
            return info
        timeout = scaled(10) if timeout is None else timeout
        return self._wait_for(self.pub_acks, info.mid, timeout, "PUBACK/PUBCOMP")

    def wait_published(self, info, timeout=None):
        timeout = scaled(10) if timeout is None else timeout
        return self._wait_for(self.pub_acks, info.mid, timeout, "PUBACK/PUBCOMP")

    # --- received messages --------------------------------------------------------
    def wait_messages(self, count, timeout=None):
        """Wait until at least count messages arrived; returns a copy of all of them."""
        timeout = scaled(10) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{self.client_id}: {len(self.messages)} of {count} messages after "
                        f"{timeout:.1f} s; last: {self.messages[-3:]}")
                self.cond.wait(remaining)
            return list(self.messages)

    def wait_payload(self, payload, timeout=None):
        """Wait until a message with this payload arrived; returns all messages up to and
        including it (the first such message)."""
        timeout = scaled(10) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, m in enumerate(self.messages):
                    if m.payload == payload:
                        return list(self.messages[:i + 1])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{self.client_id}: no message {payload!r} after {timeout:.1f} s; "
                        f"got {self.messages[-5:]}")
                self.cond.wait(remaining)

    def settle(self, count, grace=None, timeout=None):
        """Wait for count messages, then a short bounded grace period so that
        unexpected extra deliveries show up too; returns all messages."""
        self.wait_messages(count, timeout)
        time.sleep(scaled(0.3) if grace is None else grace)
        with self.cond:
            return list(self.messages)

    def received(self):
        with self.cond:
            return list(self.messages)

    def clear(self):
        with self.cond:
            self.messages.clear()


class MosquittoTool:
    """mosquitto_sub / mosquitto_pub run as a long-lived process (e.g. to be killed),
    stdout collected by a thread."""

    def __init__(self, args):
        tool = args[0]
        for needed in (tool, "stdbuf"):
            if shutil.which(needed) is None:
                pytest.skip(f"{needed} is not installed")
        self.proc = subprocess.Popen(["stdbuf", "-oL", *map(str, args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.lines = queue.Queue()
        self.output = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_line(self, prefix, timeout=None):
        """Wait for an output line starting with prefix (bytes); returns it."""
        timeout = scaled(10) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no line {prefix!r} in {timeout:.1f} s: {self.output[-5:]}"
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"{self.proc.args} exited early: {self.output[-5:]}"
            self.output.append(line)
            if line.startswith(prefix):
                return line

    def wait_exit(self, timeout=None):
        timeout = scaled(10) if timeout is None else timeout
        rc = self.proc.wait(timeout=timeout)
        while True:
            try:
                line = self.lines.get(timeout=scaled(5))
            except queue.Empty:
                break
            if line is None:
                break
            self.output.append(line)
        return rc

    def kill(self):
        """SIGKILL: the kernel closes its socket, no DISCONNECT is sent."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    close = kill


# --- raw packets beyond mqttraw.py (which speaks 3.1.1 at QoS 0) -------------------
# Only for what a real client cannot be made to do: withhold acknowledgements,
# retransmit, send out-of-range values, or read the exact bytes of a broker's answer.

PUBACK, PUBREC, PUBREL, PUBCOMP = 0x40, 0x50, 0x62, 0x70   # first bytes (PUBREL flags 0010)


def raw_ack(first_byte, packet_id):
    """PUBACK / PUBREC / PUBREL / PUBCOMP without reason code: XX 02 <packet id>."""
    return bytes([first_byte, 0x02]) + struct.pack("!H", packet_id)


def v5_properties(*pairs):
    """MQTT 5 property block (section 2.2.2) from (identifier, value) pairs; the value
    type follows the identifier. Returns the length-prefixed bytes."""
    body = b""
    for ident, value in pairs:
        body += bytes([ident])
        if ident in (0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A):          # byte
            body += bytes([value])
        elif ident in (0x13, 0x21, 0x22, 0x23):                                 # two bytes
            body += struct.pack("!H", value)
        elif ident in (0x02, 0x11, 0x18, 0x27):                                 # four bytes
            body += struct.pack("!I", value)
        elif ident == 0x0B:                                                     # varint
            body += mqttraw.varint(value)
        elif ident == 0x26:                                                     # string pair
            body += mqttraw.mqtt_string(value[0]) + mqttraw.mqtt_string(value[1])
        else:                                                                   # string/binary
            body += mqttraw.mqtt_string(value)
    return mqttraw.varint(len(body)) + body


def parse_v5_properties(data, pos=0):
    """Decode a property block at data[pos:]; returns ([(identifier, value)], end)."""
    length, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    end = pos + length
    props = []
    while pos < end:
        ident = data[pos]
        pos += 1
        if ident in (0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A):
            value, pos = data[pos], pos + 1
        elif ident in (0x13, 0x21, 0x22, 0x23):
            value, pos = struct.unpack_from("!H", data, pos)[0], pos + 2
        elif ident in (0x02, 0x11, 0x18, 0x27):
            value, pos = struct.unpack_from("!I", data, pos)[0], pos + 4
        elif ident == 0x0B:
            value, shift = 0, 0
            while True:
                byte = data[pos]
                pos += 1
                value |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
        elif ident == 0x26:
            n = struct.unpack_from("!H", data, pos)[0]
            key = data[pos + 2:pos + 2 + n].decode()
            pos += 2 + n
            n = struct.unpack_from("!H", data, pos)[0]
            value = (key, data[pos + 2:pos + 2 + n].decode())
            pos += 2 + n
        else:
            n = struct.unpack_from("!H", data, pos)[0]
            value = bytes(data[pos + 2:pos + 2 + n])
            pos += 2 + n
        props.append((ident, value))
    assert pos == end, f"property block overruns its length ({pos} != {end})"
    return props, end


def raw_connect_v5(client_id, clean_start=True, keepalive=60, properties=()):
    """MQTT 5 CONNECT (section 3.1): "MQTT", level 5, flags, keepalive, properties, id."""
    body = (mqttraw.mqtt_string("MQTT") + bytes([5, 0x02 if clean_start else 0x00]) +
            struct.pack("!H", keepalive) + v5_properties(*properties) +
            mqttraw.mqtt_string(client_id))
    return mqttraw.packet(mqttraw.CONNECT, body)


def parse_connack_v5(pkt):
    """CONNACK (section 3.2) -> (session present, reason code, [(identifier, value)])."""
    assert pkt[0] == mqttraw.CONNACK, f"not a CONNACK: {pkt.hex(' ')}"
    header = 2 if pkt[1] < 0x80 else 3
    props, end = parse_v5_properties(pkt, header + 2)
    assert end == len(pkt), f"CONNACK has trailing bytes: {pkt.hex(' ')}"
    return bool(pkt[header] & 1), pkt[header + 1], props


def raw_subscribe_v5(packet_id, topic_filter, options, properties=()):
    """MQTT 5 SUBSCRIBE with one filter; options = QoS | no-local<<2 | RAP<<3 | RH<<4."""
    body = (struct.pack("!H", packet_id) + v5_properties(*properties) +
            mqttraw.mqtt_string(topic_filter) + bytes([options]))
    return mqttraw.packet(mqttraw.SUBSCRIBE | 0x02, body)


def raw_publish(topic, payload, qos=0, packet_id=None, dup=False, retain=False, properties=None):
    """PUBLISH at any QoS; properties=None: 3.1.1 layout, else an MQTT 5 list of pairs."""
    if isinstance(payload, str):
        payload = payload.encode()
    first = mqttraw.PUBLISH | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    body = mqttraw.mqtt_string(topic)
    if qos:
        body += struct.pack("!H", packet_id)
    if properties is not None:
        body += v5_properties(*properties)
    return mqttraw.packet(first, body + payload)


def parse_publish(pkt, v5=False):
    """PUBLISH -> dict(qos, dup, retain, topic, packet_id, properties, payload)."""
    assert pkt[0] & 0xF0 == mqttraw.PUBLISH, f"not a PUBLISH: {pkt[:16].hex(' ')}"
    pos = 1
    while pkt[pos] & 0x80:
        pos += 1
    pos += 1
    qos = (pkt[0] >> 1) & 3
    n = struct.unpack_from("!H", pkt, pos)[0]
    topic = pkt[pos + 2:pos + 2 + n].decode()
    pos += 2 + n
    packet_id = None
    if qos:
        packet_id = struct.unpack_from("!H", pkt, pos)[0]
        pos += 2
    props = []
    if v5:
        props, pos = parse_v5_properties(pkt, pos)
    return {"qos": qos, "dup": bool(pkt[0] & 0x08), "retain": bool(pkt[0] & 1), "topic": topic,
            "packet_id": packet_id, "properties": props, "payload": bytes(pkt[pos:])}


def raw_disconnect_reason(data):
    """Reason code of the DISCONNECT at the start of data (0 when it has none), or None
    when data does not start with a DISCONNECT."""
    if not data or data[0] != mqttraw.DISCONNECT_TYPE:
        return None
    return data[2] if len(data) > 2 and data[1] >= 1 else 0
