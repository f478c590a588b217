"""27. acl_file (Mosquitto's syntax and semantics) and SIGHUP reload of the auth files.

Here's how it works: each test starts a broker with a password_file made by the real
mosquitto_passwd and an acl_file, connects real clients (paho-mqtt for MQTT 5 reason codes
and 3.1.1, mosquitto_pub/sub for the command-line path) and checks what is delivered and what
each client is answered. A message that must NOT arrive is checked after a message that must
arrive on the same connection, published later by the same publisher, so no test waits on a
timeout to prove an absence. The reload tests rewrite the files, send SIGHUP, and check the
broker's log line, a client connected before the signal, and the new rules and passwords.
Run against Mosquitto with MIDGE_BIN=/usr/sbin/mosquitto MIDGE_IS_MOSQUITTO=1: the tests
not marked midge_only pass there too (SUBSCRIBE refusals are midge's: Mosquitto 2.0 grants
every SUBSCRIBE and filters at delivery).
"""

import signal
import subprocess
import time

import pytest

import mqttraw
from clients import V5, V311, PahoClient
from harness import HOST, IS_MOSQUITTO, broker_command, scaled

ACL = """\
# general section: anonymous clients only (as Mosquitto)
topic readwrite public/#
topic read $SYS/broker/uptime

user alice
topic readwrite alice/#
topic read news/#
topic deny alice/secret
topic write inbox/alice

user bob
topic readwrite news/#
topic read inbox/#

pattern readwrite clients/%c/#
pattern readwrite users/%u/#
"""

USERS = {"alice": "apw", "bob": "bpw"}
# PUBACK codes of a delivered message: Mosquitto says 0x10 "no matching subscribers".
OK = (0, 0x10)


def make_passwd(path, users=USERS):
    first = True
    for user, password in users.items():
        args = ["mosquitto_passwd", "-b"] + (["-c"] if first else []) + [str(path), user, password]
        subprocess.run(args, check=True, timeout=30, capture_output=True)
        first = False
    return path


@pytest.fixture
def acl_broker(broker, tmp_path):
    pw = make_passwd(tmp_path / "passwd")
    acl = tmp_path / "acl"
    acl.write_text(ACL)
    # Mosquitto run as root drops to user mosquitto, which cannot read pytest's tmp_path.
    extra = ["user root"] if IS_MOSQUITTO else ["sys_interval 1"]
    b = broker([f"password_file {pw}", f"acl_file {acl}", "allow_anonymous true", *extra])
    b.passwd, b.acl = pw, acl
    return b


def client(port, user=None, version=V5, client_id=None, will=None):
    c = PahoClient(port, client_id, version=version, will=will, connect=False)
    if user is not None:
        c.client.username_pw_set(user, USERS[user])
    c.start()
    return c.wait_connected()


@pytest.mark.parametrize("version", [V5, V311])
def test_user_sections_read_write_deny(acl_broker, version):
    p = acl_broker.port
    alice = client(p, "alice", version)
    bob = client(p, "bob", version)
    try:
        alice.subscribe("alice/#", 1)
        alice.subscribe("news/#", 1)
        bob.subscribe("news/#", 1)
        # alice may not write news (read only): bob does not get it; bob may write news.
        alice.publish("news/from-alice", b"no", qos=1)
        bob.publish("news/from-bob", b"yes", qos=1)
        got = bob.wait_payload(b"yes")
        assert [m.topic for m in got] == ["news/from-bob"]
        assert [m.payload for m in alice.wait_payload(b"yes")] == [b"yes"]
        # deny beats the broader readwrite alice/#.
        alice.publish("alice/secret", b"hidden", qos=1)
        alice.publish("alice/open", b"seen", qos=1)
        got = alice.wait_payload(b"seen")
        assert b"hidden" not in [m.payload for m in got]
        # The general section is for anonymous clients only: alice may not use public/#.
        alice.publish("public/x", b"not-alice", qos=1)
        anon = client(p, None, version)
        try:
            anon.subscribe("public/#", 1)
            alice.publish("public/x", b"not-alice-2", qos=1)
            anon.publish("public/x", b"anon", qos=1)
            got = anon.wait_payload(b"anon")
            assert [m.payload for m in got] == [b"anon"]
        finally:
            anon.close()
    finally:
        alice.close()
        bob.close()


def test_mqtt5_reason_codes(acl_broker):
    alice = client(acl_broker.port, "alice", V5)
    try:
        assert alice.publish("news/x", b"1", qos=1) == 0x87        # PUBACK Not authorized
        assert alice.publish("alice/x", b"3", qos=1) in OK
        assert alice.publish("inbox/alice", b"4", qos=2) in OK      # write-only topic
    finally:
        alice.close()


