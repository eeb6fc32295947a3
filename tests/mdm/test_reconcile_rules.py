"""Reconciliation on crafted fleets: every finding kind and the identifier traps."""
import datetime as dt
import io
import json

from server.mdm.records import MdmRecord, normalise_mac, normalise_serial, normalise_uuid, swap_uuid, uuid_key
from server.reconcile import AgentDevice, agent_device_from_report, reconcile, report, write_csv

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def agent(dev_id, serial=None, uuid=None, **kw):
    kw.setdefault("platform", "darwin")
    kw.setdefault("last_seen", NOW - H)
    return AgentDevice.create(dev_id, serial=serial, hardware_uuid=uuid, **kw)


def rec(source, sid, serial=None, uuid=None, **kw):
    kw.setdefault("platform", "macos")
    kw.setdefault("last_seen", NOW - 3 * H)
    return MdmRecord(source=source, source_id=sid, serial=normalise_serial(serial),
                     hardware_uuid=normalise_uuid(uuid), **kw)


def kinds(findings):
    return [(f["kind"], f["serial"], f.get("fact")) for f in findings]


def test_identifier_normalisation():
    assert normalise_serial("  c02xk1jhjg5h ") == "C02XK1JHJG5H"
    for p in ("To Be Filled By O.E.M.", "Default string", "System Serial Number", "Not Specified",
              "None", "0", "123456789", "", "   ", None, "0000000"):
        assert normalise_serial(p) is None, p
    u = "12345678-9abc-def0-1234-56789abcdef0"
    assert normalise_uuid(u) == u.upper()
    assert swap_uuid(u.upper()) == "78563412-BC9A-F0DE-1234-56789ABCDEF0"
    assert uuid_key(u.upper()) == uuid_key(swap_uuid(u.upper()))
    assert normalise_uuid("00000000-0000-0000-0000-000000000000") is None
    assert normalise_mac("3c-22-fb-aa-bb-cc") == "3C:22:FB:AA:BB:CC"
    for bad in ("02:11:22:33:44:55", "01:00:5E:00:00:01", "FF:FF:FF:FF:FF:FF", "00:00:00:00:00:00", "zz"):
        assert normalise_mac(bad) is None, bad


def test_every_kind_and_the_traps():
    u1 = "AAAAAAAA-BBBB-CCCC-DDDD-000000000001"
    agents = [
        # matched by serial; FileVault off while Jamf says on (agent newer)
        agent("d1", "C02AAA0001", u1, hostname="alice-mbp-renamed", disk_encryption="off",
              firewall=True, system_integrity=True, gatekeeper=True, os_version="14.4.1"),
        # placeholder serial; matched by UUID in the other byte order
        agent("d2", "To Be Filled By O.E.M.", "11223344-5566-7788-9900-AABBCCDDEEFF", platform="windows",
              hostname="pc-2", disk_encryption="on", os_version="10.0.22631.3447"),
        # swapped board: serial agrees, UUID conflicts -> not merged -> unmanaged
        agent("d3", "C02AAA0003", "AAAAAAAA-BBBB-CCCC-DDDD-000000000003", hostname="bob-mbp"),
        # reports, in no MDM
        agent("d4", "C02AAA0004", hostname="carol-mbp"),
        # too old to count as unmanaged
        agent("d5", "C02AAA0005", last_seen=NOW - 60 * D),
        # matched but its last report is stale -> the Jamf record is silent
        agent("d6", "C02AAA0006", last_seen=NOW - 10 * D, hostname="dave-mbp"),
        # unknown agent fact never disagrees; equal versions numerically
        agent("d7", "C02AAA0007", disk_encryption=None, os_version="14.0", hostname="erin-mbp"),
    ]
    records = [
        rec("jamf", "1", "c02aaa0001 ", u1, hostname="alice-mbp", encrypted=True, firewall=True, sip=True,
            gatekeeper=True, os_version="14.4.1"),
        rec("intune", "i1", "C02AAA0001", None, hostname="alice-mbp", encrypted=True, last_seen=NOW - 30 * H),
        rec("intune", "i2", "Default string", "44332211-6655-8877-9900-AABBCCDDEEFF", platform="windows",
            hostname="PC-2", encrypted=True, os_version="10.0.22631.3296"),
        rec("jamf", "3", "C02AAA0003", "AAAAAAAA-BBBB-CCCC-DDDD-0000000000FF"),
        rec("jamf", "6", "C02AAA0006", hostname="dave-mbp"),
        rec("jamf", "7", "C02AAA0007", encrypted=True, os_version="14", hostname="erin-mbp"),
        # never reported at all; and a duplicate of it
        rec("jamf", "8", "C02AAA0008", hostname="frank-mbp", last_seen=NOW - 2 * D),
        rec("jamf", "8b", "C02AAA0008", hostname="frank-mbp", last_seen=NOW - 300 * D),
        # the same Mac in Intune too is not a duplicate
        rec("intune", "i8", "C02AAA0008", hostname="frank-mbp"),
        # phones: never silent; one compromised
        rec("google", "g1", "R5CT0001", platform="android", compromised=True,
            compromised_detail="Compromise detected", user="gina@example.com", model="Pixel 8"),
        rec("jamf", "mobile-9", "F0000009", platform="ios", compromised=False),
    ]
    findings = reconcile(agents, records, now=NOW, silent_after_days=7)
    got = kinds(findings)
    assert got == [
        ("compromised", "R5CT0001", None),
        ("disagreement", "C02AAA0001", "disk_encryption"),   # vs jamf
        ("disagreement", "C02AAA0001", "disk_encryption"),   # vs intune
        ("disagreement", None, "os_version"),                # d2 vs intune, matched via swapped UUID
        ("unmanaged", "C02AAA0003", None),
        ("unmanaged", "C02AAA0004", None),
        ("silent", "C02AAA0003", None),
        ("silent", "C02AAA0006", None),
        ("silent", "C02AAA0008", None),
        ("duplicate", "C02AAA0008", None),
    ]
    by = {(f["kind"], f["serial"], tuple(f["sources"])): f for f in findings}
    enc = by[("disagreement", "C02AAA0001", ("agent", "jamf"))]
    assert enc["agent"] == "off" and enc["mdm"] == "encrypted" and enc["newer"] == "agent"
    assert enc["hostname"] == "alice-mbp-renamed" and enc["device_id"] == "d1"
    assert enc["detail"] == "Jamf says FileVault is on; the laptop reported it off 2 hours later."
    enc2 = by[("disagreement", "C02AAA0001", ("agent", "intune"))]
    assert "Intune says FileVault is on" in enc2["detail"] and "29 hours later" in enc2["detail"]
    osv = by[("disagreement", None, ("agent", "intune"))]
    assert osv["agent"] == "10.0.22631.3447" and osv["mdm"] == "10.0.22631.3296"
    swapped = by[("unmanaged", "C02AAA0003", ("agent",))]
    assert "same serial but a different hardware UUID" in swapped["detail"]
    silent8 = by[("silent", "C02AAA0008", ("intune", "jamf"))]
    assert "never reported" in silent8["detail"] and silent8["mdm_ids"] == ["intune:i8", "jamf:8", "jamf:8b"]
    silent6 = by[("silent", "C02AAA0006", ("jamf",))]
    assert "last Checkup report was 10 days ago" in silent6["detail"] and silent6["device_id"] == "d6"
    dup = by[("duplicate", "C02AAA0008", ("jamf",))]
    assert "2 records" in dup["detail"] and dup["mdm_ids"] == ["jamf:8", "jamf:8b"]
    comp = by[("compromised", "R5CT0001", ("google",))]
    assert "Pixel 8" in comp["detail"] and "gina@example.com" in comp["detail"]
    # deterministic: same input, same output, in any input order
    again = reconcile(list(reversed(agents)), list(reversed(records)), now=NOW)
    assert json.dumps(again) == json.dumps(findings)


