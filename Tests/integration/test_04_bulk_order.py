"""4. 10,000 QoS 0 messages from one publisher arrive complete and in order.

QoS 0 may legally be dropped under overload, but on loopback with default
settings the broker must deliver every one of them, in publish order."""

import struct

from clients import MosquittoSub, Paho, mosquitto_pub
from harness import scaled

COUNT = 10_000


def test_mosquitto_pub_lines_in_order(broker):
    b = broker()
    lines = [f"line {i:05d} of the bulk test\n".encode() for i in range(COUNT)]
    sub = MosquittoSub(b.port, "bulk/lines", count=COUNT, wait_seconds=int(scaled(30)))
    try:
        sub.wait_subscribed()
        mosquitto_pub(b.port, "bulk/lines", lines=b"".join(lines))
        rc, received = sub.finish()
    finally:
        sub.close()
    assert rc == 0, f"mosquitto_sub: {sub.stderr!r}, {len(received)} lines received"
    assert len(received) == COUNT
    assert received == lines


def test_paho_sequence_numbers(broker):
    b = broker()
    sub = Paho(b.port).wait_connected()
    pub = Paho(b.port).wait_connected()
    try:
        sub.subscribe("bulk/seq")
        for i in range(COUNT):
            info = pub.publish("bulk/seq", struct.pack("!I", i) + b"x" * (i % 64))
        info.wait_for_publish(timeout=scaled(30))
        messages = sub.settle(COUNT, timeout=scaled(30))
        sequence = [struct.unpack("!I", payload[:4])[0] for _, payload in messages]
        assert len(sequence) == COUNT, "duplicates or extra messages"
        # Locate the first deviation for a readable failure.
        for expected, got in enumerate(sequence):
            assert got == expected, f"message #{expected} carried sequence {got} (gap/dupe/reorder)"
        assert all(len(p) == 4 + i % 64 for i, (_, p) in enumerate(messages))
        sub.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()
