"""Loss-free under load: bench/loadgen.c (the benchmark's load generator) drives the broker
under test for a short, count-bounded run per scenario and must see every message exactly
once, in order per publisher, uncorrupted (publisher id, sequence number and checksum in every
payload), with every QoS 1/2 flow acknowledged. Scenarios: point-to-point QoS 0/1/2 (QoS 1/2
with 32 in flight), fan-in 16->1 QoS 1, fan-out 1->16 QoS 0, and MQTT 5 QoS 2.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import harness

LOADGEN_SRC = harness.REPO_ROOT / "bench" / "loadgen.c"

SCENARIOS = [
    ("p2p-qos0", ["--topology", "p2p", "--pubs", "8", "--qos", "0", "--count", "2000"]),
    ("p2p-qos1", ["--topology", "p2p", "--pubs", "8", "--qos", "1", "--count", "1000"]),
    ("p2p-qos2", ["--topology", "p2p", "--pubs", "8", "--qos", "2", "--count", "1000"]),
    ("fanin-qos1", ["--topology", "fanin", "--pubs", "16", "--qos", "1", "--count", "500"]),
    ("fanout-qos0", ["--topology", "fanout", "--subs", "16", "--qos", "0", "--count", "1000",
                     "--window", "4000"]),
    ("p2p-qos2-v5", ["--topology", "p2p", "--pubs", "4", "--qos", "2", "--count", "500",
                     "--mqtt", "5"]),
]


@pytest.fixture(scope="module")
def loadgen(tmp_path_factory):
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is needed to build bench/loadgen.c (toolchain/install-deps.sh)")
    out = tmp_path_factory.mktemp("loadgen") / "loadgen"
    subprocess.run([gcc, "-O2", "-o", str(out), str(LOADGEN_SRC)], check=True, timeout=60)
    return out


@pytest.mark.parametrize("name,args", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_loadgen_loss_free(broker, loadgen, name, args):
    b = broker(["max_queued_messages 10000", "max_inflight_messages 32", "memory_budget 64MiB"])
    cmd = [str(loadgen), "--port", str(b.port), "--inflight", "32", "--duration",
           str(harness.scaled(20)), "--timeout", str(harness.scaled(30)), "--drain",
           str(harness.scaled(5)), *args]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=harness.scaled(60))
    lines = [l for l in run.stdout.splitlines() if l.startswith("{")]
    assert lines, f"loadgen printed no result (exit {run.returncode}): {run.stderr}"
    r = json.loads(lines[-1])
    count = int(args[args.index("--count") + 1])
    assert r["sent"] == count * r["pubs"], r
    assert r["expected"] > 0 and r["received"] == r["expected"], r
    for key in ("lost", "dup", "order", "corrupt", "refused", "protocol_errors", "closed", "unacked"):
        assert r[key] == 0, (key, r)
    assert r["ok"] is True and run.returncode == 0, r
