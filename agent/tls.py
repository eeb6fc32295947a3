"""Which certificate authorities the agent trusts when it talks to IT's server.

- This computer's own trust store, through ``truststore``: on macOS the keychains (the
  System keychain with the roots IT's profiles install), on Windows the machine's Root store
  (Group Policy, Intune), on Linux the system bundle (``update-ca-certificates``,
  ``update-ca-trust``). A company's own certificate authority, or a TLS-inspecting proxy's,
  is trusted once IT adds it there, as every other program on the computer does.
- When truststore cannot be loaded (logged as a warning): the certificates Checkup ships
  (certifi, Mozilla's list) instead.
- Plus ``[server] ca_file``: a PEM file of certificate authorities IT names, added to those
  roots (it never replaces them). A file that is missing, unreadable or not PEM is a
  ``TrustError`` with a one-line message; nothing is sent until it is fixed.
- ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``, when set in the agent's environment, are added
  the same way (requests reads them).

Imported only when reporting; ``ssl``, ``requests`` and ``truststore`` are imported lazily.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("checkup.tls")

CA_FILE_MAX_BYTES = 4 * 1024 * 1024     # a bundle of every public root is ~250 kB
PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
PEM_END = "-----END CERTIFICATE-----"

SYSTEM = "system"     # Trust.source: this computer's trust store (truststore)
CERTIFI = "certifi"   # the certificates Checkup ships


class TrustError(Exception):
    """``[server] ca_file`` cannot be used. The message is one line, for the person and IT."""


@dataclass
class Trust:
    context: Any            # ssl.SSLContext (a truststore.SSLContext when source is SYSTEM)
    source: str             # SYSTEM or CERTIFI
    ca_file: str            # "" when IT set none
    fallback_reason: str = ""   # why the system store is not used (source CERTIFI)

    def describe(self) -> str:
        what = ("this computer's trusted certificates" if self.source == SYSTEM
                else "the certificates Checkup ships (certifi)")
        return what + (f" and {self.ca_file}" if self.ca_file else "")


def ca_file_setting(settings) -> str:  # noqa: ANN001
    return str(settings.get("server", "ca_file") or "").strip()


def read_ca_file(path: str) -> str:
    """The PEM certificates in ``path``, checked. Raises TrustError (one line) when the file
    is missing, unreadable, too big, not PEM, or holds a certificate that can't be read."""
    where = f"[server] ca_file {path!r}"
    if not os.path.isabs(os.path.expanduser(path)):
        raise TrustError(f"{where} is not a full path (like /etc/checkup/company-ca.pem)")
    path = os.path.expanduser(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(CA_FILE_MAX_BYTES + 1)
    except FileNotFoundError:
        raise TrustError(f"{where} does not exist") from None
    except IsADirectoryError:
        raise TrustError(f"{where} is a folder, not a certificate file") from None
    except OSError as exc:
        raise TrustError(f"{where} cannot be read ({exc.strerror or exc})") from None
    if len(raw) > CA_FILE_MAX_BYTES:
        raise TrustError(f"{where} is larger than {CA_FILE_MAX_BYTES // (1024 * 1024)} MB; "
                         "it should hold only your company's certificate authorities")
    text = raw.decode("ascii", errors="replace").replace("\r\n", "\n")
    blocks = []
    start = text.find(PEM_BEGIN)
    while start != -1:
        end = text.find(PEM_END, start)
        if end == -1:
            raise TrustError(f"{where} has a certificate with no {PEM_END} line")
        blocks.append(text[start:end + len(PEM_END)])
        start = text.find(PEM_BEGIN, end)
    if not blocks:
        hint = ""
        if raw[:1] == b"\x30":   # DER: an ASN.1 SEQUENCE
            hint = (f"; it looks like a DER (binary) certificate: convert it with "
                    f"openssl x509 -inform der -in {path} -out company-ca.pem")
        raise TrustError(f"{where} is not a PEM certificate file (no {PEM_BEGIN} line){hint}")
    import ssl
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for number, block in enumerate(blocks, 1):
        try:
            probe.load_verify_locations(cadata=block)
        except (ssl.SSLError, ValueError) as exc:
            why = re.sub(r"\s*\(_ssl\.c:\d+\)", "", str(exc)).strip() or type(exc).__name__
            raise TrustError(f"{where} has a certificate that can't be read (certificate "
                             f"{number} of {len(blocks)}: {why})") from None
    return "\n".join(blocks) + "\n"


def _system_context():  # noqa: ANN202
    import ssl

    import truststore
    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _certifi_context():  # noqa: ANN202
    import ssl

    import certifi
    return ssl.create_default_context(cafile=certifi.where())


def build_trust(ca_file: str = "") -> Trust:
    """The TLS context for IT's server: the system store (certifi when truststore can't
    load), plus ``ca_file``. Raises TrustError when ``ca_file`` is set and unusable."""
    extra = read_ca_file(ca_file) if ca_file else ""
    try:
        trust = Trust(_system_context(), SYSTEM, ca_file)
    except Exception as exc:  # noqa: BLE001 - ImportError, an OS without the APIs, ...
        why = f"{type(exc).__name__}: {exc}"
        log.warning("this computer's trusted certificates can't be used (%s); checking the "
                    "server's certificate against the ones Checkup ships (certifi) instead", why)
        trust = Trust(_certifi_context(), CERTIFI, ca_file, why)
    if extra:
        trust.context.load_verify_locations(cadata=extra)
    log.info("the server's certificate is checked against %s", trust.describe())
    return trust


_ADAPTER = None


def _adapter_class():  # noqa: ANN202
    """requests' HTTPAdapter that verifies with our context (made once, on first use)."""
    global _ADAPTER
    if _ADAPTER is None:
        from requests.adapters import HTTPAdapter

        class TrustAdapter(HTTPAdapter):
            def __init__(self, context, **kwargs):  # noqa: ANN001, ANN003
                self._trust_context = context
                super().__init__(**kwargs)

            def init_poolmanager(self, *args, **pool_kwargs):  # noqa: ANN002, ANN003, ANN201
                pool_kwargs["ssl_context"] = self._trust_context
                return super().init_poolmanager(*args, **pool_kwargs)

            def proxy_manager_for(self, proxy, **proxy_kwargs):  # noqa: ANN001, ANN003, ANN201
                proxy_kwargs["ssl_context"] = self._trust_context
                return super().proxy_manager_for(proxy, **proxy_kwargs)

            def cert_verify(self, conn, url, verify, cert):  # noqa: ANN001
                super().cert_verify(conn, url, verify, cert)
                if verify is True:
                    # requests would load certifi's file into our context for every
                    # connection: the roots come from the context alone. (A bundle named
                    # by REQUESTS_CA_BUNDLE arrives as a string and is added.)
                    conn.ca_certs = None
                    conn.ca_cert_dir = None

        _ADAPTER = TrustAdapter
    return _ADAPTER


def new_session(settings, user_agent: str = ""):  # noqa: ANN001, ANN201
    """A requests.Session for IT's server that trusts what ``build_trust`` says.
    Raises TrustError (``[server] ca_file`` unusable)."""
    import requests
    trust = build_trust(ca_file_setting(settings))
    session = requests.Session()
    session.mount("https://", _adapter_class()(trust.context))
    session.checkup_trust = trust   # what it trusts, for tests and diagnostics
    if user_agent:
        session.headers["User-Agent"] = user_agent
    return session
