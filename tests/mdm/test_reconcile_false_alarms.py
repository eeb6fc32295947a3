"""Reconciliation raises no false alarms on the value shapes the vendors really return.

1. A phone whose MDM cannot tell whether it is jailbroken is unknown, never
   "compromised": Google's ``deviceCompromisedStatus: "Undetected"`` (what iOS
   devices report), Intune's ``jailBroken: "Unknown"``, a Jamf mobile record
   without ``security.jailBreakDetected``.
2. One Mac does not disagree with itself on its OS version: Intune writes macOS
   ``osVersion`` as version and build (``"14.5 (23F79)"``), the laptop reports
   ``14.5`` and its build separately; the build is compared only where both
   sides have one.

Records come from the real connectors over HTTP (the loopback stubs the
connector tests use), agent devices from report bodies as the agent sends them.

Value shapes and where they come from:
- Intune ``managedDevice.osVersion`` for macOS: "version (build)" — the shape
  Intune's device list and Graph show for Macs ("14.5 (23F79)"); for Windows the
  four-part "10.0.22631.3447"; iOS "17.5.1"; Android "14" (Graph managedDevice
  resource, learn.microsoft.com/graph/api/resources/intune-devices-manageddevice).
- Intune ``jailBroken``: a string, "True" / "False" / "Unknown" (same page).
- Google ``deviceCompromisedStatus``: "Compromised", "No compromise detected",
  "Undetected" (Admin SDK Directory API, mobiledevices resource; iOS reports
  Undetected).
- Jamf Pro API ``operatingSystem.version`` "14.5" with ``operatingSystem.build``
  "23F79" (computers-inventory, section OPERATING_SYSTEM); mobile devices
  ``security.jailBreakDetected`` a boolean, absent when not collected.
"""
import datetime as dt

import pytest

from mdmstubs import GoogleStub, IntuneStub, JamfStub
from server.mdm import GoogleConnector, JamfConnector
from server.mdm.records import split_os_version
from server.reconcile import agent_device_from_report, reconcile
from test_mdm_google import key_file, mobile as google_mobile, rsa_key  # noqa: F401 - fixture
from test_mdm_intune import connector as intune_connector, device as intune_device
from test_mdm_jamf import computer as jamf_computer, mobile as jamf_mobile

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
SEEN = "2025-06-01T09:00:00Z"


def intune_records(devices):
    stub = IntuneStub(devices, page_size=50)
    try:
        return list(intune_connector(stub, []).records())
    finally:
        stub.close()


def jamf_records(computers, mobiles):
    stub = JamfStub(computers, mobiles)
    try:
        conn = JamfConnector({"url": stub.url, "client_id": "cid", "client_secret_env": "JAMF_CLIENT_SECRET"},
                             environ={"JAMF_CLIENT_SECRET": "s3cret"}, sleep=lambda s: None)
        return list(conn.records())
    finally:
        stub.close()


def google_records(tmp_path, key, mobiles):
    stub = GoogleStub(mobiles, [], key.public_key())
    try:
        cfg = {"service_account_file": key_file(tmp_path, key, f"{stub.url}/token"),
               "admin_email": "admin@example.com", "customer_id": "my_customer", "directory_url": stub.url}
        return list(GoogleConnector(cfg, environ={}, sleep=lambda s: None).records())
    finally:
        stub.close()


def mac_report(serial, version="14.5", build="23F79"):
    """The device and os_version parts of a real macOS report (see tests/fixtures/macos)."""
    return {"schema": 1, "checked_at": SEEN, "status": "pass",
            "device": {"platform": "darwin", "hostname": "alice-mbp", "serial": serial,
                       "os_name": "macOS", "os_version": version, "os_build": build},
            "checks": [{"id": "os_version", "status": "pass",
                        "observed": {"name": "macOS", "version": version, "build": build}}]}


def windows_report(serial, version="10.0.22631.3447"):
    return {"schema": 1, "checked_at": SEEN, "status": "pass",
            "device": {"platform": "windows", "hostname": "DESKTOP-0001", "serial": serial,
                       "os_name": "Windows 11 Pro", "os_version": version, "os_build": "22631"},
            "checks": [{"id": "os_version", "status": "pass",
                        "observed": {"name": "Windows 11 Pro", "version": version, "build": "22631"}}]}


def kinds(findings, kind):
    return [f for f in findings if f["kind"] == kind]


# --------------------------------------------------------------------------- compromised

def test_google_undetected_ios_is_unknown_not_compromised(tmp_path, rsa_key):  # noqa: F811
    mobiles = [google_mobile(1, status="Undetected", os="iOS 17.5.1"),
               google_mobile(2, status="No compromise detected"),
               google_mobile(3, status="Compromised"),
               google_mobile(4, status="something Google adds later")]
    recs = {r.source_id: r for r in google_records(tmp_path, rsa_key, mobiles)}
    assert [recs[f"AFiQxQ8000{n}"].compromised for n in (1, 2, 3, 4)] == [None, False, True, None]
    found = kinds(reconcile([], list(recs.values()), now=NOW), "compromised")
    assert [f["serial"] for f in found] == ["R5CT00003"]
    assert found[0]["mdm"] == "Compromised"


