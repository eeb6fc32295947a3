"""The people fleet of the four MDM stubs, synced over real HTTP into the server's
database (SQLite and PostgreSQL): what a person's page needs survives the store, and the
IT pages still answer with phones, tablets and Chromebooks in the inventory."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mdm"))

from mdmstubs import people_stubs  # noqa: E402
from test_server_inputs import login  # noqa: E402

from server.mdm.records import PERSON_FACTS  # noqa: E402
from server.mdm.store import load_records, sync_all  # noqa: E402


@pytest.fixture(scope="module")
def rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def configure(cfg, stubs, key, tmp_path, domain):
    from cryptography.hazmat.primitives import serialization
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    sa = tmp_path / "sa.json"
    sa.write_text(json.dumps({"type": "service_account", "client_email": "sync@p.iam.gserviceaccount.com",
                              "private_key": pem, "token_uri": f"{stubs['google'].url}/token"}))
    cfg.values.update({
        "people": {"ivanti_email_domain": domain},
        "mdm.jamf": {"url": stubs["jamf"].url, "client_id": "cid", "client_secret_env": "JAMF_S"},
        "mdm.intune": {"tenant_id": stubs["intune"].tenant, "client_id": "app",
                       "client_secret_env": "INTUNE_S", "login_url": stubs["intune"].url,
                       "graph_url": stubs["intune"].url},
        "mdm.google": {"service_account_file": str(sa), "admin_email": "admin@example.com",
                       "customer_id": "my_customer", "directory_url": stubs["google"].url},
        "mdm.ivanti": {"url": stubs["ivanti"].url, "username": "epm\\checkup", "password_env": "IVANTI_S",
                       "query": "Checkup inventory"},
    })


def test_people_fleet_synced_into_the_database_and_shown(live_server, rsa_key, tmp_path):
    srv = live_server
    stubs = people_stubs(rsa_key.public_key())
    try:
        configure(srv.cfg, stubs, rsa_key, tmp_path, "Example.com")
        env = {"JAMF_S": "s3cret", "INTUNE_S": "pw", "IVANTI_S": "pw"}
        results = sync_all(srv.engine, srv.cfg, environ=env, sleep=lambda s: None)
    finally:
        for s in stubs.values():
            s.close()
    assert [(r.source, r.status) for r in results] == [
        ("jamf", "ok"), ("intune", "ok"), ("google", "ok"), ("ivanti", "ok")], [r.line() for r in results]
    recs = load_records(srv.engine)
    by = {(r.source, r.source_id): r for r in recs}
    assert len(recs) == 9 + 12 + 9 + 5

    alice = sorted((r.source, r.device_kind, r.platform) for r in recs if r.user_email == "alice@example.com")
    assert alice == [
        ("google", "chromebook", "chromeos"), ("google", "phone", "android"), ("google", "phone", "ios"),
        ("intune", "laptop", "windows"), ("intune", "phone", "android"), ("intune", "phone", "ios"),
        ("intune", "tablet", "ipados"), ("ivanti", "laptop", "windows"),
        ("jamf", "laptop", "macos"), ("jamf", "phone", "ios"), ("jamf", "tablet", "ipados")]
    phone = by[("jamf", "mobile-201")]
    assert (phone.name, phone.passcode, phone.encrypted, phone.compromised, phone.os_version) == (
        "Alice's iPhone", True, True, False, "26.1")
    assert by[("ivanti", "{7C2B0002-0000-0000-0000-000000000000}")].user_email == "bob@example.com"
    assert by[("jamf", "102")].user_unmapped == "Jamf user 'bob' is not an email"
    cb = by[("google", "chromeos-cros-ppl-3")]
    assert cb.user_email is None and cb.user_unmapped.endswith("is not an email")
    for r in recs:                            # every unknown fact still has its reason
        for fact in PERSON_FACTS:
            assert (getattr(r, fact) is None) == bool(r.unknown.get(fact)), (r.source, r.source_id, fact)

    it = login(srv)
    for path in ("/reconcile", "/reconcile.json", "/reconcile.csv", "/", "/devices"):
        page = it.get(srv.url + path, timeout=30)
        assert page.status_code == 200, (path, page.status_code, page.text[:300])
    findings = it.get(srv.url + "/reconcile.json", timeout=30).json()["findings"]
    compromised = sorted((f["sources"][0], f["serial"]) for f in findings if f["kind"] == "compromised")
    assert compromised == [("google", "R5CPPL0003"), ("intune", "INTPPL0005"), ("jamf", "F2LPPL0003")]
    silent = {f["serial"] for f in findings if f["kind"] == "silent"}
    assert "C02PPL0001" in silent and "INTPPL0001" in silent         # computers without Checkup
    assert not silent & {"F2LPPL0001", "INTPPL0002", "R5CPPL0001", "NXPPL00001"}   # phones, Chromebooks
