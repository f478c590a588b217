"""7. A TCP connection that never sends CONNECT is closed after
`connect_timeout` seconds (midge-only config key, default 10)."""

import pytest

import mqttraw
from harness import scaled


@pytest.mark.midge_only
def test_silent_tcp_connection_is_closed(broker):
    b = broker(["connect_timeout 1"])
    with mqttraw.RawClient(b.port) as client:
        elapsed, data = client.wait_closed(scaled(3))
    assert data == b""
    assert elapsed >= 0.5, f"closed after only {elapsed:.2f} s (connect_timeout 1)"


@pytest.mark.midge_only
def test_connect_timeout_does_not_affect_connected_clients(broker):
    b = broker(["connect_timeout 1"])
    with mqttraw.connected_client(b.port, client_id="ct-ok", keepalive=0) as client:
        with pytest.raises(TimeoutError):          # nothing arrives, nothing closes
            client.read_packet(2.0)
        assert client.send(mqttraw.PINGREQ)
        assert client.read_packet(scaled(2)) == mqttraw.PINGRESP
