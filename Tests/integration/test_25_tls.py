"""25. TLS listeners (mbedTLS): server certificates (ECDSA and RSA), mutual TLS with the
certificate's CN as user name, TLS-PSK, and every refusal (wrong CA, expired or missing client
certificate, wrong PSK, TLS 1.0, plaintext MQTT and garbage on the TLS port, a full session pool,
the handshake cap and its timeout), each with the broker still serving everyone else. Real
clients: mosquitto_pub/sub, openssl s_client, paho-mqtt, Python's ssl module for raw MQTT.
Certificates are made with openssl at test time (tlspki.py). Every test ends by stopping the
broker and requiring zero allocations after startup (MIDGE_ALLOC_TRAP=1 traps at the first)."""

import re
import socket
import ssl
import subprocess
import time

import pytest

import harness
import mqttraw
import tlspki
from harness import HOST, scaled

pytestmark = pytest.mark.midge_only

paho = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return tlspki.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_broker(broker, monkeypatch):
    """Factory: tls_broker(tls_lines, extra=()) -> (broker, tls_port). The broker runs with -v
    (its log shows each TLS refusal) and has a plain listener (the harness's) as well."""
    original = harness.broker_command
    monkeypatch.setattr(harness, "broker_command", lambda *a: original(*a, "-v"))

    def start(tls_lines, extra=()):
        port = harness.free_port()
        b = broker([*extra, f"listener {port} {HOST}", *tls_lines])
        deadline = time.monotonic() + scaled(10)
        while not harness.port_accepts(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        return b, port

    return start


def server_lines(pki, kind="server"):
    return [f"certfile {pki[kind + '.crt']}", f"keyfile {pki[kind + '.key']}"]


def stop_and_check_allocations(b):
    assert b.terminate(scaled(10)) == 0
    log = b.stderr_path.read_text()
    m = re.search(r"allocations: (\d+) at startup, (\d+) after startup", log)
    assert m, f"no allocation report in the log:\n{log[-2000:]}"
    assert int(m.group(1)) > 0 and int(m.group(2)) == 0, m.group(0)
    assert "TLS heap:" in log
    return log


def mosq(tool, port, *args, timeout=10):
    return subprocess.run([tool, "-h", HOST, "-p", str(port), *args], capture_output=True, text=True,
                          timeout=scaled(timeout))


def tls_pub(port, *args, topic="t/tls", message="hello"):
    return mosq("mosquitto_pub", port, "-t", topic, "-m", message, *args)


def roundtrip_mosquitto(port, *args, payload="over-tls"):
    """mosquitto_sub and mosquitto_pub with the same TLS options; True if the message arrived."""
    sub = subprocess.Popen(["mosquitto_sub", "-h", HOST, "-p", str(port), "-t", "rt/#", "-C", "1",
                            "-W", str(int(scaled(8))), *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        # Publish until the subscriber is subscribed and receives one (bounded).
        deadline = time.monotonic() + scaled(8)
        while sub.poll() is None and time.monotonic() < deadline:
            r = tls_pub(port, *args, topic="rt/x", message=payload)
            assert r.returncode == 0, r.stderr
            time.sleep(0.2)
        out, err = sub.communicate(timeout=scaled(10))
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    return sub.returncode == 0 and out.strip().splitlines()[:1] == [payload], (out, err)


class TLSRaw(mqttraw.RawClient):
    """A raw MQTT client over Python's ssl (OpenSSL)."""

    def __init__(self, port, context, timeout=5.0):
        raw = socket.create_connection((HOST, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.buffer = b""


def sys_tls_values(port, done):
    """$SYS/broker/midge/tls/* as {name: value}, read until done(values) (bounded)."""
    values = {}
    deadline = time.monotonic() + scaled(10)
    while time.monotonic() < deadline:
        out = subprocess.run(["mosquitto_sub", "-h", HOST, "-p", str(port), "-v", "-C", "4", "-W", "5",
                              "-t", "$SYS/broker/midge/tls/#"], capture_output=True, text=True,
                             timeout=scaled(10))
        values = {line.split(" ", 1)[0].rsplit("/", 1)[1]: line.split(" ", 1)[1]
                  for line in out.stdout.splitlines() if " " in line}
        if len(values) == 4 and done(values):
            break
    return values


def client_context(pki, cert=None, ca="ca"):
    ctx = ssl.create_default_context(cafile=pki[ca + ".crt"])
    if cert:
        ctx.load_cert_chain(pki[cert + ".crt"], pki[cert + ".key"])
    return ctx


def plain_works(b):
    with mqttraw.RawClient(b.port, timeout=scaled(5)) as c:
        return c.connect(scaled(5), client_id="plain-check") == mqttraw.connack(0)


def tls_works(port, pki, cert=None):
    with TLSRaw(port, client_context(pki, cert), timeout=scaled(5)) as c:
        return c.connect(scaled(5), client_id="tls-check") == mqttraw.connack(0)


def handshake_refused(port, context):
    """True when the TLS handshake (or the first read after it) fails."""
    try:
        with TLSRaw(port, context, timeout=scaled(5)) as c:
            # TLS 1.2 client certificates are checked before the handshake ends, but a refusal
            # may surface only at the first read.
            c.send(mqttraw.connect(client_id="refused"))
            c.recv_exact(4, scaled(5))
    except (ssl.SSLError, ConnectionError, OSError, TimeoutError):
        return True
    return False


def s_client(port, *args, stdin=b""):
    return subprocess.run(["openssl", "s_client", "-connect", f"{HOST}:{port}", *args], input=stdin,
                          capture_output=True, timeout=scaled(10))


# --- server certificates -------------------------------------------------------------------

@pytest.mark.parametrize("kind,suite", [("server", "ECDHE-ECDSA"), ("server-rsa", "ECDHE-RSA")])
def test_server_certificate_mosquitto_and_s_client(tls_broker, pki, kind, suite):
    b, port = tls_broker(server_lines(pki, kind))
    ok, detail = roundtrip_mosquitto(port, "--cafile", pki["ca.crt"])
    assert ok, detail
    r = s_client(port, "-CAfile", pki["ca.crt"], "-verify_return_error", stdin=b"")
    out = r.stdout.decode(errors="replace")
    assert "Verify return code: 0 (ok)" in out, out[-1500:]
    assert "Protocol  : TLSv1.2" in out or "TLSv1.2" in out
    m = re.search(r"Cipher is (\S+)", out)
    assert m and m.group(1).startswith(suite), out[-800:]
    assert plain_works(b)
    log = stop_and_check_allocations(b)
    assert "listening on 127.0.0.1:%d (TLS" % port in log


def test_paho_over_tls_large_payloads_and_bursts(tls_broker, pki):
    """paho-mqtt publishes 300 small and a few large (multi-record) messages over TLS; a TLS
    subscriber gets all of them in order (decrypted bytes held by mbedTLS are served)."""
    b, port = tls_broker(server_lines(pki))
    got, connected = [], []

    def client(name):
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=name)
        c.tls_set(ca_certs=pki["ca.crt"])
        c.on_connect = lambda *a: connected.append(name)
        return c

    sub = client("tls-sub")
    sub.on_message = lambda c, u, m: got.append(bytes(m.payload))
    sub.connect(HOST, port)
    sub.loop_start()
    pub = client("tls-pub")
    pub.connect(HOST, port)
    pub.loop_start()
    try:
        deadline = time.monotonic() + scaled(10)
        while len(connected) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(connected) == ["tls-pub", "tls-sub"]
        _, mid = sub.subscribe("big/#", qos=1)
        time.sleep(scaled(0.3))
        expected = [f"m{i}".encode() for i in range(300)] + [bytes([65 + i]) * (40_000 + 7919 * i) for i in range(4)]
        for p in expected:
            pub.publish("big/x", p, qos=1)
        deadline = time.monotonic() + scaled(20)
        while len(got) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(got) == len(expected), f"{len(got)} of {len(expected)}"
        assert got == expected
    finally:
        for c in (sub, pub):
            c.disconnect()
            c.loop_stop()
    stop_and_check_allocations(b)


# --- refusals ---------------------------------------------------------------------------

def test_refusals_leave_others_served(tls_broker, pki):
    b, port = tls_broker(server_lines(pki), extra=["connect_timeout 2", "sys_interval 1"])
    # A client that trusts another CA refuses the server (and the broker survives it).
    r = tls_pub(port, "--cafile", pki["otherca.crt"])
    assert r.returncode != 0
    # TLS 1.0 (and 1.1) clients: the server only speaks TLS 1.2 (it answers protocol_version,
    # mbedTLS error -0x6e80, counted in the log below).
    for version in ("-tls1", "-tls1_1"):
        r = s_client(port, version, "-cipher", "DEFAULT@SECLEVEL=0", stdin=b"")
        out = r.stdout.decode(errors="replace")
        assert r.returncode != 0 and "Cipher is (NONE)" in out, out[-800:]
    # Plaintext MQTT on the TLS port: closed without a CONNACK.
    with mqttraw.RawClient(port, timeout=scaled(5)) as c:
        c.send(mqttraw.connect(client_id="plain-on-tls"))
        waited, received = c.wait_closed(scaled(5))
        assert received[:1] != b"\x20"  # never a CONNACK
    # Garbage.
    with mqttraw.RawClient(port, timeout=scaled(5)) as c:
        c.send(b"\x16\x03\x01\x00\x05hello" + bytes(range(256)) * 4)
        c.wait_closed(scaled(5))
    with mqttraw.RawClient(port, timeout=scaled(5)) as c:
        c.send(bytes(range(256)) * 64)
        c.wait_closed(scaled(5))
    assert tls_works(port, pki) and plain_works(b)
    ok, detail = roundtrip_mosquitto(port, "--cafile", pki["ca.crt"])
    assert ok, detail
    # $SYS counts them (sys_interval 1, read on the plain listener).
    values = sys_tls_values(b.port, lambda v: int(v.get("handshakes_failed", "0")) >= 5)
    assert int(values["handshakes_failed"]) >= 5 and int(values["handshakes"]) >= 3, values
    assert values["refused_sessions"] == "0" and values["refused_handshakes"] == "0", values
    log = stop_and_check_allocations(b)
    assert log.count("TLS handshake failed") >= 5, log[-3000:]
    assert log.count("TLS handshake failed: mbedTLS error -0x6e80") == 2, log[-3000:]  # bad protocol version


# --- mutual TLS -------------------------------------------------------------------------

def test_mutual_tls_identity_as_username(tls_broker, pki, tmp_path):
    # A password_file without alice, anonymous clients refused: alice gets in only through
    # her certificate's CN (use_identity_as_username), without a password.
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pw), "bob", "pw"], check=True, timeout=30)
    b, port = tls_broker(server_lines(pki) + [
        f"cafile {pki['ca.crt']}", "require_certificate true", "use_identity_as_username true"],
        extra=[f"password_file {pw}", "allow_anonymous false", "connect_timeout 2"])
    ok, detail = roundtrip_mosquitto(port, "--cafile", pki["ca.crt"], "--cert", pki["alice.crt"],
                                     "--key", pki["alice.key"])
    assert ok, detail
    assert tls_works(port, pki, cert="alice")
    # Missing, foreign and expired client certificates are refused in the handshake.
    assert handshake_refused(port, client_context(pki))
    assert handshake_refused(port, client_context(pki, cert="mallory"))
    assert handshake_refused(port, client_context(pki, cert="expired"))
    r = tls_pub(port, "--cafile", pki["ca.crt"])
    assert r.returncode != 0
    # The plain listener still requires a password (bob's).
    r = mosq("mosquitto_pub", b.port, "-t", "x", "-m", "y")
    assert r.returncode != 0
    r = mosq("mosquitto_pub", b.port, "-t", "x", "-m", "y", "-u", "bob", "-P", "pw")
    assert r.returncode == 0, r.stderr
    assert tls_works(port, pki, cert="alice")
    log = stop_and_check_allocations(b)
    assert log.count("TLS handshake failed") >= 3, log[-3000:]


def test_capath(tls_broker, pki, tmp_path):
    # The CA comes from a capath directory (*.pem and *.crt files; other names are not read).
    capath = tmp_path / "capath"
    capath.mkdir()
    (capath / "our-ca.pem").write_bytes(open(pki["ca.crt"], "rb").read())
    (capath / "other-ca.txt").write_bytes(open(pki["otherca.crt"], "rb").read())
    b, port = tls_broker(server_lines(pki) + [f"capath {capath}", "require_certificate true"])
    assert tls_works(port, pki, cert="alice")
    assert handshake_refused(port, client_context(pki, cert="mallory"))  # otherca: not read
    stop_and_check_allocations(b)


def test_require_certificate_without_identity(tls_broker, pki):
    b, port = tls_broker(server_lines(pki) + [f"cafile {pki['ca.crt']}", "require_certificate true"])
    assert tls_works(port, pki, cert="alice")
    assert handshake_refused(port, client_context(pki))
    stop_and_check_allocations(b)


# --- PSK --------------------------------------------------------------------------------

def test_psk(tls_broker, pki, tmp_path):
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pw), "bob", "pw"], check=True, timeout=30)
    b, port = tls_broker(["psk_hint midge"], extra=[f"psk_file {pki['psk']}", f"password_file {pw}",
                                                    "allow_anonymous false"])
    good = ["--psk", tlspki.PSK_KEY, "--psk-identity", tlspki.PSK_IDENTITY]
    ok, detail = roundtrip_mosquitto(port, *good)
    assert ok, detail  # the PSK identity is the user: no password needed
    for bad in (["--psk", "ffeeddccbbaa99887766554433221100", "--psk-identity", tlspki.PSK_IDENTITY],
                ["--psk", tlspki.PSK_KEY, "--psk-identity", "nobody"]):
        r = tls_pub(port, *bad)
        assert r.returncode != 0, bad
    assert plain_works(b) is False  # anonymous refused on the plain listener (CONNACK 5)
    ok, detail = roundtrip_mosquitto(port, *good)
    assert ok, detail
    log = stop_and_check_allocations(b)
    assert log.count("TLS handshake failed") >= 2, log[-3000:]


