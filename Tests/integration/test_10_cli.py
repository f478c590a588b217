"""10. Command line and configuration errors (midge only: mosquitto's CLI
messages differ)."""

import socket
import subprocess

import pytest

import mqttraw
from harness import HOST, free_port, run_broker, scaled

pytestmark = pytest.mark.midge_only


def run_cli(*args):
    try:
        return run_broker(args, timeout=scaled(10))
    except subprocess.TimeoutExpired:
        pytest.fail(f"midge {' '.join(map(str, args))} did not exit within {scaled(10):.0f} s")


def stderr_lines(result):
    return result.stderr.decode(errors="replace").splitlines()


def test_help():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    usage = result.stdout.decode(errors="replace")
    assert "-c" in usage and "-p" in usage, usage


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode(errors="replace").startswith("midge "), result.stdout


def test_unknown_option():
    result = run_cli("--no-such-option")
    assert result.returncode != 0
    lines = stderr_lines(result)
    assert len(lines) == 1 and "--no-such-option" in lines[0], lines


def test_unknown_config_key_names_file_and_line(tmp_path):
    config = tmp_path / "unknown-key.conf"
    config.write_text(f"# midge test configuration\nlistener {free_port()} {HOST}\n"
                      "no_such_key 1\n")
    result = run_cli("-c", config)
    assert result.returncode != 0
    lines = stderr_lines(result)
    assert len(lines) == 1 and f"{config}:3" in lines[0], lines


def test_listener_with_bad_port_names_file_and_line(tmp_path):
    config = tmp_path / "bad-port.conf"
    config.write_text("listener notaport\n")
    result = run_cli("-c", config)
    assert result.returncode != 0
    lines = stderr_lines(result)
    assert len(lines) == 1 and f"{config}:1" in lines[0], lines


def test_port_in_use():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind((HOST, 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        result = run_cli("-p", port)
    assert result.returncode != 0
    lines = stderr_lines(result)
    assert len(lines) == 1 and str(port) in lines[0], lines


def test_port_option_without_config(broker):
    b = broker(use_config=False)          # started as `midge -p PORT`
    with mqttraw.connected_client(b.port, client_id="cli-p", timeout=scaled(5)) as client:
        client.send(mqttraw.PINGREQ)
        assert client.read_packet(scaled(5)) == mqttraw.PINGRESP
