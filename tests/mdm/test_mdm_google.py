"""Google Workspace connector: service-account JWT (verified by the stub),
nextPageToken paging with the documented page sizes, compromised status."""
import json

import pytest

from mdmstubs import GoogleStub
from server.mdm import GoogleConnector, MdmConfigError


@pytest.fixture(scope="module")
def rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_file(tmp_path, key, token_uri):
    from cryptography.hazmat.primitives import serialization
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = tmp_path / "sa.json"
    path.write_text(json.dumps({"type": "service_account", "client_email": "sync@proj.iam.gserviceaccount.com",
                                "private_key_id": "k1", "private_key": pem, "token_uri": token_uri}))
    return str(path)


def mobile(n, status="No compromise detected", os="Android 14"):
    return {"kind": "admin#directory#mobiledevice", "resourceId": f"AFiQxQ8{n:04d}",
            "deviceId": f"android-{n}", "serialNumber": f"R5CT{n:05d}", "model": "Pixel 8",
            "os": os, "type": "ANDROID", "status": "APPROVED", "lastSync": "2025-05-31T09:00:00.000Z",
            "email": [f"user{n}@example.com"], "name": [f"User {n}"],
            "wifiMacAddress": f"f8:0f:f9:00:{n // 256:02x}:{n % 256:02x}", "deviceCompromisedStatus": status}


def chromebook(n):
    return {"kind": "admin#directory#chromeosdevice", "deviceId": f"cros-{n}", "serialNumber": f"NXHQ{n:05d}",
            "status": "ACTIVE", "lastSync": "2025-05-20T12:00:00.000Z", "model": "HP Chromebook 14",
            "osVersion": "124.0.6367.225", "macAddress": f"00e04c{n:06x}", "annotatedUser": f"user{n}"}


def test_directory_sync_jwt_paging_and_compromise(tmp_path, rsa_key):
    mobiles = [mobile(n) for n in range(1, 251)]
    mobiles[10] = mobile(11, status="Compromised")
    mobiles[11] = mobile(12, status="")
    # iOS devices report "Undetected": the state cannot be detected there. Unknown, not compromised.
    mobiles[12] = mobile(13, os="iOS 17.4.1", status="Undetected")
    mobiles[13] = mobile(14, status="Something new")
    chromes = [chromebook(n) for n in range(1, 402)]
    chromes.insert(3, None)
    stub = GoogleStub(mobiles, chromes, rsa_key.public_key())
    stub.faults = {2: (429, {"Retry-After": "1"}, {"error": {"code": 429}}),
                   5: (500, {}, {"error": {"code": 500}})}
    sleeps = []
    try:
        cfg = {"service_account_file": key_file(tmp_path, rsa_key, f"{stub.url}/token"),
               "admin_email": "admin@example.com", "customer_id": "my_customer", "directory_url": stub.url}
        conn = GoogleConnector(cfg, environ={}, sleep=sleeps.append)
        recs = list(conn.records())
    finally:
        stub.close()
    assert len(recs) == 250 + 401 and conn.stats.skipped == 1
    assert stub.page_sizes == {"mobile": [100] * 3, "chromeos": [300] * 2}   # faults answered before paging
    claims = stub.claims[0]
    assert claims["iss"] == "sync@proj.iam.gserviceaccount.com" and claims["sub"] == "admin@example.com"
    assert "admin.directory.device.mobile.readonly" in claims["scope"]
    assert "admin.directory.device.chromeos.readonly" in claims["scope"]
    assert claims["exp"] - claims["iat"] <= 3600
    by_id = {r.source_id: r for r in recs}
    assert by_id["AFiQxQ80011"].compromised is True
    assert by_id["AFiQxQ80011"].compromised_detail == "Compromised"
    assert by_id["AFiQxQ80012"].compromised is None
    assert by_id["AFiQxQ80013"].compromised is None and by_id["AFiQxQ80013"].compromised_detail is None
    assert by_id["AFiQxQ80014"].compromised is None
    assert by_id["AFiQxQ80001"].compromised is False and by_id["AFiQxQ80001"].os_version == "14"
    assert by_id["AFiQxQ80013"].platform == "ios" and by_id["AFiQxQ80013"].os_version == "17.4.1"
    cb = by_id["chromeos-cros-1"]
    assert cb.platform == "chromeos" and cb.kind == "chromebook" and cb.serial == "NXHQ00001"
    assert cb.macs == ("00:E0:4C:00:00:01",) and cb.user == "user1"
    assert len(sleeps) == 2


def test_cloud_identity_devices_when_enabled(tmp_path, rsa_key):
    devices = [{"name": "devices/abc1", "deviceType": "MAC_OS", "serialNumber": "C02XK00001",
                "osVersion": "MacOS 14.4.1", "lastSyncTime": "2025-05-31T10:00:00Z",
                "compromisedState": "UNCOMPROMISED", "encryptionState": "ENCRYPTED",
                "wifiMacAddresses": ["3c:22:fb:00:00:01"], "hostname": "mac-1"}]
    stub = GoogleStub([], [], rsa_key.public_key(), devices=devices)
    try:
        cfg = {"service_account_file": key_file(tmp_path, rsa_key, f"{stub.url}/token"),
               "admin_email": "admin@example.com", "directory_url": stub.url,
               "cloud_identity": True, "cloud_identity_url": stub.url}
        recs = list(GoogleConnector(cfg, environ={}).records())
    finally:
        stub.close()
    (rec,) = recs
    assert (rec.platform, rec.os_version, rec.encrypted, rec.compromised, rec.hostname) == (
        "macos", "14.4.1", True, False, "mac-1")
    assert any("customer=customers%2Fmy_customer" in p for _, p in stub.requests)


def test_bad_key_file(tmp_path):
    p = tmp_path / "sa.json"
    p.write_text("{}")
    conn = GoogleConnector({"service_account_file": str(p), "admin_email": "a@b"}, environ={})
    with pytest.raises(MdmConfigError, match="client_email"):
        list(conn.records())
