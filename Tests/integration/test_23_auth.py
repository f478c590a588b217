"""23. password_file: entries made by the real mosquitto_passwd ($6$ and $7$), CONNACK codes."""

import subprocess

import pytest

from harness import HOST, broker_command, scaled


def make_passwd(path):
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "seven", "pw7"], check=True, timeout=30)
    subprocess.run(["mosquitto_passwd", "-b", "-H", "sha512", str(path), "six", "pw6"], check=True, timeout=30)
    text = path.read_text()
    assert "seven:$7$" in text and "six:$6$" in text
    return path


def pub(port, version, *creds):
    r = subprocess.run(
        ["mosquitto_pub", "-h", HOST, "-p", str(port), "-V", version, "-t", "a/b", "-m", "x", *creds],
        capture_output=True, text=True, timeout=scaled(10))
    return r.returncode, r.stderr


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_password_file_good_and_bad(broker, tmp_path, version):
    pw = make_passwd(tmp_path / "passwd")
    b = broker([f"password_file {pw}"])
    assert pub(b.port, version, "-u", "seven", "-P", "pw7")[0] == 0
    assert pub(b.port, version, "-u", "six", "-P", "pw6")[0] == 0
    for creds in (["-u", "seven", "-P", "pw6"], ["-u", "nobody", "-P", "pw7"], ["-u", "six"]):
        rc, err = pub(b.port, version, *creds)
        assert rc != 0
        assert ("not authorised" in err.lower() or "bad user" in err.lower()
                or "username or password" in err.lower()), err
    # With a password_file, anonymous clients are refused unless allow_anonymous true.
    rc, err = pub(b.port, version)
    assert rc != 0 and "not authori" in err.lower(), err


def test_connack_codes_raw(broker, tmp_path):
    import mqttraw
    pw = make_passwd(tmp_path / "passwd")
    b = broker([f"password_file {pw}"])
    with mqttraw.RawClient(b.port) as c:
        assert c.connect(scaled(5), client_id="anon") == bytes([0x20, 0x02, 0x00, 0x05])


def test_allow_anonymous_true_with_password_file(broker, tmp_path):
    pw = make_passwd(tmp_path / "passwd")
    b = broker([f"password_file {pw}", "allow_anonymous true"])
    assert pub(b.port, "mqttv311")[0] == 0
    assert pub(b.port, "mqttv311", "-u", "seven", "-P", "wrong")[0] != 0


@pytest.mark.parametrize("line,expect", [
    ("bob:$argon2id$v=19$m=47104,t=1,p=1$c2FsdA$aGFzaA", ":2: $argon2id$"),
    ("bob:$7$notanumber$c2FsdA==$aGFzaA==", ":2: invalid iteration count for user 'bob'"),
    ("bob:plain", ":2: not a mosquitto_passwd hash"),
])
def test_bad_password_file_at_startup(tmp_path, line, expect):
    pw = make_passwd(tmp_path / "passwd")
    text = pw.read_text().splitlines()
    pw.write_text(text[0] + "\n" + line + "\n")
    conf = tmp_path / "m.conf"
    conf.write_text(f"listener 1 {HOST}\npassword_file {pw}\n")
    r = subprocess.run(broker_command("-c", str(conf)), capture_output=True, text=True, timeout=scaled(10))
    assert r.returncode == 1
    assert f"{pw}{expect}" in r.stderr, r.stderr


def pub_at(host, port, version, *creds):
    r = subprocess.run(
        ["mosquitto_pub", "-h", host, "-p", str(port), "-V", version, "-t", "a/b", "-m", "x", *creds],
        capture_output=True, text=True, timeout=scaled(10))
    return r.returncode, r.stderr


@pytest.mark.midge_only
@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_non_loopback_listener_requires_auth(broker, tmp_path, version):
    # 127.0.0.2 stands for a network address: only 127.0.0.1 and ::1 count as loopback.
    from harness import free_port
    other = free_port()
    b = broker([f"listener {other} 127.0.0.2"])
    assert pub_at(HOST, b.port, version)[0] == 0               # 127.0.0.1: anonymous allowed
    rc, err = pub_at("127.0.0.2", other, version)
    assert rc != 0 and "not authori" in err.lower(), err        # CONNACK 5 / 0x87
    log = b.stderr_path.read_text()
    assert f"listening on 127.0.0.2:{other} (anonymous clients refused)" in log, log
    assert f"listening on 127.0.0.1:{b.port} (anonymous clients allowed)" in log, log


@pytest.mark.midge_only
def test_non_loopback_listener_with_password_or_allow_anonymous(broker, tmp_path):
    from harness import free_port
    pw = make_passwd(tmp_path / "passwd")
    other = free_port()
    b = broker([f"listener {other} 127.0.0.2", f"password_file {pw}"])
    assert pub_at("127.0.0.2", other, "mqttv311", "-u", "seven", "-P", "pw7")[0] == 0
    assert pub_at("127.0.0.2", other, "mqttv311")[0] != 0
    other2 = free_port()
    b2 = broker([f"listener {other2} 127.0.0.2", "allow_anonymous true"])
    assert pub_at("127.0.0.2", other2, "mqttv311")[0] == 0
