"""Jamf Pro connector through a loopback stub: paging, token expiry mid-sync,
429 + Retry-After, a 500 in the middle, malformed records, v1 fallback."""
import pytest

from mdmstubs import JamfStub
from server.mdm import JamfConnector, MdmConfigError, MdmError


def computer(n, **over):
    rec = {
        "id": str(n), "udid": f"{n:08X}-AAAA-BBBB-CCCC-{n:012X}",
        "general": {"name": f"mac-{n}", "reportDate": "2025-05-30T10:00:00.123Z",
                    "lastContactTime": "2025-05-31T10:00:00Z", "platform": "Mac"},
        "hardware": {"serialNumber": f" c02xk{n:05d} ", "macAddress": f"3C:22:FB:00:00:{n % 256:02X}",
                     "altMacAddress": "", "model": "MacBook Pro (14-inch, 2023)"},
        "operatingSystem": {"name": "macOS", "version": "14.4.1", "build": "23E224"},
        "diskEncryption": {"fileVault2Enabled": True,
                           "bootPartitionEncryptionDetails": {"partitionName": "Macintosh HD",
                                                              "partitionFileVault2State": "ENCRYPTED"}},
        "security": {"sipStatus": "ENABLED", "gatekeeperStatus": "APP_STORE_AND_IDENTIFIED_DEVELOPERS",
                     "firewallEnabled": True},
        "userAndLocation": {"username": f"user{n}", "email": f"user{n}@example.com"},
    }
    rec.update(over)
    return rec


def mobile(n, jailbroken=False):
    return {"mobileDeviceId": str(n), "deviceType": "iOS",
            "general": {"udid": f"0000{n:04d}-0000000000000000", "displayName": f"iPhone {n}",
                        "osVersion": "17.4", "lastInventoryUpdateDate": "2025-05-29T08:00:00Z"},
            "hardware": {"serialNumber": f"F{n:07d}", "model": "iPhone 15", "wifiMacAddress": "BC:D0:74:11:22:33"},
            "security": {"jailBreakDetected": jailbroken},
            "userAndLocation": {"username": f"user{n}"}}


@pytest.fixture
def env():
    return {"JAMF_CLIENT_SECRET": "s3cret"}


def connector(stub, env, sleeps, **cfg):
    config = {"url": stub.url, "client_id": "cid", "client_secret_env": "JAMF_CLIENT_SECRET",
              "page_size": 3, "mobile_page_size": 2, **cfg}
    return JamfConnector(config, environ=env, sleep=sleeps.append)


def test_full_sync_with_expiry_throttling_and_a_500(env):
    comps = [computer(n) for n in range(1, 9)]
    comps.insert(4, "not an object")
    comps.insert(6, {"general": {"name": "no id"}})
    stub = JamfStub(comps, [mobile(1), mobile(2, jailbroken=True), mobile(3)], token_uses=2)
    stub.faults = {2: (429, {"Retry-After": "3"}, {"httpStatus": 429}),
                   4: (500, {}, {"httpStatus": 500})}
    sleeps = []
    try:
        conn = connector(stub, env, sleeps)
        recs = list(conn.records())
    finally:
        stub.close()
    comps_out = [r for r in recs if not r.source_id.startswith("mobile-")]
    assert [r.source_id for r in comps_out] == [str(n) for n in range(1, 9)]
    r1 = comps_out[0]
    assert r1.serial == "C02XK00001" and r1.hostname == "mac-1" and r1.platform == "macos"
    assert r1.hardware_uuid == "00000001-AAAA-BBBB-CCCC-000000000001"
    assert r1.encrypted is True and r1.sip is True and r1.gatekeeper is True and r1.firewall is True
    assert r1.os_version == "14.4.1" and r1.user == "user1"
    assert r1.last_seen.isoformat() == "2025-05-30T10:00:00.123000+00:00"   # reportDate, not lastContact
    assert r1.macs == ("3C:22:FB:00:00:01",)
    mobiles = [r for r in recs if r.source_id.startswith("mobile-")]
    assert [m.compromised for m in mobiles] == [False, True, False]
    assert mobiles[0].platform == "ios" and mobiles[0].kind == "mobile"
    assert conn.stats.skipped == 2
    assert 3.0 in sleeps                       # Retry-After honoured
    assert len(sleeps) == 2                    # and one backoff for the 500
    assert stub.tokens.issued >= 4             # token renewed mid-sync after server-side expiry
    sections = [p for m, p in stub.requests if "computers-inventory" in p][0]
    for s in ("GENERAL", "HARDWARE", "OPERATING_SYSTEM", "DISK_ENCRYPTION", "SECURITY", "USER_AND_LOCATION"):
        assert f"section={s}" in sections
    assert "page-size=3" in sections and "sort=id%3Aasc" in sections


def test_streams_page_by_page(env):
    stub = JamfStub([computer(n) for n in range(1, 10)], [])
    try:
        gen = connector(stub, env, []).records()
        next(gen)
        pages = [p for m, p in stub.requests if "computers-inventory" in p]
        assert len(pages) == 1   # one page in memory, not the inventory
        gen.close()
    finally:
        stub.close()


def test_v1_fallback_and_mobile_permission_missing(env):
    stub = JamfStub([computer(1)], [mobile(1)])
    stub.v3 = False
    stub.mobile_status = 403
    try:
        conn = connector(stub, env, [])
        recs = list(conn.records())
    finally:
        stub.close()
    assert [r.source_id for r in recs] == ["1"]
    assert any("/api/v1/computers-inventory" in p for _, p in stub.requests)
    assert "mobile devices skipped" in conn.stats.summary()


def test_transitional_and_placeholder_values(env):
    odd = computer(1, hardware={"serialNumber": "Not Specified", "macAddress": "02:00:00:00:00:01"},
                   diskEncryption={"bootPartitionEncryptionDetails": {"partitionFileVault2State": "ENCRYPTING"}},
                   security={"sipStatus": "NOT_COLLECTED", "gatekeeperStatus": "DISABLED"})
    stub = JamfStub([odd], [])
    try:
        (rec,) = list(connector(stub, env, []).records())
    finally:
        stub.close()
    assert rec.serial is None and rec.macs == ()       # placeholder serial, locally administered MAC
    assert rec.encrypted is None and rec.encryption_state == "ENCRYPTING"
    assert rec.sip is None and rec.gatekeeper is False and rec.firewall is None


def test_wrong_secret_is_a_clear_error_without_the_secret(env):
    stub = JamfStub([computer(1)], [])
    try:
        conn = connector(stub, {"JAMF_CLIENT_SECRET": "wrong-secret-value"}, [])
        with pytest.raises(MdmError) as exc:
            list(conn.records())
    finally:
        stub.close()
    assert "refused the credentials" in str(exc.value)
    assert "wrong-secret-value" not in str(exc.value)


def test_missing_secret_and_plain_http():
    conn = JamfConnector({"url": "https://x.jamfcloud.com", "client_id": "c",
                          "client_secret_env": "JAMF_CLIENT_SECRET"}, environ={})
    with pytest.raises(MdmConfigError, match="JAMF_CLIENT_SECRET"):
        list(conn.records())
    conn = JamfConnector({"url": "http://jamf.example.com", "client_id": "c",
                          "client_secret_env": "S"}, environ={"S": "x"})
    with pytest.raises(MdmConfigError, match="https"):
        list(conn.records())
    assert not JamfConnector.is_configured({"url": "https://x", "client_id": ""})
