"""Hardware MAC addresses: read by the agent, sent in `device`, used by reconciliation
to match a laptop whose serial is a placeholder to its MDM record."""
import datetime as dt
import json
from pathlib import Path

import pytest

from agent.pipeline import run_check
from agent.policy import load_policy
from probes.host import LiveHost, RecordedHost, RecordingHost
from probes.serials import hardware_mac

WIN = Path(__file__).parent / "fixtures" / "windows" / "win10-22h2-home-not-encryptable-av-timeout.json"


@pytest.mark.parametrize("raw,want", [
    ("3C:22:FB:12:34:56", "3c:22:fb:12:34:56"),
    ("3C-22-FB-12-34-56", "3c:22:fb:12:34:56"),       # Windows (psutil) spelling
    ("3c22.fb12.3456", "3c:22:fb:12:34:56"),
    ("00:00:00:00:00:00", None),                      # loopback / zero
    ("ff:ff:ff:ff:ff:ff", None),
    ("02:42:ac:11:00:02", None),                      # Docker bridge: locally administered
    ("02:fc:00:00:00:01", None),
    ("da:a1:19:00:00:01", None),                      # randomised Wi-Fi address
    ("01:00:5e:00:00:fb", None),                      # multicast
    ("00:1c:42", None), ("", None), ("garbage-address-x", None),
])
def test_only_hardware_macs_count(raw, want):
    assert hardware_mac(raw) == want


def test_macs_reach_the_report_and_replay():
    data = json.loads(WIN.read_text())
    data["mac_addresses"] = ["3C-22-FB-12-34-56", "02-42-AC-11-00-02", "bogus", 7]
    report = run_check(RecordedHost(data), load_policy())
    assert report["device"]["mac_addresses"] == ["3c:22:fb:12:34:56"]
    del data["mac_addresses"]
    assert run_check(RecordedHost(data), load_policy())["device"]["mac_addresses"] == []


def test_live_macs_are_captured():
    rec = RecordingHost(LiveHost())
    live = rec.mac_addresses()
    assert rec.capture()["mac_addresses"] == live
    assert all(hardware_mac(m) == m for m in live)


def test_reconciliation_matches_a_placeholder_serial_laptop_by_mac():
    pytest.importorskip("sqlalchemy")
    from server.mdm.records import MdmRecord, normalise_macs
    from server.reconcile import agent_device_from_report, reconcile

    data = json.loads(WIN.read_text())
    for cmd in data["commands"]:  # a white-box PC: placeholder serial, no UUID
        script = cmd["argv"][-1]
        if "Win32_BIOS" in script or "Win32_ComputerSystemProduct" in script:
            cmd.update(stdout="To Be Filled By O.E.M.\r\n" if "BIOS" in script else "", returncode=0)
    data["mac_addresses"] = ["3C-22-FB-12-34-56"]
    report = run_check(RecordedHost(data), load_policy())
    assert report["device"]["serial"] is None and report["device"]["hardware_uuid"] is None
    now = dt.datetime.now(dt.timezone.utc)
    agent = agent_device_from_report("dev-1", report, now)
    record = MdmRecord(source="intune", source_id="i-1", serial=None, hardware_uuid=None,
                       macs=normalise_macs(["3C:22:FB:12:34:56"]), platform="windows", last_seen=now)
    kinds = [f["kind"] for f in reconcile([agent], [record], now=now, sources_synced={"intune"})]
    assert "unmanaged" not in kinds and "silent" not in kinds
    # Without the MAC the same laptop is unmanaged, and the MDM record silent.
    data["mac_addresses"] = []
    lonely = agent_device_from_report("dev-1", run_check(RecordedHost(data), load_policy()), now)
    kinds = [f["kind"] for f in reconcile([lonely], [record], now=now, sources_synced={"intune"})]
    assert "unmanaged" in kinds