def test_mqtt5_pubrec_not_authorized_raw(acl_broker):
    # paho sends PUBREL even after a refusing PUBREC and reports the PUBCOMP: raw bytes here.
    with mqttraw.RawClient(acl_broker.port) as c:
        body = mqttraw.mqtt_string("MQTT") + bytes([5, 0x02, 0, 60, 0]) + mqttraw.mqtt_string("raw5")
        c.send(mqttraw.packet(0x10, body))
        connack = c.read_packet(scaled(5))
        assert connack[0] == 0x20 and connack[3] == 0, connack.hex()
        # PUBLISH QoS 2 to news/x (anonymous clients may not write it), packet id 7.
        c.send(mqttraw.packet(0x34, mqttraw.mqtt_string("news/x") + bytes([0, 7, 0]) + b"q2"))
        ack = c.read_packet(scaled(5))
        assert ack[0] == 0x50 and ack[2:4] == bytes([0, 7]) and ack[4] == 0x87, ack.hex()
        c.send(mqttraw.packet(0x34, mqttraw.mqtt_string("public/x") + bytes([0, 8, 0]) + b"q2"))
        ack = c.read_packet(scaled(5))
        assert ack[0] == 0x50 and ack[2:4] == bytes([0, 8]) and (len(ack) == 4 or ack[4] == 0), ack.hex()


@pytest.mark.midge_only
@pytest.mark.parametrize("version,refused", [(V5, 0x87), (V311, 0x80)])
def test_subscribe_refused(acl_broker, version, refused):
    alice = client(acl_broker.port, "alice", version)
    try:
        alice.subscribe("bob/#", 1, expect=[refused])               # nothing grants read
        alice.subscribe("inbox/alice", 0, expect=[refused])         # write only
        alice.subscribe("alice/secret", 0, expect=[refused])        # covered by deny
        alice.subscribe("$SYS/#", 0, expect=[refused])              # $SYS only where granted
        alice.subscribe("#", 0, expect=[0])                         # overlaps alice/#: filtered
        alice.subscribe("$share/g/alice/+", 0, expect=[0])
        alice.subscribe("$share/g/bob/+", 0, expect=[refused])
    finally:
        alice.close()


@pytest.mark.parametrize("version", [V5, V311])
def test_3_1_1_and_5_publish_denied_is_acknowledged_or_refused(acl_broker, version):
    alice = client(acl_broker.port, "alice", version)
    bob = client(acl_broker.port, "bob", version)
    try:
        bob.subscribe("news/#", 2)
        for qos in (1, 2):
            rc = alice.publish("news/q", b"denied", qos=qos)
            # 3.1.1: acknowledged as usual (PUBACK, PUBREC/PUBCOMP), dropped. 5: PUBACK 0x87
            # (PUBREC 0x87 is checked raw above: paho reports the PUBCOMP that follows it).
            if version == V311:
                assert rc == 0
            elif qos == 1:
                assert rc == 0x87
        bob.publish("news/q", b"allowed", qos=2)
        got = bob.wait_payload(b"allowed")
        assert [m.payload for m in got] == [b"allowed"]
    finally:
        alice.close()
        bob.close()


def test_patterns_client_id_and_user(acl_broker):
    p = acl_broker.port
    dev = client(p, "alice", V5, client_id="dev1")
    reader = client(p, "alice", V5, client_id="reader")
    bob = client(p, "bob", V5, client_id="bobby")
    try:
        dev.subscribe("clients/dev1/#", 1)
        assert dev.publish("clients/dev1/t", b"own", qos=1) in OK
        assert dev.publish("clients/dev2/t", b"other", qos=1) == 0x87   # %c is dev1
        reader.subscribe("users/alice/#", 1)
        assert bob.publish("users/alice/x", b"from-bob", qos=1) == 0x87  # %u is bob
        assert dev.publish("users/alice/x", b"from-alice", qos=1) in OK
        got = reader.wait_payload(b"from-alice")
        assert [m.payload for m in got] == [b"from-alice"]
        assert [m.payload for m in dev.wait_payload(b"own")] == [b"own"]
    finally:
        for c in (dev, reader, bob):
            c.close()


def test_pattern_with_user_is_skipped_for_anonymous(acl_broker):
    anon = client(acl_broker.port, None, V5, client_id="anon1")
    try:
        assert anon.publish("users/anon1/x", b"1", qos=1) == 0x87   # no user name: no %u
        assert anon.publish("clients/anon1/x", b"2", qos=1) in OK    # %c applies
    finally:
        anon.close()


