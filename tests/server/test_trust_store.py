"""A company's own certificate authority is trusted (issue 15, item 1), for real.

A throwaway CA (made here with `cryptography`) signs the certificate of the real server,
served over HTTPS by uvicorn on loopback; `checkup report --now` runs as a separate process
with none of the CA-bundle environment variables, so what it trusts is what the agent
chooses:

(a) the CA nowhere: report --now fails with one clear line, nothing is enrolled;
(b) the CA in the system store (/usr/local/share/ca-certificates + update-ca-certificates,
    removed and rebuilt with --fresh afterwards): it succeeds through truststore, and the
    same run with truststore unavailable (certifi) fails, so the success was truststore's;
(c) the CA as `[server] ca_file`: it succeeds, the system store untouched, and the
    system's roots still trusted beside it (added, not replaced);
bad ca_file values: one line in report --now and in the log, no traceback, the report stays
queued, `checkup check` still works.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import srvkit
import tlskit
from tlskit import CA_ENV, SYSTEM_BUNDLE, in_bundle, make_ca, make_server_cert

pytest.importorskip("truststore", reason="truststore not installed: pip install -e .")
pytest.importorskip("cryptography", reason="cryptography not installed: pip install -e '.[server]'")

FIXTURE = srvkit.fixture_files()[0]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    company, other = make_ca(folder, "company"), make_ca(folder, "other")
    return {"folder": folder, "company": company, "other": other,
            "server": make_server_cert(folder, company, "company"),
            "other_server": make_server_cert(folder, other, "other")}


@pytest.fixture
def https_server(pki, tmp_path):
    srv = srvkit.LiveServer("sqlite:///" + str(tmp_path / "server.sqlite3"),
                            tls=pki["server"]).start()
    yield srv
    srv.stop()


# -- the agent as a separate process ----------------------------------------

WRAPPER = """
import logging, sys
if {log!r}:
    logging.basicConfig(level=logging.INFO, format="LOG %(name)s: %(message)s")
if {block!r}:
    sys.modules["truststore"] = None     # as if it could not be loaded: import fails
