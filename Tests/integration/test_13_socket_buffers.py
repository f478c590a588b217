"""13. Per-connection kernel socket buffers come from the configuration.

Here's how it works: midge is started with socket_send_buffer 16KiB and socket_receive_buffer
8KiB; a client connects; `ss -tm` (iproute2) reports the broker-side socket's skmem, whose
rb/tb fields are the receive and send buffer sizes -- Linux stores twice the value set
(socket(7)). With 0 the kernel's defaults apply, which are larger here.
"""

import re
import shutil
import subprocess

import pytest

import mqttraw
from harness import scaled

pytestmark = pytest.mark.midge_only


def broker_side_skmem(port):
    out = subprocess.run(["ss", "-tmnH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"skmem:\(r\d+,rb(\d+),t\d+,tb(\d+)", out)
    assert m, f"no skmem for port {port} in:\n{out}"
    return int(m.group(1)), int(m.group(2))


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) not installed")
def test_socket_buffers_follow_the_config(broker):
    b = broker(["socket_send_buffer 16KiB", "socket_receive_buffer 8KiB"])
    client = mqttraw.connected_client(b.port, client_id="sockbuf", timeout=scaled(5))
    try:
        rb, tb = broker_side_skmem(b.port)
        assert (rb, tb) == (2 * 8192, 2 * 16384)
    finally:
        client.close()


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) not installed")
def test_zero_leaves_the_kernel_default(broker):
    # 0 overrides a board profile's default, leaving the kernel's size and autotuning.
    b = broker(["socket_send_buffer 0", "socket_receive_buffer 0"])
    client = mqttraw.connected_client(b.port, client_id="sockbuf-default", timeout=scaled(5))
    try:
        rb, tb = broker_side_skmem(b.port)
        assert (rb, tb) != (2 * 8192, 2 * 16384)
    finally:
        client.close()