def test_both_identifiers_conflict_rule_and_mac_fallback():
    a = agent("d1", "SER1", "AAAAAAAA-0000-0000-0000-000000000001")
    r = rec("jamf", "1", "SER2", "AAAAAAAA-0000-0000-0000-000000000001")   # UUID agrees, serial conflicts
    f = reconcile([a], [r], now=NOW)
    assert sorted(x["kind"] for x in f) == ["silent", "unmanaged"]
    # MAC only when serial/UUID found nothing; a MAC shared by two machines joins nothing
    b = agent("d2", None, None, macs=["3C:22:FB:00:00:01"])
    c = agent("d3", None, None, macs=["A4:B1:C1:00:00:09"])
    r2 = rec("intune", "i", None, None, macs=("3C:22:FB:00:00:01",), encrypted=False)
    dock1 = rec("jamf", "j1", "SERA", None, macs=("A4:B1:C1:00:00:09",))
    dock2 = rec("jamf", "j2", "SERB", None, macs=("A4:B1:C1:00:00:09",))
    f = reconcile([b, c], [r2, dock1, dock2], now=NOW)
    assert ("unmanaged", None, None) in kinds(f)                       # d3: ambiguous dock MAC
    assert [x["device_id"] for x in f if x["kind"] == "unmanaged"] == ["d3"]
    assert not [x for x in f if x["kind"] == "silent" and x["mdm_ids"] == ["intune:i"]]


def test_no_mdm_no_unmanaged_and_report_shapes():
    assert reconcile([agent("d1", "S1")], [], now=NOW) == []
    f = reconcile([agent("d1", "S1")], [], now=NOW, sources_synced=["jamf"])
    assert kinds(f) == [("unmanaged", "S1", None)]
    out = report(f, now=NOW)
    assert out["generated_at"] == "2025-06-01T12:00:00Z" and out["findings"][0]["sources"] == ["agent"]
    buf = io.StringIO()
    write_csv(f, buf)
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("kind,serial,hostname,sources,fact,agent,mdm,newer,detail")
    assert lines[1].startswith("unmanaged,S1,,agent,")


def test_agent_device_from_report_unknown_facts():
    body = {"checked_at": "2025-06-01T11:00:00Z",
            "device": {"platform": "darwin", "hostname": "alice-mbp", "serial": "c02xk1jhjg5h",
                       "hardware_uuid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "os_version": "14.4.1"},
            "checks": [{"id": "disk_encryption", "status": "unknown", "observed": {"state": None}},
                       {"id": "firewall", "status": "fail", "observed": {"enabled": False}},
                       {"id": "system_integrity", "status": "pass", "observed": {"sip": True}},
                       {"id": "gatekeeper", "status": "pass", "observed": {"enabled": True}},
                       {"id": "os_version", "status": "pass", "observed": {"version": "14.4.1"}}]}
    a = agent_device_from_report("d1", body, received_at="2025-06-01T10:30:00Z")
    assert a.serial == "C02XK1JHJG5H" and a.platform == "macos"
    assert a.disk_encryption is None and a.firewall is False and a.system_integrity is True
    assert a.last_seen == dt.datetime(2025, 6, 1, 10, 30, tzinfo=dt.timezone.utc)   # capped at receipt
    f = reconcile([a], [rec("jamf", "1", "C02XK1JHJG5H", encrypted=False, firewall=True,
                            last_seen=NOW - 5 * D)], now=NOW)
    assert kinds(f) == [("disagreement", "C02XK1JHJG5H", "firewall")]
    assert f[0]["detail"] == "Jamf says the firewall is on; the laptop reported it off 5 days later."