def test_retained_messages_checked_at_subscribe(acl_broker):
    p = acl_broker.port
    bob = client(p, "bob")
    anon = client(p, None)
    try:
        assert bob.publish("news/r", b"news-retained", qos=1, retain=True) in OK
        assert anon.publish("public/r", b"public-retained", qos=1, retain=True) in OK
    finally:
        bob.close()
        anon.close()
    alice = client(p, "alice")
    try:
        # "#" matches both retained topics; alice may read only news/#. The SUBACK comes
        # before the retained messages, and both would be sent at once.
        alice.subscribe("#", 0)
        alice.subscribe("alice/ping", 0)
        assert alice.publish("alice/ping", b"ping", qos=1) in OK
        got = alice.wait_payload(b"ping")
        payloads = [m.payload for m in got]
        assert b"news-retained" in payloads and b"public-retained" not in payloads, got
    finally:
        alice.close()


@pytest.mark.parametrize("version", [V5, V311])
def test_will_the_client_may_not_write_is_not_published(acl_broker, version):
    p = acl_broker.port
    watcher = client(p, "alice", version, client_id="watcher")
    try:
        watcher.subscribe("news/#", 0)
        watcher.subscribe("alice/#", 0)
        denied = client(p, "alice", version, client_id="w1", will={"topic": "news/will", "payload": b"denied"})
        denied.kill()
        allowed = client(p, "alice", version, client_id="w2", will={"topic": "alice/will", "payload": b"allowed"})
        allowed.kill()
        got = watcher.wait_payload(b"allowed")
        assert [m.payload for m in got] == [b"allowed"]
    finally:
        watcher.close()


@pytest.mark.midge_only
def test_sys_readable_only_where_granted(acl_broker):
    anon = client(acl_broker.port, None)
    try:
        anon.subscribe("$SYS/broker/uptime", 0)
        got = anon.wait_messages(1, timeout=scaled(5))
        assert got[0].topic == "$SYS/broker/uptime"
    finally:
        anon.close()


@pytest.mark.midge_only
@pytest.mark.parametrize("text,expect", [
    ("topic read a/#\nfrobnicate x\n", ":2: unknown keyword 'frobnicate'"),
    ("user bob\ntopic read a/#b\n", ":2: invalid topic filter 'a/#b'"),
    ("user\n", ":1: missing topic or user name"),
])
def test_bad_acl_file_at_startup(tmp_path, text, expect):
    acl = tmp_path / "acl"
    acl.write_text(text)
    conf = tmp_path / "m.conf"
    conf.write_text(f"listener 1 {HOST}\nacl_file {acl}\n")
    r = subprocess.run(broker_command("-c", str(conf)), capture_output=True, text=True, timeout=scaled(10))
    assert r.returncode == 1
    assert f"{acl}{expect}" in r.stderr, r.stderr


@pytest.mark.midge_only
def test_acl_file_missing_or_too_large(tmp_path):
    conf = tmp_path / "m.conf"
    conf.write_text(f"listener 1 {HOST}\nacl_file {tmp_path}/nope\n")
    r = subprocess.run(broker_command("-c", str(conf)), capture_output=True, text=True, timeout=scaled(10))
    assert r.returncode == 1 and f"cannot read acl_file '{tmp_path}/nope'" in r.stderr, r.stderr
    (tmp_path / "big").write_text("topic a\n" * 20)
    conf.write_text(f"listener 1 {HOST}\nacl_file {tmp_path}/big\nmax_auth_file_bytes 100\n")
    r = subprocess.run(broker_command("-c", str(conf)), capture_output=True, text=True, timeout=scaled(10))
    assert r.returncode == 1 and "larger than max_auth_file_bytes (100 bytes)" in r.stderr, r.stderr
    conf.write_text(f"listener 1 {HOST}\nacl_file {tmp_path}/big\nmax_acl_rules 19\n")
    r = subprocess.run(broker_command("-c", str(conf)), capture_output=True, text=True, timeout=scaled(10))
    assert r.returncode == 1 and f"{tmp_path}/big:20: more lines than max_acl_rules" in r.stderr, r.stderr


# --- SIGHUP reload ---------------------------------------------------------------------

def wait_log(b, text, timeout=None):
    deadline = time.monotonic() + (scaled(5) if timeout is None else timeout)
    while time.monotonic() < deadline:
        log = b.stderr_path.read_text()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in the log:\n{b.stderr_path.read_text()[-2000:]}")


def connack_code(port, user, password, version=V5):
    c = PahoClient(port, version=version, connect=False)
    c.client.username_pw_set(user, password)
    c.start()
    try:
        return c.wait_connack()
    finally:
        c.close()


def pingresp(raw):
    raw.send(b"\xc0\x00")
    return raw.read_packet(scaled(5)) == b"\xd0\x00"