# --- limits -----------------------------------------------------------------------------

def test_session_pool_full(tls_broker, pki):
    b, port = tls_broker(server_lines(pki), extra=["max_tls_sessions 2", "sys_interval 1"])
    held = [TLSRaw(port, client_context(pki), timeout=scaled(5)) for _ in range(2)]
    try:
        for i, c in enumerate(held):
            assert c.connect(scaled(5), client_id=f"held-{i}") == mqttraw.connack(0)
        assert handshake_refused(port, client_context(pki))
        assert plain_works(b)
        values = sys_tls_values(b.port, lambda v: v.get("refused_sessions") == "1")
        assert values.get("refused_sessions") == "1", values
        for i, c in enumerate(held):  # the two sessions are unaffected
            c.send(mqttraw.PINGREQ)
            assert c.recv_exact(2, scaled(5)) == mqttraw.PINGRESP
    finally:
        held[0].send(mqttraw.DISCONNECT)
        held[0].close()
    deadline = time.monotonic() + scaled(5)
    while time.monotonic() < deadline:  # the freed slot is reused
        try:
            if tls_works(port, pki):
                break
        except (ssl.SSLError, ConnectionError, OSError, TimeoutError):
            time.sleep(0.1)
    else:
        pytest.fail("no TLS session slot became free")
    held[1].close()
    log = stop_and_check_allocations(b)
    assert "TLS refused, max_tls_sessions in use" in log


