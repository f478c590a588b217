"""21. MQTT.js (Debian's node-mqtt) round trip at QoS 0, 1 and 2, MQTT 5 and 3.1.1.

The client runs in mqttjs_roundtrip.js; a paho subscriber checks what MQTT.js published
from the outside too. Skipped when node or the mqtt module is missing."""

import json
import subprocess
from pathlib import Path

import pytest

from clients import V311, V5, PahoClient, mqttjs_node, node_env
from harness import scaled

SCRIPT = Path(__file__).with_name("mqttjs_roundtrip.js")


@pytest.mark.parametrize("version", [pytest.param(5, id="5"), pytest.param(4, id="3.1.1")])
def test_mqttjs_roundtrip(broker, version):
    node = mqttjs_node()
    b = broker()
    prefix = f"mqttjs/v{version}"
    watcher = PahoClient(b.port, version=V5 if version == 5 else V311).wait_connected()
    try:
        watcher.subscribe(f"{prefix}/#", 2)
        timeout_ms = int(scaled(15) * 1000)
        result = subprocess.run(
            [node, str(SCRIPT), str(b.port), str(version), prefix, str(timeout_ms),
             str(int(scaled(0.3) * 1000))],
            env=node_env(), capture_output=True, text=True, timeout=scaled(15) + 15)
        assert result.returncode == 0, f"mqttjs: {result.stdout}\n{result.stderr}"
        report = json.loads(result.stdout.strip().splitlines()[-1])

        code = "reasonCode" if version == 5 else "returnCode"
        assert all(ack.get(code, 0) == 0 for ack in report["connack"].values()), report
        assert report["granted"] == [2]
        assert report["acks"] == [0, 1, 2]               # PUBACK, PUBCOMP came back
        received = sorted(report["received"], key=lambda m: m["topic"])
        assert [(m["topic"], m["payload"], m["qos"], m["retain"]) for m in received] == [
            (f"{prefix}/q{q}", f"qos {q} from mqtt.js v{version}", q, False) for q in (0, 1, 2)]
        if version == 5:
            assert [m["userProperties"] for m in received] == [
                {"from": "mqtt.js", "qos": str(q)} for q in (0, 1, 2)]

        # The paho watcher saw the same three publications, each once, at their QoS.
        seen = sorted(watcher.settle(3, grace=0), key=lambda m: m.topic)
        assert [(m.topic, m.qos) for m in seen] == [(f"{prefix}/q{q}", q) for q in (0, 1, 2)]
        if version == 5:
            assert [m.properties.get("UserProperty") for m in seen] == [
                [("from", "mqtt.js"), ("qos", str(q))] for q in (0, 1, 2)]
        watcher.disconnect()
    finally:
        watcher.close()