@pytest.mark.midge_only
def test_sighup_reloads_passwords_and_acl_clients_stay(acl_broker):
    b = acl_broker
    raw = mqttraw.RawClient(b.port)
    try:
        assert raw.connect(scaled(5), client_id="raw-anon") == mqttraw.connack(0)
        bob = client(b.port, "bob", V5, client_id="bob-stays")
        alice = client(b.port, "alice", V5)
        try:
            bob.subscribe("news/#", 0)
            # New files: alice's password changes, carol is new, and bob may no longer read news.
            make_passwd(b.passwd, {"alice": "new", "bob": "bpw", "carol": "cpw"})
            b.acl.write_text(ACL.replace("user bob\ntopic readwrite news/#", "user bob\ntopic write news/#"))
            b.proc.send_signal(signal.SIGHUP)
            wait_log(b, "acl_file " + str(b.acl) + " reloaded: ")
            log = wait_log(b, "password_file " + str(b.passwd) + " reloaded: 3 users")
            assert "stays in force" not in log
            assert pingresp(raw)                                 # connected before the signal
            assert connack_code(b.port, "alice", "apw") == 0x86  # the old password is gone
            assert connack_code(b.port, "alice", "new") == 0
            assert connack_code(b.port, "carol", "cpw") == 0
            # bob's old subscription stays, but delivery checks the new rules.
            assert bob.publish("news/after", b"bob-cannot-read", qos=1) in OK
            assert alice.publish("alice/x", b"x", qos=1) in OK
            bob.subscribe("inbox/#", 0)
            assert alice.publish("inbox/alice", b"marker", qos=1) in OK
            got = bob.wait_payload(b"marker")
            assert [m.payload for m in got] == [b"marker"]
        finally:
            bob.close()
            alice.close()
    finally:
        raw.close()


@pytest.mark.midge_only
def test_sighup_bad_files_keep_the_old_ones(acl_broker):
    b = acl_broker
    raw = mqttraw.RawClient(b.port)
    try:
        assert raw.connect(scaled(5), client_id="raw-anon") == mqttraw.connack(0)
        b.acl.write_text(ACL + "frobnicate x\n")
        b.passwd.write_text(b.passwd.read_text() + "eve:plain\n")
        b.proc.send_signal(signal.SIGHUP)
        n = ACL.count("\n") + 1
        wait_log(b, f"{b.acl}:{n}: unknown keyword 'frobnicate'; the old acl_file stays in force")
        wait_log(b, f"{b.passwd}:3: not a mosquitto_passwd hash ($6$ or $7$) for user 'eve'; "
                    "the old password_file stays in force")
        assert pingresp(raw)
        assert connack_code(b.port, "alice", "apw") == 0            # old passwords in force
        alice = client(b.port, "alice", V5)
        try:
            assert alice.publish("news/x", b"1", qos=1) == 0x87      # old rules in force
            assert alice.publish("alice/x", b"2", qos=1) in OK
        finally:
            alice.close()
        # A missing file is logged too, and the old table stays.
        b.acl.unlink()
        b.proc.send_signal(signal.SIGHUP)
        wait_log(b, f"cannot read acl_file {b.acl}: no such file or directory; the old acl_file stays")
        assert pingresp(raw)
    finally:
        raw.close()


@pytest.mark.midge_only
def test_sys_counts_acl_refusals(broker, tmp_path):
    acl = tmp_path / "acl"
    acl.write_text("topic read $SYS/broker/midge/acl/#\ntopic readwrite ok/#\n")
    b = broker([f"acl_file {acl}", "sys_interval 1"])
    anon = client(b.port, None, V5)
    try:
        assert anon.publish("no/x", b"1", qos=1) == 0x87
        assert anon.publish("no/y", b"2", qos=1) == 0x87
        assert anon.publish("ok/x", b"3", qos=1) in OK
    finally:
        anon.close()
    deadline = time.monotonic() + scaled(10)
    values = {}
    while time.monotonic() < deadline:
        out = subprocess.run(["mosquitto_sub", "-h", HOST, "-p", str(b.port), "-v", "-C", "3", "-W", "5",
                              "-t", "$SYS/broker/midge/acl/#"], capture_output=True, text=True,
                             timeout=scaled(10))
        values = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
        if values.get("$SYS/broker/midge/acl/publishes_denied") == "2":
            break
    assert values.get("$SYS/broker/midge/acl/publishes_denied") == "2", values
    assert values.get("$SYS/broker/midge/acl/wills_denied") == "0", values
    # The subscriber itself may read only acl/#: a subscription to anything else was refused.
    assert set(values) <= {"$SYS/broker/midge/acl/publishes_denied",
                           "$SYS/broker/midge/acl/subscriptions_denied",
                           "$SYS/broker/midge/acl/wills_denied"}, values