def test_handshake_cap_and_timeout(tls_broker, pki):
    """A TCP client that never says ClientHello holds the only handshake slot until
    connect_timeout closes it; meanwhile a real TLS client is refused; then served."""
    b, port = tls_broker(server_lines(pki), extra=["max_tls_handshakes 1", "connect_timeout 2"])
    time.sleep(scaled(0.3))  # the readiness probe's close is processed: its handshake slot is free
    stalled = mqttraw.RawClient(port, timeout=scaled(5))
    time.sleep(scaled(0.2))
    start = time.monotonic()
    assert handshake_refused(port, client_context(pki))
    assert plain_works(b)
    waited, _ = stalled.wait_closed(scaled(6))
    assert time.monotonic() - start <= scaled(4)
    stalled.close()
    assert tls_works(port, pki)
    log = stop_and_check_allocations(b)
    assert "TLS refused, max_tls_handshakes in progress" in log


# --- configuration errors ---------------------------------------------------------------

@pytest.mark.parametrize("lines,expect", [
    (["certfile {server.crt}"], "'certfile' and 'keyfile' must be given together"),
    (["certfile {server.crt}", "keyfile {server-rsa.key}"], "PK - Type mismatch"),
    (["certfile /nonexistent.crt", "keyfile {server.key}"], "cannot read certfile '/nonexistent.crt'"),
    (["certfile {server.crt}", "keyfile {server.key}", "tls_version tlsv1.3"], "tlsv1.3' is not supported"),
    (["certfile {server.crt}", "keyfile {server.key}", "ciphers ECDHE-RSA-AES128-SHA"], "unknown or unsupported cipher"),
    (["certfile {server.crt}", "keyfile {server.key}", "use_identity_as_username true"], "needs 'require_certificate true'"),
    (["psk_hint x"], "'psk_hint' needs a 'psk_file'"),
])
def test_configuration_errors(tmp_path, pki, lines, expect):
    """Each refuses to start, names the file and line, and leaves no pid file."""
    conf = tmp_path / "m.conf"
    pid = tmp_path / "midge.pid"
    def fill(line):
        for name, path in pki.items():
            line = line.replace("{" + name + "}", path)
        return line
    body = [f"pid_file {pid}", f"listener {harness.free_port()} {HOST}"] + [fill(l) for l in lines]
    conf.write_text("\n".join(body) + "\n")
    r = subprocess.run(harness.broker_command("-c", str(conf)), capture_output=True, text=True,
                       timeout=scaled(10))
    assert r.returncode != 0
    assert f"{conf}:" in r.stderr and expect in r.stderr, r.stderr
    assert not pid.exists(), "a failed start leaves no pid file"


