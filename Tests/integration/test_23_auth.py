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


# --- midge passwd ------------------------------------------------------------------------

def midge_passwd(*args, stdin=None):
    return subprocess.run(broker_command("passwd", *args), input=stdin, capture_output=True, text=True,
                          timeout=scaled(30))


def mosquitto_accepts(tmp_path, pw, good, bad):
    """Runs the real Debian mosquitto with `pw` as its password_file (no anonymous clients)."""
    from harness import free_port
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    # As root mosquitto drops to user mosquitto, which cannot read pytest's tmp_path.
    conf.write_text(f"listener {port} {HOST}\nallow_anonymous false\npassword_file {pw}\nuser root\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        import time
        from harness import port_accepts
        deadline = time.monotonic() + scaled(10)
        while not port_accepts(port) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        results = []
        for user, password in (good, bad):
            results.append(pub_at(HOST, port, "mqttv311", "-u", user, "-P", password)[0])
        return results
    finally:
        proc.terminate()
        proc.wait(timeout=scaled(5))


@pytest.mark.midge_only
def test_midge_passwd_file_is_accepted_by_mosquitto_and_midge(broker, tmp_path):
    pw = tmp_path / "passwd"
    r = midge_passwd("-c", "-b", str(pw), "ann", "secret one")
    assert r.returncode == 0, r.stderr
    r = midge_passwd("-b", str(pw), "ben", "-dash-first")
    assert r.returncode == 0, r.stderr
    lines = pw.read_text().splitlines()
    assert [l.split(":")[0] for l in lines] == ["ann", "ben"]
    for line in lines:
        _, kind, iterations, salt, key = line.split(":", 1)[1].split("$")
        assert kind == "7" and iterations == "101"
        import base64
        assert len(base64.b64decode(salt)) == 12 and len(base64.b64decode(key)) == 64
    assert lines[0].split("$")[3] != lines[1].split("$")[3], "salts are random"
    assert oct(pw.stat().st_mode & 0o777) == "0o600"
    # Real Mosquitto accepts the file: good password in (0), bad password out.
    good, bad = mosquitto_accepts(tmp_path, pw, ("ann", "secret one"), ("ann", "secret two"))
    assert good == 0 and bad != 0
    good, bad = mosquitto_accepts(tmp_path, pw, ("ben", "-dash-first"), ("ben", "x"))
    assert good == 0 and bad != 0
    b = broker([f"password_file {pw}"])
    assert pub(b.port, "mqttv5", "-u", "ann", "-P", "secret one")[0] == 0
    assert pub(b.port, "mqttv5", "-u", "ann", "-P", "nope")[0] != 0


@pytest.mark.midge_only
def test_midge_passwd_update_delete_stdin_and_errors(tmp_path):
    pw = make_passwd(tmp_path / "passwd")                  # seven ($7$) and six ($6$)
    pw.write_text("# kept comment\n" + pw.read_text())
    r = midge_passwd(str(pw), "six", stdin="from stdin\n")  # not a terminal: one line
    assert r.returncode == 0, r.stderr
    lines = pw.read_text().splitlines()
    assert lines[0] == "# kept comment" and [l.split(":")[0] for l in lines[1:]] == ["seven", "six"]
    assert lines[2].startswith("six:$7$101$")
    good, bad = mosquitto_accepts(tmp_path, pw, ("six", "from stdin"), ("six", "pw6"))
    assert good == 0 and bad != 0
    assert midge_passwd("-D", str(pw), "seven").returncode == 0
    assert [l.split(":")[0] for l in pw.read_text().splitlines()] == ["# kept comment", "six"]
    r = midge_passwd("-D", str(pw), "seven")
    assert r.returncode == 1 and "user 'seven' not found" in r.stderr
    r = midge_passwd("-b", str(tmp_path / "missing"), "u", "p")
    assert r.returncode == 1 and "use -c to create it" in r.stderr, r.stderr
    r = midge_passwd("-b", str(pw), "bad:user", "p")
    assert r.returncode == 1 and "':'" in r.stderr
    r = midge_passwd(str(pw), "u", stdin="")
    assert r.returncode == 1 and "no password on stdin" in r.stderr
    r = midge_passwd("-D", "-c", str(pw), "six")
    assert r.returncode == 2
    r = midge_passwd(str(pw))
    assert r.returncode == 2 and "Usage: midge passwd" in r.stderr


@pytest.mark.midge_only
def test_midge_passwd_from_a_terminal_asks_twice_without_echo(tmp_path):
    import os
    import pty
    import select
    pw = tmp_path / "passwd"

    def run(answers):
        controller, terminal = pty.openpty()
        proc = subprocess.Popen(broker_command("passwd", "-c", str(pw), "tty"), stdin=terminal,
                                stdout=terminal, stderr=terminal, close_fds=True)
        os.close(terminal)
        seen = b""
        import time
        deadline = time.monotonic() + scaled(20)
        for answer in answers:
            while b"assword: " not in seen.split(b"\n")[-1] and time.monotonic() < deadline:
                if select.select([controller], [], [], 0.1)[0]:
                    try:
                        seen += os.read(controller, 1024)
                    except OSError:
                        break
            os.write(controller, answer + b"\n")
            seen += b"\n"
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.1)[0]:
                try:
                    seen += os.read(controller, 1024)
                except OSError:
                    break
        proc.wait(timeout=scaled(5))
        os.close(controller)
        return proc.returncode, seen.decode(errors="replace")

    rc, seen = run([b"tty secret", b"tty secret"])
    assert rc == 0, seen
    assert "Password: " in seen and "Reenter password: " in seen and "tty secret" not in seen, seen
    good, bad = mosquitto_accepts(tmp_path, pw, ("tty", "tty secret"), ("tty", "other"))
    assert good == 0 and bad != 0
    rc, seen = run([b"one", b"two"])
    assert rc == 1 and "passwords do not match" in seen, seen
