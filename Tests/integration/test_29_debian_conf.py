"""29. Debian's stock /etc/mosquitto/mosquitto.conf works with `midge -c`. Method: copy the file the
mosquitto package installed, point its paths (pid_file, persistence_location, log_dest file,
include_dir) into a temporary directory, put the local listener into conf.d as a user would, start
midge on it, check the pid file, the log file (with the loud persistence warning), a real
mosquitto_pub/mosquitto_sub round trip, then SIGTERM: exit 0, pid file gone. midge only."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness import HOST, broker_command, free_port, port_accepts, scaled

pytestmark = pytest.mark.midge_only

DEBIAN_CONF = Path("/etc/mosquitto/mosquitto.conf")
PATHS = {
    "/run/mosquitto/mosquitto.pid": "run/mosquitto.pid",
    "/var/lib/mosquitto/": "lib/",
    "/var/log/mosquitto/mosquitto.log": "log/mosquitto.log",
    "/etc/mosquitto/conf.d": "conf.d",
}


def debian_conf(tmp_path):
    if not DEBIAN_CONF.is_file():
        pytest.skip(f"{DEBIAN_CONF} not installed (Debian's mosquitto package)")
    text = DEBIAN_CONF.read_text()
    for key in ("pid_file", "persistence true", "persistence_location", "log_dest file", "include_dir"):
        assert re.search(rf"^{key}", text, re.M), f"{DEBIAN_CONF} no longer has '{key}'"
    for original, local in PATHS.items():
        assert original in text, original
        text = text.replace(original, str(tmp_path / local))
    for d in ("run", "lib", "log", "conf.d"):
        (tmp_path / d).mkdir()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(text)
    return conf


def test_debian_default_mosquitto_conf(tmp_path):
    conf = debian_conf(tmp_path)
    port = free_port()
    (tmp_path / "conf.d" / "local.conf").write_text(f"listener {port} {HOST}\n")
    err = open(tmp_path / "stderr", "wb")
    proc = subprocess.Popen(broker_command("-c", conf), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=err, cwd=tmp_path)
    try:
        deadline = time.monotonic() + scaled(10)
        while not port_accepts(port):
            assert proc.poll() is None, (tmp_path / "stderr").read_text()
            assert time.monotonic() < deadline, "broker did not start"
            time.sleep(0.05)
        pid_file = tmp_path / "run" / "mosquitto.pid"
        assert pid_file.read_text() == f"{proc.pid}\n"
        sub = subprocess.Popen(["mosquitto_sub", "-h", HOST, "-p", str(port), "-t", "deb/#", "-C", "1",
                                "-W", str(int(scaled(10)))], stdout=subprocess.PIPE)
        time.sleep(scaled(0.5))
        subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(port), "-t", "deb/a", "-m", "stock"], check=True,
                       timeout=scaled(10))
        assert sub.communicate(timeout=scaled(15))[0] == b"stock\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=scaled(10))
    assert code == 0, (tmp_path / "stderr").read_text()
    assert not pid_file.exists(), "pid_file is removed at exit"
    log = (tmp_path / "log" / "mosquitto.log").read_text()
    assert re.search(rf"warning: {re.escape(str(conf))}:\d+: persistence true: midge does not persist anything yet;"
                     r" .* LOST when midge stops", log), log
    assert re.search(rf"notice: midge \S+ listening on 127\.0\.0\.1:{port}", log), log
    assert "New client connected from 127.0.0.1:" in log, log
    assert log.rstrip().endswith("notice: midge stopped"), log
    if os.environ.get("MIDGE_ALLOC_TRAP") == "1":
        assert re.search(r"allocations: \d+ at startup, 0 after startup", log), log
    assert (tmp_path / "stderr").read_text() == "", "log_dest file: nothing on stderr"


def test_unwritable_pid_file_is_a_startup_error(tmp_path):
    conf = tmp_path / "midge.conf"
    missing = tmp_path / "no-such-dir" / "midge.pid"
    conf.write_text(f"listener {free_port()} {HOST}\npid_file {missing}\n")
    r = subprocess.run(broker_command("-c", conf), capture_output=True, timeout=scaled(10))
    assert r.returncode == 1 and f"cannot write pid_file '{missing}'" in r.stderr.decode(), r
