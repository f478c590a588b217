"""25b. SIGHUP reloads a TLS listener's certfile/keyfile (and cafile) without dropping clients.

Each test starts a broker whose certfile/keyfile are copies in the test's directory, keeps a
TLS client connected across the signal (PINGRESP and a delivered message after it), replaces
the files with a certificate of a different CN, sends SIGHUP and checks the broker's log line
and the certificate a NEW client (Python's ssl, openssl s_client) is served. A bad new keyfile
(garbage, or the key of another certificate) is refused with the reason in the log and the old
certificate stays in force. A reload while sessions still use the set from two reloads ago is
refused (midge keeps two certificate sets), as are a file larger than the reload buffer and a
set larger than the plan's room; a new cafile changes which client certificates get in. Every test ends by stopping the broker and
requiring zero allocations after startup (MIDGE_ALLOC_TRAP=1 traps at the first)."""

import re
import shutil
import signal
import subprocess
import time

import pytest

import harness
import mqttraw
import tlspki
from harness import HOST, scaled
from test_25_tls import TLSRaw, client_context, s_client, stop_and_check_allocations, tls_broker  # noqa: F401

pytestmark = pytest.mark.midge_only

SAN = "subjectAltName=IP:127.0.0.1,DNS:localhost\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The test PKI plus two more server certificates (CN second, third) from the same CA."""
    d = tmp_path_factory.mktemp("pki-reload")
    paths = tlspki.make_pki(d)
    for name in ("second", "third"):
        tlspki._signed(d, name, "ca", name, SAN)
        paths[name + ".crt"] = str(d / f"{name}.crt")
        paths[name + ".key"] = str(d / f"{name}.key")
    return paths


def install(pki, kind, live):
    shutil.copyfile(pki[kind + ".crt"], live / "live.crt")
    shutil.copyfile(pki[kind + ".key"], live / "live.key")


def peer_cn(port, pki):
    """The subject CN of the certificate a new TLS client is served (verified against the CA)."""
    with TLSRaw(port, client_context(pki), timeout=scaled(5)) as c:
        assert c.connect(scaled(5), client_id="cn-check") == mqttraw.connack(0)
        subject = dict(x[0] for x in c.sock.getpeercert()["subject"])
        return subject["commonName"]


def s_client_subject(port, pki):
    r = s_client(port, "-CAfile", pki["ca.crt"], "-verify_return_error", stdin=b"")
    out = r.stdout.decode(errors="replace")
    assert "Verify return code: 0 (ok)" in out, out[-1500:]
    return [line for line in out.splitlines() if "subject=" in line]


def wait_log(b, text, after=0):
    deadline = time.monotonic() + scaled(5)
    while time.monotonic() < deadline:
        log = b.stderr_path.read_text()
        if text in log[after:]:
            return log
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in the log:\n{b.stderr_path.read_text()[-2000:]}")


def sighup(b, expect):
    mark = len(b.stderr_path.read_text())
    b.proc.send_signal(signal.SIGHUP)
    return wait_log(b, expect, mark)[mark:]


def pingresp(c):
    c.send(b"\xc0\x00")
    return c.read_packet(scaled(5)) == b"\xd0\x00"


def subscribed(port, pki, client_id):
    c = TLSRaw(port, client_context(pki), timeout=scaled(5))
    assert c.connect(scaled(5), client_id=client_id) == mqttraw.connack(0)
    c.send(mqttraw.subscribe(1, [("reload/#", 0)]))
    assert c.read_packet(scaled(5)) == mqttraw.suback(1, [0])
    return c


def delivered(port, pki, subscriber, payload):
    """A new TLS client publishes; the old subscriber must receive it."""
    with TLSRaw(port, client_context(pki), timeout=scaled(5)) as p:
        assert p.connect(scaled(5), client_id="pub-" + payload) == mqttraw.connack(0)
        p.send(mqttraw.publish("reload/x", payload))
        assert pingresp(p)  # the PUBLISH was processed before the PINGREQ
    return subscriber.read_packet(scaled(5)) == mqttraw.publish("reload/x", payload)


def test_reload_serves_new_certificate_old_clients_stay(tls_broker, pki, tmp_path):
    install(pki, "server", tmp_path)
    b, port = tls_broker([f"certfile {tmp_path}/live.crt", f"keyfile {tmp_path}/live.key"])
    assert peer_cn(port, pki) == "localhost"
    old = subscribed(port, pki, "before-reload")  # on the startup set
    try:
        install(pki, "second", tmp_path)
        log = sighup(b, f"SIGHUP: TLS listener {port}: certificates reloaded")
        assert "stay in force" not in log, log
        assert pingresp(old)
        assert delivered(port, pki, old, "after-first")
        assert peer_cn(port, pki) == "second"
        assert any("CN = second" in s or "CN=second" in s for s in s_client_subject(port, pki))

        # The spare set is the startup one, still used by `old`: this reload is refused.
        install(pki, "third", tmp_path)
        log = sighup(b, "the old certificates stay in force")
        assert f"SIGHUP: TLS listener {port}: 1 sessions still use the certificates" in log, log
        assert peer_cn(port, pki) == "second"
        assert pingresp(old)
    finally:
        old.close()
    # Once the old session has ended, the reload goes through.
    deadline = time.monotonic() + scaled(5)
    while True:
        log = sighup(b, f"SIGHUP: TLS listener {port}: ")
        if "certificates reloaded" in log or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # the broker may not have seen the close yet
    assert "certificates reloaded" in log, log
    assert peer_cn(port, pki) == "third"
    stop_and_check_allocations(b)


