"""Test PKI made with the openssl command line at test time (nothing is committed): a CA and a
second, unrelated CA; ECDSA P-256 and RSA-2048 server certificates for 127.0.0.1; client
certificates (CN alice, one from the wrong CA, one expired); a psk_file."""

import subprocess
from pathlib import Path

PSK_IDENTITY = "sensor-1"
PSK_KEY = "00112233445566778899aabbccddeeff"


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _ec_key(d, name):
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key", cwd=d)


def _ca(d, name):
    _ec_key(d, name)
    _openssl("req", "-x509", "-new", "-key", f"{name}.key", "-sha256", "-days", "30",
             "-subj", f"/CN={name}", "-out", f"{name}.crt", cwd=d)


def _signed(d, name, ca, cn, ext=None, rsa=False):
    if rsa:
        _openssl("genrsa", "-out", f"{name}.key", "2048", cwd=d)
    else:
        _ec_key(d, name)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={cn}", "-out", f"{name}.csr", cwd=d)
    args = ["x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "30", "-sha256", "-out", f"{name}.crt"]
    if ext:
        (Path(d) / f"{name}.ext").write_text(ext)
        args += ["-extfile", f"{name}.ext"]
    _openssl(*args, cwd=d)


def _expired(d, name, ca, cn):
    """A client certificate valid only in January 2020 (openssl ca -startdate/-enddate)."""
    d = Path(d)
    db = d / f"{ca}-db"
    (db / "new").mkdir(parents=True, exist_ok=True)
    (db / "index.txt").write_text("")
    (db / "serial").write_text("1000\n")
    (d / f"{ca}-ca.cnf").write_text(f"""[ ca ]
default_ca = ca_default
[ ca_default ]
database = {db}/index.txt
new_certs_dir = {db}/new
serial = {db}/serial
default_md = sha256
policy = policy_any
[ policy_any ]
commonName = supplied
""")
    _ec_key(d, name)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={cn}", "-out", f"{name}.csr", cwd=d)
    _openssl("ca", "-batch", "-config", f"{ca}-ca.cnf", "-cert", f"{ca}.crt", "-keyfile", f"{ca}.key",
             "-in", f"{name}.csr", "-out", f"{name}.crt", "-notext",
             "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", cwd=d)


def make_pki(d):
    """Writes everything into directory d; returns a dict name -> path (str)."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    server_ext = "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    _ca(d, "ca")
    _ca(d, "otherca")
    _signed(d, "server", "ca", "localhost", server_ext)
    _signed(d, "server-rsa", "ca", "localhost", server_ext, rsa=True)
    _signed(d, "alice", "ca", "alice")
    _signed(d, "mallory", "otherca", "mallory")
    _expired(d, "expired", "ca", "old")
    (d / "psk").write_text(f"# identity:hexkey\n{PSK_IDENTITY}:{PSK_KEY}\nother:abcdef0123\n")
    names = ["ca", "otherca", "server", "server-rsa", "alice", "mallory", "expired"]
    paths = {n + ".crt": str(d / f"{n}.crt") for n in names}
    paths.update({n + ".key": str(d / f"{n}.key") for n in names})
    paths["psk"] = str(d / "psk")
    return paths