def test_intune_unknown_jailbroken_is_not_compromised():
    devices = [intune_device(1, operatingSystem="iOS", osVersion="17.5.1", jailBroken="Unknown"),
               intune_device(2, operatingSystem="Android", osVersion="14", jailBroken="False"),
               intune_device(3, operatingSystem="iOS", osVersion="17.5.1", jailBroken="True"),
               intune_device(4, operatingSystem="Windows", jailBroken="Unknown"),
               intune_device(5, operatingSystem="Android", osVersion="13", jailBroken=None)]
    recs = intune_records(devices)
    assert [r.compromised for r in recs] == [None, False, True, None, None]
    found = kinds(reconcile([], recs, now=NOW), "compromised")
    assert [f["serial"] for f in found] == ["PF300003"]


def test_jamf_mobile_without_jailbreak_field_is_not_compromised():
    absent = jamf_mobile(1)
    del absent["security"]["jailBreakDetected"]
    no_security = jamf_mobile(2)
    del no_security["security"]
    words = jamf_mobile(3)
    words["security"]["jailBreakDetected"] = "Unknown"
    jailbroken = jamf_mobile(4, jailbroken=True)
    recs = [r for r in jamf_records([], [absent, no_security, words, jailbroken]) if r.kind == "mobile"]
    assert [r.compromised for r in recs] == [None, None, None, True]
    found = kinds(reconcile([], recs, now=NOW), "compromised")
    assert [f["serial"] for f in found] == ["F0000004"]


# --------------------------------------------------------------------------- OS version shapes

@pytest.mark.parametrize("text, want", [
    ("14.5 (23F79)", ("14.5", "23F79")),          # Intune macOS
    ("13.6.7 (22G720)", ("13.6.7", "22G720")),
    ("15.0.1 (24A348)", ("15.0.1", "24A348")),
    ("10.0.22631.3447", ("10.0.22631.3447", None)),  # Intune Windows
    ("10.0.19045.4046", ("10.0.19045.4046", None)),
    ("17.5.1", ("17.5.1", None)),                  # Intune / Jamf iOS
    ("14", ("14", None)),                          # Intune Android
    ("iOS 17.5.1", ("17.5.1", None)),              # Google mobile "os"
    ("Android 14", ("14", None)),
    ("Android 6.0.1", ("6.0.1", None)),
    ("MacOS 14.4.1", ("14.4.1", None)),            # Google Cloud Identity
    ("124.0.6367.225", ("124.0.6367.225", None)),  # ChromeOS
    ("13.4.1 (c)", ("13.4.1", None)),              # a Rapid Security Response suffix is no build
    ("", (None, None)),
    (None, (None, None)),
    ("Unknown", (None, None)),
    ("x86_64", (None, None)),
])
def test_split_os_version_vendor_shapes(text, want):
    assert split_os_version(text) == want


def test_intune_mac_with_build_does_not_disagree_with_itself():
    recs = intune_records([
        intune_device(1, operatingSystem="macOS", osVersion="14.5 (23F79)", serialNumber="C02XK00001"),
        intune_device(2, operatingSystem="macOS", osVersion="14.5 (23F79)", serialNumber="C02XK00002"),
        intune_device(3, operatingSystem="macOS", osVersion="14.4.1 (23E224)", serialNumber="C02XK00003"),
        intune_device(4, operatingSystem="Windows", osVersion="10.0.22631.3447", serialNumber="PF300004"),
    ])
    assert (recs[0].os_version, recs[0].os_build) == ("14.5", "23F79")
    agents = [agent_device_from_report("d1", mac_report("C02XK00001")),            # same
              agent_device_from_report("d2", mac_report("C02XK00002", build="23F80")),  # same version, other build
              agent_device_from_report("d3", mac_report("C02XK00003")),            # really newer
              agent_device_from_report("d4", windows_report("PF300004"))]          # same
    found = {f["serial"]: f for f in kinds(reconcile(agents, recs, now=NOW), "disagreement")
             if f["fact"] == "os_version"}
    assert sorted(found) == ["C02XK00002", "C02XK00003"]
    assert (found["C02XK00002"]["agent"], found["C02XK00002"]["mdm"]) == ("14.5 (23F80)", "14.5 (23F79)")
    assert (found["C02XK00003"]["agent"], found["C02XK00003"]["mdm"]) == ("14.5", "14.4.1")
    assert "Intune says the OS is version 14.4.1" in found["C02XK00003"]["detail"]


def test_jamf_build_compared_only_where_both_have_one():
    same = jamf_computer(1, operatingSystem={"name": "macOS", "version": "14.5", "build": "23F79"})
    other_build = jamf_computer(2, operatingSystem={"name": "macOS", "version": "14.5", "build": "23F80"})
    no_build = jamf_computer(3, operatingSystem={"name": "macOS", "version": "14.5.0"})
    recs = [r for r in jamf_records([same, other_build, no_build], []) if r.kind == "computer"]
    serials = [r.serial for r in recs]
    agents = [agent_device_from_report(f"d{n}", mac_report(serials[n - 1])) for n in (1, 2, 3)]
    # An agent without a build (an older report) never disagrees on the build.
    agents.append(agent_device_from_report("d4", mac_report(serials[1], build=None)))
    found = [f for f in kinds(reconcile(agents[:3], recs, now=NOW), "disagreement") if f["fact"] == "os_version"]
    assert [(f["serial"], f["agent"], f["mdm"]) for f in found] == [(serials[1], "14.5 (23F79)", "14.5 (23F80)")]
    found = [f for f in kinds(reconcile([agents[3]], recs[1:2], now=NOW), "disagreement")
             if f["fact"] == "os_version"]
    assert found == []
