"""Third-party MQTT clients used by the tests: paho-mqtt and mosquitto_sub/pub."""

import itertools
import queue
import shutil
import subprocess
import threading
import time

import pytest

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

    def __init__(self, port, topic, count, wait_seconds, client_id=None):
        for tool in ("mosquitto_sub", "stdbuf"):
            if shutil.which(tool) is None:
                pytest.skip(f"{tool} is not installed")
        self.client_id = client_id or f"midge-test-sub-{next(_ids)}"
        self.wait_seconds = wait_seconds
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", "mosquitto_sub", "-d", "-h", HOST, "-p", str(port),
             "-i", self.client_id, "-t", topic, "-C", str(count), "-W", str(wait_seconds)],
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


def mosquitto_pub(port, topic, *, message=None, lines=None, timeout=None):
    """Run mosquitto_pub -m MESSAGE, or -l fed LINES (bytes) on stdin."""
    if shutil.which("mosquitto_pub") is None:
        pytest.skip("mosquitto_pub is not installed")
    cmd = ["mosquitto_pub", "-h", HOST, "-p", str(port), "-t", topic, "-q", "0"]
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