from agent.cli import main
sys.exit(main())
"""


def agent(tmp_path, *args, config=None, log=False, block_truststore=False, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in CA_ENV}
    env.update(PYTHONPATH=srvkit.ROOT, XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    env.update(env_extra or {})
    cmd = [sys.executable, "-c", WRAPPER.format(log=log, block=block_truststore), *args]
    if config:
        cmd += ["--config", str(config)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120,
                          cwd=srvkit.ROOT)


def report_now(tmp_path, config, **kw):
    return agent(tmp_path, "report", "--now", "--replay", FIXTURE, config=config, **kw)


def agent_config(tmp_path, srv, ca_file=None, name="checkup.toml"):
    path = tmp_path / name
    text = f'[server]\nurl = "{srv.url}"\nenroll_token = "{srv.token()}"\n'
    if ca_file is not None:
        text += f"ca_file = {str(ca_file)!r}\n"
    path.write_text(text)
    return path


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# -- (a) the CA nowhere ---------------------------------------------------------

def test_without_the_company_ca_report_now_fails_with_one_clear_line(https_server, pki, tmp_path):
    assert not in_bundle(pki["company"]["pem"], SYSTEM_BUNDLE)
    r = report_now(tmp_path, agent_config(tmp_path, https_server))
    assert r.returncode == 1, r.stdout + r.stderr
    line = one_line(r.stdout)
    assert "this computer does not trust the server's certificate (certificate verify " \
           "failed: unable to get local issuer certificate)" in line, line
    assert "IT adds it to this computer's trusted certificates or sets [server] ca_file" in line
    assert "1 still queued" in line
    assert "Traceback" not in r.stderr
    assert https_server.count("devices") == 0


# -- (b) the CA in the system store: truststore -------------------------------------------

@pytest.fixture
def system_ca(pki):
    why = tlskit.system_store_unavailable()
    if why:
        pytest.skip(why)
    with tlskit.installed_in_system_store(pki["company"]["pem"]) as path:
        yield path


def test_a_ca_in_the_system_store_is_trusted_through_truststore(https_server, pki, tmp_path,
                                                                system_ca):
    import certifi
    assert not in_bundle(pki["company"]["pem"], certifi.where())   # certifi can't do it
    cfg = agent_config(tmp_path, https_server)
    r = report_now(tmp_path, cfg, log=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Sent 1 of 1 report" in one_line(r.stdout)
    assert "LOG checkup.tls: the server's certificate is checked against this computer's " \
           "trusted certificates\n" in r.stderr, r.stderr
    assert "(certifi)" not in r.stderr and "can't be used" not in r.stderr
    assert https_server.count("devices") == 1 and https_server.count("reports") == 1
    # The same computer, truststore unavailable: certifi alone does not know the CA, so the
    # success above was the system store's. The fallback says so in the log.
    r = report_now(tmp_path, cfg, log=True, block_truststore=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "this computer does not trust the server's certificate" in one_line(r.stdout)
    assert "this computer's trusted certificates can't be used (ModuleNotFoundError: import of truststore halted" in r.stderr
    assert "checked against the certificates Checkup ships (certifi)" in r.stderr
    assert https_server.count("reports") == 1


# -- (c) [server] ca_file ------------------------------------------------------

def test_ca_file_is_trusted_without_touching_the_system_store(https_server, pki, tmp_path):
    bundle = Path(SYSTEM_BUNDLE)
    before = bundle.read_bytes() if bundle.exists() else None
    cfg = agent_config(tmp_path, https_server, ca_file=pki["company"]["pem"])
    r = report_now(tmp_path, cfg, log=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Sent 1 of 1 report" in one_line(r.stdout)
    assert (f"checked against this computer's trusted certificates and "
            f"{pki['company']['pem']}\n") in r.stderr
    assert https_server.count("reports") == 1
    assert (bundle.read_bytes() if bundle.exists() else None) == before
    assert not in_bundle(pki["company"]["pem"], SYSTEM_BUNDLE)
    # `checkup config show` names it
    r = agent(tmp_path, "config", "show", config=cfg)
    assert f'ca_file = "{pki["company"]["pem"]}"' in r.stdout


def test_ca_file_is_added_to_the_system_roots_not_instead_of_them(pki, tmp_path, monkeypatch):
    """Two servers: one signed by a CA the 'system' trusts (OpenSSL's SSL_CERT_FILE, which
    truststore reads on Linux), one by the CA in ca_file. One session trusts both."""
    from agent.config import Settings
    from agent.tls import SYSTEM, new_session
    bundle = tmp_path / "system-bundle.pem"
    bundle.write_text(pki["other"]["pem"].read_text())
    for k in CA_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    servers = [srvkit.LiveServer("sqlite:///" + str(tmp_path / f"s{i}.sqlite3"), tls=t).start()
               for i, t in enumerate((pki["server"], pki["other_server"]))]
    try:
        settings = Settings()
        settings.values["server"]["ca_file"] = str(pki["company"]["pem"])
        both = new_session(settings)
        assert both.checkup_trust.source == SYSTEM
        alone = new_session(Settings())
        for srv in servers:
            assert both.get(srv.url + "/healthz", timeout=30).status_code == 200
        assert alone.get(servers[1].url + "/healthz", timeout=30).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            alone.get(servers[0].url + "/healthz", timeout=30)
        # the roots are the store's and ca_file's only: requests did not load certifi's
        # (~150 roots) into the context on the way (truststore's OpenSSL context inside)
        assert both.checkup_trust.context._ctx.cert_store_stats()["x509_ca"] == 2
        assert alone.checkup_trust.context._ctx.cert_store_stats()["x509_ca"] == 1
        both.close()
        alone.close()
    finally:
        for srv in servers:
            srv.stop()


# -- bad [server] ca_file values ------------------------------------------------

def test_an_unusable_ca_file_is_one_line_the_report_stays_queued_and_checks_still_work(
        https_server, pki, tmp_path):
    folder = pki["folder"]
    garbage = tmp_path / "notes.txt"
    garbage.write_text("this is not a certificate\n")
    key_only = tmp_path / "key.pem"
    key_only.write_text(Path(pki["server"][1]).read_text())
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
                      "-----END CERTIFICATE-----\n")
    cut = tmp_path / "cut.pem"
    cut.write_text(pki["company"]["pem"].read_text()[:200])
    cases = [
        (tmp_path / "missing.pem", "does not exist"),
        (folder, "is a folder, not a certificate file"),
        (garbage, "is not a PEM certificate file (no -----BEGIN CERTIFICATE----- line)"),
        (key_only, "is not a PEM certificate file"),
        (pki["company"]["der"], "it looks like a DER (binary) certificate: convert it with "
                                f"openssl x509 -inform der -in {pki['company']['der']} -out "
                                "company-ca.pem"),
        (broken, "has a certificate that can't be read (certificate 1 of 1: "),
        (cut, "has a certificate with no -----END CERTIFICATE----- line"),
        ("company-ca.pem", "is not a full path"),
    ]
    # nothing queued (IT trying the setting): the problem alone
    cfg = agent_config(tmp_path, https_server, ca_file=garbage, name="try.toml")
    r = agent(tmp_path, "report", "--now", "--queued-only", config=cfg,
              env_extra={"XDG_STATE_HOME": str(tmp_path / "other-state")})
    assert r.returncode == 3 and one_line(r.stdout).endswith(
        "(no -----BEGIN CERTIFICATE----- line). Ask IT to fix this setting."), r.stdout
    for n, (path, why) in enumerate(cases, 1):
        cfg = agent_config(tmp_path, https_server, ca_file=path, name=f"bad{n}.toml")
        r = report_now(tmp_path, cfg)
        assert r.returncode == 3, (path, r.stdout, r.stderr)
        line = one_line(r.stdout)
        assert line.startswith(f"Not sent to {https_server.url}: [server] ca_file "
                               f"{str(path)!r} "), line
        assert why in line, line
        assert line.endswith(f"Ask IT to fix this setting; {n} report"
                             f"{'s stay' if n > 1 else ' stays'} queued until then."), line
        # the log (the CLI prints warnings on stderr): the same one line, no traceback
        assert one_line(r.stderr).startswith("reports are not sent: [server] ca_file"), r.stderr
        assert why in r.stderr
        # checking the computer does not depend on it
        r = agent(tmp_path, "check", "--replay", FIXTURE, config=cfg)
        assert r.returncode in (0, 1, 2) and "Traceback" not in r.stderr, r.stderr
    assert https_server.count("reports") == 0
    # IT fixes the setting: every report kept meanwhile goes out
    cfg = agent_config(tmp_path, https_server, ca_file=pki["company"]["pem"], name="fixed.toml")
    r = agent(tmp_path, "report", "--now", "--queued-only", config=cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Sent {len(cases)} of {len(cases)} reports" in r.stdout
    assert https_server.count("reports") == len(cases)


def test_checkup_devices_says_an_unusable_ca_file_in_one_line(https_server, pki, tmp_path):
    cfg = agent_config(tmp_path, https_server, ca_file=pki["company"]["pem"])
    assert report_now(tmp_path, cfg).returncode == 0    # enrolled
    bad = agent_config(tmp_path, https_server, ca_file=tmp_path / "gone.pem", name="bad.toml")
    r = agent(tmp_path, "devices", "--no-browser", config=bad)
    assert r.returncode == 3
    assert "Can't open your devices: [server] ca_file" in r.stderr and "does not exist" in r.stderr
    assert "Traceback" not in r.stderr
    r = agent(tmp_path, "devices", "--no-browser", config=cfg)
    assert r.returncode == 0, r.stderr
    assert https_server.url + "/claim/" in r.stdout


def test_the_tray_reporter_keeps_reports_while_ca_file_is_unusable(https_server, pki, tmp_path):
    """In process: the background Sender's flush says the problem, raises nothing, keeps the
    report; with the file fixed the same Sender sends it (the session is made again)."""
    from agent.reporting import Sender
    settings = srvkit.agent_settings(https_server.url, https_server.token())
    missing = tmp_path / "company-ca.pem"
    settings.values["server"]["ca_file"] = str(missing)
    sender = Sender(settings, str(tmp_path / "state"))
    try:
        sender.queue.add(srvkit.with_id(srvkit.report_for(FIXTURE)))
        res = sender.flush(force=True)
        assert res.setup and not res.refused and res.remaining == 1
        assert res.error == f"[server] ca_file {str(missing)!r} does not exist"
        shutil.copyfile(pki["company"]["pem"], missing)
        res = sender.flush(force=True)
        assert res.error is None and res.sent == 1 and res.remaining == 0, res
    finally:
        sender.close()
    assert https_server.count("reports") == 1


def test_the_reason_macos_or_windows_gives_is_named(https_server, pki, tmp_path):
    """truststore raises ssl.SSLCertVerificationError with the OS's own words (no "certificate
    verify failed"); the one line names them. Wrapped as requests and urllib3 do, from a
    real refused connection whose inner error is replaced by such a message."""
    import ssl

    from agent.config import Settings
    from agent.reporting import _certificate_problem
    from agent.tls import new_session
    session = new_session(Settings())
    try:
        with pytest.raises(requests.exceptions.SSLError) as caught:
            session.get(https_server.url + "/healthz", timeout=30)
    finally:
        session.close()
    line = _certificate_problem(caught.value)
    assert "(certificate verify failed: unable to get local issuer certificate); " in line
    err = ssl.SSLCertVerificationError("\u201clocalhost\u201d certificate is not trusted")
    err.verify_message = "\u201clocalhost\u201d certificate is not trusted"
    from urllib3.exceptions import MaxRetryError, SSLError
    wrapped = requests.exceptions.SSLError(MaxRetryError(None, "/healthz", SSLError(err)))
    assert _certificate_problem(wrapped).startswith(
        "this computer does not trust the server's certificate (certificate verify failed: "
        "\u201clocalhost\u201d certificate is not trusted); if your company uses its own")
