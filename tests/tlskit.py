"""Helpers for the certificate-trust tests: a throwaway certificate authority and server
certificates (made with `cryptography`), installing a CA into this machine's system store
for the length of a test, and a small HTTPS stand-in for IT's server.

Importable from every test folder (pytest puts tests/ on sys.path for tests/conftest.py)."""
from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import threading
import uuid

SYSTEM_CA = "/usr/local/share/ca-certificates/checkup-test.crt"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# What would make an agent trust a bundle without choosing to: removed from its environment.
CA_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def _x509():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    return x509, hashes, serialization, ec, NameOID, ExtendedKeyUsageOID


def _name(cn: str):  # noqa: ANN202
    x509, _h, _s, _e, NameOID, _k = _x509()
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Checkup tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(folder, label: str) -> dict:
    """A root CA, valid two days: {"key", "cert", "pem" (path), "der" (path)}."""
    x509, hashes, serialization, ec, _n, _k = _x509()
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    name = _name(f"Checkup test root {label} {uuid.uuid4().hex[:8]}")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    pem = folder / f"ca-{label}.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    der = folder / f"ca-{label}.der"
    der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return {"key": key, "cert": cert, "pem": pem, "der": der}


def make_server_cert(folder, ca: dict, label: str) -> tuple[str, str]:
    """(certificate file, key file) for localhost and 127.0.0.1, signed by ``ca``."""
    x509, hashes, serialization, ec, _n, ExtendedKeyUsageOID = _x509()
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name("localhost"))
            .issuer_name(ca["cert"].subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca["key"].public_key()), critical=False)
            .sign(ca["key"], hashes.SHA256()))
    crt, keyfile = folder / f"server-{label}.pem", folder / f"server-{label}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    keyfile.chmod(0o600)
    return str(crt), str(keyfile)


def in_bundle(pem_path, bundle: str) -> bool:
    """Whether the certificate in ``pem_path`` is in the PEM bundle file ``bundle``."""
    body = "".join(pem_path.read_text().strip().splitlines()[1:-1])
    try:
        with open(bundle, encoding="ascii", errors="replace") as fh:
            return body in "".join(fh.read().split())
    except FileNotFoundError:
        return False


def system_store_unavailable() -> str | None:
    """Why a CA can't be installed into this machine's store here, or None."""
    if os.geteuid() != 0:
        return "installing a CA into the system store needs root"
    if shutil.which("update-ca-certificates") is None or \
            not os.path.isdir(os.path.dirname(SYSTEM_CA)):
        return "update-ca-certificates not found (apt-get install ca-certificates)"
    if os.path.exists(SYSTEM_CA):
        return f"{SYSTEM_CA} exists already: not touching it"
    return None


@contextlib.contextmanager
def installed_in_system_store(pem_path):
    """The CA in /usr/local/share/ca-certificates + update-ca-certificates; afterwards the
    file is removed and the store rebuilt with --fresh, whatever happened."""
    tool = shutil.which("update-ca-certificates")
    shutil.copyfile(pem_path, SYSTEM_CA)
    try:
        subprocess.run([tool], check=True, capture_output=True, timeout=120)
        assert in_bundle(pem_path, SYSTEM_BUNDLE), "update-ca-certificates did not add the CA"
        yield SYSTEM_CA
    finally:
        os.unlink(SYSTEM_CA)
        subprocess.run([tool, "--fresh"], check=True, capture_output=True, timeout=300)
        assert not in_bundle(pem_path, SYSTEM_BUNDLE)


class StandInServer:
    """A small HTTPS stand-in for IT's server on loopback (for the frozen agent, which has no
    server code): enroll -> 201, reports -> 202, policy -> 204. ``seen`` lists the paths."""

    def __init__(self, certfile: str, keyfile: str):
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):  # noqa: ANN002
                pass

            def _answer(self, code: int, body: dict | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(code)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen.append(self.path)
                if self.path == "/api/v1/enroll":
                    self._answer(201, {"device_id": "stand-in-1", "device_secret": "s" * 32})
                elif self.path == "/api/v1/reports":
                    self._answer(202, {"accepted": True})
                else:
                    self._answer(404, {"detail": "not here"})

            def do_GET(self):  # noqa: N802
                seen.append(self.path)
                self._answer(204 if self.path == "/api/v1/policy" else 404)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)
