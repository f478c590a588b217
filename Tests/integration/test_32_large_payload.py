"""32. Large payloads on the board's defaults: paho-mqtt publishes 1,048,576 bytes (MQTT 3.1.1
and 5.0, QoS 1) and a paho subscriber receives them byte for byte; then the same with the round
payload the board promises (half its max_packet_size, README "Boards"). The broker runs the
default config of the board under test (only a listener is configured), so this checks the
board profile's max_packet_size and max_queued_bytes, not a test setting. A board whose
max_packet_size cannot hold the 1 MiB packet skips that test: the limit is read from
`midge --plan` (the "large packet buffers" line is one max_packet_size each). Against
mosquitto (no packet limit by default) the 1 MiB test always runs."""

import re
import subprocess

import pytest

import harness
from clients import V311, V5, PahoClient
from harness import scaled

MIB = 1 << 20
TOPIC = "big/1mib"


def board_max_packet_size():
    """max_packet_size of the binary under test on its board defaults (None: mosquitto)."""
    if harness.IS_MOSQUITTO:
        return None
    r = subprocess.run(harness.broker_command("--plan"), capture_output=True, text=True, timeout=scaled(20))
    assert r.returncode == 0, r.stderr
    m = re.search(r"^large packet buffers\s+\d+\s+(\d+)\s", r.stdout, re.M)
    return int(m.group(1)) if m else 4096  # no line: max_packet_size <= io_chunk_size


def round_trip(b, version, payload, limit):
    """paho publisher -> paho subscriber, QoS 1, one message of `payload`."""
    sub = PahoClient(b.port, version=version).wait_connected()
    pub = PahoClient(b.port, version=version).wait_connected()
    try:
        if version == V5 and limit is not None:
            assert pub.connack_properties.get("MaximumPacketSize") == limit
        sub.subscribe(TOPIC, qos=1)
        assert pub.publish(TOPIC, payload, qos=1, timeout=scaled(30)) == 0
        got = sub.wait_messages(1, timeout=scaled(30))
        assert len(got) == 1 and got[0].topic == TOPIC and got[0].qos == 1
        assert got[0].payload == payload, f"{len(got[0].payload)} bytes arrived"
        assert not pub.disconnected.is_set() and not sub.disconnected.is_set()
        sub.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()
    assert "packet too large" not in b.stderr_path.read_text()


@pytest.mark.parametrize("version", [V311, V5], ids=["mqtt311", "mqtt5"])
def test_paho_round_trip_of_a_1mib_payload(broker, version):
    payload = bytes(range(256)) * (MIB // 256)
    # Fixed header (1 + 4), topic, packet identifier, MQTT 5 property length (paho sends none).
    needed = 5 + 2 + len(TOPIC) + 2 + (1 if version == V5 else 0) + len(payload)
    limit = board_max_packet_size()
    if limit is not None and limit < needed:
        pytest.skip(f"the board's max_packet_size {limit} is below the {needed}-byte packet")
    round_trip(broker(), version, payload, limit)


@pytest.mark.midge_only
@pytest.mark.parametrize("version", [V311, V5], ids=["mqtt311", "mqtt5"])
def test_paho_round_trip_of_the_boards_round_payload(broker, version):
    limit = board_max_packet_size()
    payload = bytes(range(256)) * (limit // 2 // 256)
    round_trip(broker(), version, payload, limit)