@pytest.mark.parametrize("bad", ["garbage", "other-key"])
def test_bad_new_keyfile_keeps_old_certificate(tls_broker, pki, tmp_path, bad):
    install(pki, "server", tmp_path)
    b, port = tls_broker([f"certfile {tmp_path}/live.crt", f"keyfile {tmp_path}/live.key"])
    with TLSRaw(port, client_context(pki), timeout=scaled(5)) as old:
        assert old.connect(scaled(5), client_id="before") == mqttraw.connack(0)
        shutil.copyfile(pki["second.crt"], tmp_path / "live.crt")
        if bad == "garbage":
            (tmp_path / "live.key").write_text("-----BEGIN EC PRIVATE KEY-----\nbm90IGEga2V5\n"
                                               "-----END EC PRIVATE KEY-----\n")
        else:
            shutil.copyfile(pki["third.key"], tmp_path / "live.key")  # not second's key
        log = sighup(b, "the old certificates stay in force")
        assert f"SIGHUP: {tmp_path}/live.key: " in log, log
        assert "certificates reloaded" not in log
        if bad == "garbage":
            assert "PK - " in log and "(-0x" in log, log  # mbedTLS's text and code for the key error
        else:
            assert f"live.key: not the key of the certificate in {tmp_path}/live.crt;" in log, log
        assert peer_cn(port, pki) == "localhost"  # new clients: the old certificate
        assert pingresp(old)
        # A missing file: the same.
        (tmp_path / "live.key").unlink()
        log = sighup(b, "the old certificates stay in force")
        assert f"SIGHUP: cannot read {tmp_path}/live.key: " in log, log
        assert peer_cn(port, pki) == "localhost"
        # Good files again: reloaded (the failed attempts left the spare set free).
        install(pki, "second", tmp_path)
        log = sighup(b, f"SIGHUP: TLS listener {port}: certificates reloaded")
        assert peer_cn(port, pki) == "second"
        assert pingresp(old)
    stop_and_check_allocations(b)


def test_plan_has_two_certificate_copies_and_reload_buffer(tmp_path, pki):
    conf = tmp_path / "m.conf"
    conf.write_text(f"listener 8883 {HOST}\ncertfile {pki['server.crt']}\nkeyfile {pki['server.key']}\n")
    r = subprocess.run(harness.broker_command("--plan", "-c", str(conf)), capture_output=True, text=True,
                       timeout=scaled(10))
    assert r.returncode == 0, r.stderr
    assert re.search(r"TLS heap: certs, keys\s+2\s", r.stdout), r.stdout
    assert re.search(r"TLS reload file buffer\s+1\s+\d+", r.stdout), r.stdout


def test_reload_too_large_is_refused(tls_broker, pki, tmp_path):
    """A new cafile larger than the reload buffer, and one whose parsed set does not fit the
    plan's certs, keys line: both refused, the old certificates stay, a later good reload works."""
    install(pki, "server", tmp_path)
    ca = open(pki["ca.crt"]).read()
    (tmp_path / "cas.crt").write_text(ca)
    b, port = tls_broker([f"certfile {tmp_path}/live.crt", f"keyfile {tmp_path}/live.key",
                          f"cafile {tmp_path}/cas.crt"])
    (tmp_path / "cas.crt").write_text(ca * 20)  # far beyond twice the largest startup file (4 KiB)
    log = sighup(b, "the old certificates stay in force")
    assert f"SIGHUP: {tmp_path}/cas.crt: larger than the TLS reload file buffer" in log, log
    copies = max(1, 4000 // len(ca))  # fits the buffer; parsed, more than the spare room
    (tmp_path / "cas.crt").write_text(ca * copies)
    log = sighup(b, "the old certificates stay in force")
    assert re.search(rf"SIGHUP: TLS listener {port}: the new certificates need \d+ bytes more than", log), log
    assert peer_cn(port, pki) == "localhost"
    (tmp_path / "cas.crt").write_text(ca)
    install(pki, "second", tmp_path)
    sighup(b, f"SIGHUP: TLS listener {port}: certificates reloaded")
    assert peer_cn(port, pki) == "second"
    stop_and_check_allocations(b)


def test_reload_cafile_changes_accepted_client_certificates(tls_broker, pki, tmp_path):
    """require_certificate: after the cafile is replaced by another CA, that CA's client
    (mallory) gets in, the old CA's (alice) is refused; alice's session from before stays."""
    from test_25_tls import handshake_refused
    shutil.copyfile(pki["ca.crt"], tmp_path / "clients.crt")
    b, port = tls_broker([f"certfile {pki['server.crt']}", f"keyfile {pki['server.key']}",
                          f"cafile {tmp_path}/clients.crt", "require_certificate true"])
    assert handshake_refused(port, client_context(pki, cert="mallory"))
    with TLSRaw(port, client_context(pki, cert="alice"), timeout=scaled(5)) as alice:
        assert alice.connect(scaled(5), client_id="alice") == mqttraw.connack(0)
        shutil.copyfile(pki["otherca.crt"], tmp_path / "clients.crt")
        sighup(b, f"SIGHUP: TLS listener {port}: certificates reloaded")
        assert pingresp(alice)
        with TLSRaw(port, client_context(pki, cert="mallory"), timeout=scaled(5)) as mallory:
            assert mallory.connect(scaled(5), client_id="mallory") == mqttraw.connack(0)
        assert handshake_refused(port, client_context(pki, cert="alice"))
        assert pingresp(alice)
    stop_and_check_allocations(b)