def test_tls_listener_port_in_use_removes_the_pid_file(tmp_path, pki):
    """The TLS listener's port is taken: midge fails after writing its pid file (listeners open
    after it), names the listener, and removes the pid file on the way out."""
    pid = tmp_path / "midge.pid"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind((HOST, 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        conf = tmp_path / "m.conf"
        conf.write_text("\n".join([f"pid_file {pid}", f"listener {harness.free_port()} {HOST}",
                                   f"listener {port} {HOST}", *server_lines(pki)]) + "\n")
        r = subprocess.run(harness.broker_command("-c", str(conf)), capture_output=True, text=True,
                           timeout=scaled(10))
    assert r.returncode == 1, r.stderr
    assert f"port {port}:" in r.stderr, r.stderr
    assert not pid.exists(), "the pid file is removed when the start fails"


def test_connection_lines_name_the_tls_port(tls_broker, pki):
    """A TLS listener's connection log line names its own port (it said "on port 0")."""
    b, port = tls_broker(server_lines(pki))
    assert tls_works(port, pki)
    assert plain_works(b)
    log = stop_and_check_allocations(b)
    assert re.search(rf"New connection from 127\.0\.0\.1:\d+ on port {port}\.$", log, re.M), log[-3000:]
    assert re.search(rf"New connection from 127\.0\.0\.1:\d+ on port {b.port}\.$", log, re.M), log[-3000:]
    assert "on port 0." not in log


def test_plan_shows_tls_lines(tmp_path, pki):
    conf = tmp_path / "m.conf"
    conf.write_text(f"listener 8883 {HOST}\n" + "\n".join(server_lines(pki)) + "\nmax_tls_sessions 5\n")
    r = subprocess.run(harness.broker_command("--plan", "-c", str(conf)), capture_output=True, text=True,
                       timeout=scaled(10))
    assert r.returncode == 0, r.stderr
    assert re.search(r"TLS session records\s+5\s", r.stdout), r.stdout
    assert re.search(r"TLS heap: sessions\s+5\s", r.stdout), r.stdout
    plain = subprocess.run(harness.broker_command("--plan"), capture_output=True, text=True, timeout=scaled(10))
    assert "TLS" not in plain.stdout  # no TLS listener: no TLS memory


def test_identities_meet_the_acl(tls_broker, pki, tmp_path):
    """The CN (use_identity_as_username) and the PSK identity are the user names the acl_file
    rules see: alice may use rt/#, not secret/#; sensor-1 likewise."""
    acl = tmp_path / "acl"
    acl.write_text("user alice\ntopic readwrite rt/#\nuser sensor-1\ntopic readwrite rt/#\n")
    psk_port = harness.free_port()
    b, port = tls_broker(server_lines(pki) + [
        f"cafile {pki['ca.crt']}", "require_certificate true", "use_identity_as_username true",
        f"listener {psk_port} {HOST}", "psk_hint midge"],
        extra=[f"acl_file {acl}", f"psk_file {pki['psk']}"])
    ok, detail = roundtrip_mosquitto(port, "--cafile", pki["ca.crt"], "--cert", pki["alice.crt"],
                                     "--key", pki["alice.key"])
    assert ok, detail
    ok, detail = roundtrip_mosquitto(psk_port, "--psk", tlspki.PSK_KEY, "--psk-identity", tlspki.PSK_IDENTITY)
    assert ok, detail
    with TLSRaw(port, client_context(pki, cert="alice"), timeout=scaled(5)) as c:
        assert c.connect(scaled(5), client_id="alice-acl") == mqttraw.connack(0)
        c.send(mqttraw.subscribe(1, [("rt/a", 0), ("secret/#", 0)]))
        assert c.read_packet(scaled(5)) == mqttraw.suback(1, [0x00, 0x80])
    stop_and_check_allocations(b)
