"""14. Flood: the budget holds and a well-behaved client keeps being served.

Here's how it works: midge runs with an 8 MiB memory budget and room for 48 clients. While
a well-behaved paho pair exchanges one timestamped message every 50 ms, the test
  - opens stalled subscribers on the flood topic that never read a byte,
  - runs publishers that blast PUBLISH packets of nearly max_packet_size at that topic,
  - sends packets larger than max_packet_size (each such client must be closed),
  - storms the broker with more connections than it admits (each must get CONNACK 0 or
    CONNACK 3, or be closed when even the refusal slots are busy -- never hang).
Afterwards: every good message arrived, in order, with bounded latency; the broker is alive;
and, when it runs natively (not under qemu), its peak RSS (VmHWM) stayed within the budget
plus the binary's own size plus a fixed allowance for stack and libc.
"""

import os
import socket
import threading
import time

import pytest

import mqttraw
from clients import Paho
from harness import EXEC_PREFIX, scaled

pytestmark = pytest.mark.midge_only

BUDGET = 8 << 20
MAX_PACKET = 65536
CONFIG = ["memory_budget 8MiB", "max_connections 48", "max_subscriptions 1024",
          f"max_packet_size {MAX_PACKET}",
          "max_queued_bytes 256KiB", "large_packet_buffers 2"]
DURATION = 4.0


def vm_hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def blast(c, stop, counters):
    """Publish near-maximum packets as fast as the broker reads them."""
    body = b"F" * (MAX_PACKET - 64)
    c.sock.settimeout(0.5)
    packet = mqttraw.publish("flood/x", body)
    while not stop.is_set():
        try:
            c.sock.sendall(packet)
            counters["blast_sent"] += 1
        except socket.timeout:
            continue  # the broker is not reading us right now: back-pressure, fine
        except OSError:
            break
    c.close()


def storm(port, results):
    """80 connections held open at once (more than max_connections): collect what each gets."""
    clients = []
    for i in range(80):
        try:
            c = mqttraw.RawClient(port, timeout=scaled(5))
            c.send(mqttraw.connect(client_id=f"storm-{i}"))
            clients.append(c)
        except OSError:
            results.append("closed")
    for c in clients:
        try:
            ack = c.recv_exact(4, scaled(5))
            results.append(ack[3])
        except (ConnectionError, TimeoutError, OSError):
            results.append("closed")
    for c in clients:
        c.close()


def test_flood_keeps_budget_and_good_client(broker):
    b = broker(CONFIG)
    port = b.port
    good_sub = Paho(port, client_id="good-sub").wait_connected()
    good_sub.subscribe("good/t")
    good_pub = Paho(port, client_id="good-pub").wait_connected()

    stalled = []
    for i in range(4):
        s = mqttraw.connected_client(port, client_id=f"stalled-{i}", timeout=scaled(5))
        s.send(mqttraw.subscribe(1, ["flood/#"]))
        stalled.append(s)  # never read again

    # Oversize packets: the header alone announces more than max_packet_size -> closed.
    oversize_closed = 0
    for i in range(3):
        c = mqttraw.connected_client(port, client_id=f"big-{i}", timeout=scaled(5))
        c.send(mqttraw.publish("flood/y", b"B" * (MAX_PACKET + 10)))
        c.wait_closed(scaled(5))
        oversize_closed += 1
        c.close()

    # Everyone who needs a slot is connected before the storm fills the table.
    stop = threading.Event()
    counters = {"blast_sent": 0}
    blast_clients = [mqttraw.connected_client(port, client_id=f"blast-{i}", timeout=scaled(5))
                     for i in range(3)]
    blasters = [threading.Thread(target=blast, args=(c, stop, counters), daemon=True)
                for c in blast_clients]
    for t in blasters:
        t.start()

    storm_results = []
    storm_thread = threading.Thread(target=storm, args=(port, storm_results), daemon=True)
    storm_thread.start()

    sent = []
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < DURATION and n < 200:
        payload = f"{n}:{time.monotonic():.6f}"
        good_pub.publish("good/t", payload)
        sent.append(payload)
        n += 1
        time.sleep(0.05)
    good_sub.wait_messages(len(sent), timeout=scaled(10))
    stop.set()
    for t in blasters:
        t.join(timeout=scaled(10))
    storm_thread.join(timeout=scaled(30))

    received = [m[1].decode() for m in good_sub.messages]
    assert received == sent, "the good subscriber lost or reordered messages"
    assert counters["blast_sent"] > 0
    assert oversize_closed == 3
    assert len(storm_results) == 80
    assert set(storm_results) <= {0, 3, "closed"}, storm_results
    assert 3 in storm_results, "no client was refused with CONNACK 3"
    assert b.alive()
    # Latency: each good message's arrival is checked against its send time in the payload.
    latencies = [arrival - float(p.split(":")[1])
                 for p, arrival in zip(sent, good_sub.arrivals)]
    assert max(latencies) < scaled(2.0), f"max latency {max(latencies):.3f} s"

    hwm = None
    if not EXEC_PREFIX:
        binary = os.path.getsize(b.command[0])
        allowance = 2 << 20  # stack, libc, page-granular rounding
        hwm = vm_hwm(b.proc.pid)
        assert hwm is not None
        assert hwm <= BUDGET + binary + allowance, f"VmHWM {hwm} bytes"
    print(f"\nflood: {counters['blast_sent']} near-max packets blasted, storm "
          f"{storm_results.count(0)} admitted / {storm_results.count(3)} CONNACK 3 / "
          f"{storm_results.count('closed')} closed, good messages {len(received)}, "
          f"max latency {max(latencies) * 1000:.1f} ms, VmHWM {hwm} bytes")

    for s in stalled:
        s.close()
    good_pub.disconnect()
    good_sub.disconnect()
    good_pub.close()
    good_sub.close()
