"""Intune (Microsoft Graph) connector through a loopback stub."""
import pytest

from mdmstubs import IntuneStub
from server.mdm import IntuneConnector, MdmError


def device(n, **over):
    d = {"id": f"6f0c{n:04d}-0000-4000-8000-00000000{n:04d}", "deviceName": f"DESKTOP-{n:04d}",
         "operatingSystem": "Windows", "osVersion": "10.0.22631.3447", "serialNumber": f"PF3{n:05d}",
         "isEncrypted": True, "jailBroken": "Unknown", "lastSyncDateTime": "2025-05-31T07:45:10.1234567Z",
         "userPrincipalName": f"user{n}@contoso.com", "wiFiMacAddress": f"A4B1C1{n:06X}",
         "ethernetMacAddress": None, "azureADDeviceId": "x", "model": "Latitude 7440",
         "managedDeviceOwnerType": "company", "complianceState": "compliant"}
    d.update(over)
    return d


def connector(stub, sleeps):
    cfg = {"tenant_id": stub.tenant, "client_id": "app-id", "client_secret_env": "INTUNE_CLIENT_SECRET",
           "login_url": stub.url, "graph_url": stub.url}
    return IntuneConnector(cfg, environ={"INTUNE_CLIENT_SECRET": "pw"}, sleep=sleeps.append)


def test_nextlink_paging_throttling_expiry_and_malformed():
    devs = [device(n) for n in range(1, 9)]
    devs[2] = device(3, operatingSystem="iOS", osVersion="17.4.1", jailBroken="True", serialNumber="",
                     isEncrypted=False)
    devs.insert(5, ["not", "an", "object"])
    devs.insert(6, {"deviceName": "no id"})
    devs.append(device(9, operatingSystem="macOS", osVersion="14.4.1", serialNumber="To Be Filled By O.E.M.",
                       lastSyncDateTime="0001-01-01T00:00:00Z"))
    stub = IntuneStub(devs, page_size=3, token_uses=2)
    stub.faults = {2: (429, {"Retry-After": "7"}, {"error": {"code": "TooManyRequests"}}),
                   3: (503, {"Retry-After": "2"}, {"error": {"code": "ServiceUnavailable"}}),
                   5: (500, {}, {"error": {"code": "InternalServerError"}})}
    sleeps = []
    try:
        conn = connector(stub, sleeps)
        recs = list(conn.records())
    finally:
        stub.close()
    assert len(recs) == 9 and conn.stats.skipped == 2
    assert conn.stats.pages == 4
    assert sleeps[:2] == [7.0, 2.0] and len(sleeps) == 3
    assert stub.tokens.issued >= 3
    assert stub.token_forms[0]["scope"] == f"{stub.url}/.default"
    r = recs[0]
    assert (r.serial, r.platform, r.os_version, r.encrypted, r.compromised) == (
        "PF300001", "windows", "10.0.22631.3447", True, None)
    assert r.macs == ("A4:B1:C1:00:00:01",) and r.user == "user1@contoso.com"
    assert r.last_seen.isoformat() == "2025-05-31T07:45:10.123456+00:00"
    phone = recs[2]
    assert phone.compromised is True and phone.kind == "mobile" and phone.serial is None
    mac = recs[-1]
    assert mac.platform == "macos" and mac.serial is None and mac.last_seen is None


def test_nextlink_to_another_host_is_refused():
    stub = IntuneStub([device(1), device(2)], page_size=1)
    stub.url_for_next = None
    orig = stub.route

    def route(method, path, query, headers, body):
        status, h, b = orig(method, path, query, headers, body)
        if isinstance(b, dict) and "@odata.nextLink" in b:
            b["@odata.nextLink"] = "https://evil.example.net/steal"
        return status, h, b
    stub.route = route
    try:
        with pytest.raises(MdmError, match="nextLink"):
            list(connector(stub, []).records())
    finally:
        stub.close()


def test_persistent_throttling_gives_up_with_a_clear_error():
    stub = IntuneStub([device(1)])
    stub.faults = {n: (429, {"Retry-After": "1"}, {}) for n in range(1, 20)}
    sleeps = []
    try:
        with pytest.raises(MdmError, match="throttled"):
            list(connector(stub, sleeps).records())
    finally:
        stub.close()
    assert sleeps == [1.0] * 5
