"""Broker process management and timing for the midge integration tests.

Environment:
  MIDGE_BIN           broker binary (default: <repo>/dist/x86_64-generic/midge)
  MIDGE_EXEC_PREFIX   optional command prefix, e.g. "qemu-aarch64-static"
  MIDGE_TIME_SCALE    multiplier for every timeout (default 1; use 3 under qemu)
  MIDGE_IS_MOSQUITTO  "1" when MIDGE_BIN is mosquitto used as a stand-in
"""

import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "dist" / "x86_64-generic" / "midge"

HOST = "127.0.0.1"

TIME_SCALE = float(os.environ.get("MIDGE_TIME_SCALE", "1") or "1")
IS_MOSQUITTO = os.environ.get("MIDGE_IS_MOSQUITTO", "") == "1"
EXEC_PREFIX = shlex.split(os.environ.get("MIDGE_EXEC_PREFIX", ""))


def scaled(seconds):
    """A timeout scaled for slow (emulated) brokers."""
    return seconds * TIME_SCALE


def broker_binary():
    """(path, problem): the broker binary, or None and why it is unusable."""
    configured = os.environ.get("MIDGE_BIN")
    path = Path(configured) if configured else DEFAULT_BIN
    if not path.is_file():
        if configured:
            return None, f"MIDGE_BIN={configured} does not exist"
        return None, (f"midge binary not found at {DEFAULT_BIN}; build it or set "
                      "MIDGE_BIN (MIDGE_BIN=/usr/sbin/mosquitto MIDGE_IS_MOSQUITTO=1 "
                      "runs the suite against mosquitto)")
    if not os.access(path, os.X_OK):
        return None, f"{path} is not executable"
    return path.resolve(), None


def broker_command(*args):
    path, problem = broker_binary()
    assert path is not None, problem
    return [*EXEC_PREFIX, str(path), *map(str, args)]


def free_port():
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_accepts(port, timeout=0.2):
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def run_broker(args, timeout):
    """Run the broker expecting it to exit by itself (CLI checks)."""
    return subprocess.run(broker_command(*args), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout)


class BrokerDied(Exception):
    pass


class Broker:
    """One broker process listening on 127.0.0.1:port."""

    def __init__(self, workdir, port, config_lines=None):
        self.port = port
        self.workdir = Path(workdir)
        self.config_path = None
        if config_lines is None:
            args = ["-p", port]
        else:
            self.config_path = self.workdir / "broker.conf"
            self.config_path.write_text("".join(line + "\n" for line in config_lines))
            args = ["-c", self.config_path]
        self.command = broker_command(*args)
        self.stdout_path = self.workdir / "broker.stdout"
        self.stderr_path = self.workdir / "broker.stderr"
        # Output goes to files, never to pipes nobody reads (a full pipe blocks the broker).
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, cwd=self.workdir)
        self.stopped = False
        self.reported = False   # its death was already reported as a test failure

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerDied(f"broker exited during startup:\n{self.describe_exit()}")
            if port_accepts(self.port):
                return
            time.sleep(0.05)
        raise BrokerDied(f"broker did not accept connections on {HOST}:{self.port} "
                         f"within {timeout:.1f} s\n{self.stderr_tail()}")

    def alive(self):
        return self.proc.poll() is None

    def stderr_tail(self, limit=4000):
        try:
            text = self.stderr_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return "(no stderr captured)"
        return "stderr:\n" + (text[-limit:] if text else "(empty)")

    def describe_exit(self):
        rc = self.proc.returncode
        if rc is not None and rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            what = f"CRASHED: killed by {name} (return code {rc})"
        else:
            what = f"exited on its own with code {rc}"
        return f"broker {' '.join(self.command)} {what}\n{self.stderr_tail()}"

    def terminate(self, timeout):
        """Stop the broker on purpose (SIGTERM) and wait; returns its exit code. A broker
        stopped this way is not reported as having died during the test."""
        self.proc.terminate()
        code = self.proc.wait(timeout=timeout)
        self.stopped = True
        self.reported = True
        return code

    def stop(self, timeout):
        """Terminate; returns a failure message if the broker had died by itself."""
        if self.stopped:
            return None
        self.stopped = True
        if self.proc.poll() is not None:
            return None if self.reported else self.describe_exit()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)
        return None



def start_with_conf(tmp_path, lines, env=None):
    """midge on a free port from tmp_path/midge.conf (`listener PORT 127.0.0.1` + lines), cwd
    tmp_path, stderr into tmp_path/stderr; waits until the port accepts. Returns (proc, port);
    the caller stops it (SIGTERM) and reads the log."""
    port = free_port()
    conf = tmp_path / "midge.conf"
    conf.write_text("".join(f"{l}\n" for l in [f"listener {port} {HOST}", *lines]))
    err = open(tmp_path / "stderr", "wb")
    proc = subprocess.Popen(broker_command("-c", conf), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=err, cwd=tmp_path, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + scaled(10)
    while not port_accepts(port):
        assert proc.poll() is None, (tmp_path / "stderr").read_text()
        assert time.monotonic() < deadline, "broker did not start"
        time.sleep(0.05)
    return proc, port

def start_broker(workdir, config_lines=(), use_config=True, attempts=3):
    """Start a broker on a free port and wait until it accepts TCP connections.

    The config file holds `listener PORT 127.0.0.1` followed by config_lines.
    With use_config=False the broker is started as `BIN -p PORT` instead.
    Retries on a fresh port if the broker exits at startup (free-port race).
    """
    workdir = Path(workdir)
    for attempt in range(1, attempts + 1):
        port = free_port()
        attempt_dir = workdir / f"broker-{port}"
        attempt_dir.mkdir(parents=True, exist_ok=True)
        lines = None
        if use_config:
            lines = [f"listener {port} {HOST}"]
            if IS_MOSQUITTO:
                lines.append("allow_anonymous true")  # mosquitto 2.x refuses anonymous otherwise
            lines.extend(config_lines)
        broker = Broker(attempt_dir, port, lines)
        try:
            broker.wait_ready(scaled(10))
            return broker
        except BrokerDied:
            exited = not broker.alive()
            broker.stop(scaled(5))
            if attempt == attempts or not exited:   # only an exit can be a port race
                raise
