"""The macOS probes on the complete captures in tests/fixtures/macos: observed fields and device
identity must match each fixture's `expect` (checks.<id>.observed.* and device.serial/uuid/model)."""
import glob
import json
import os

import pytest

import probes.darwin as darwin
from darwin_testlib import FIXTURES
from probes.host import RecordedHost

FILES = sorted(glob.glob(os.path.join(FIXTURES, "*.json")))
IDENTITY = ("serial", "hardware_uuid", "model")


def _load(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def test_fixtures_present():
    assert len(FILES) >= 5


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_observed_matches_expect(path):
    capture = _load(path)
    host = RecordedHost(capture, source=path)
    facts = {check: probe(host) for check, probe in darwin.CHECKS.items()}
    checked = 0
    for key, want in capture["expect"].items():
        parts = key.split(".")
        if parts[0] != "checks" or len(parts) < 4 or parts[2] != "observed" or parts[1] not in facts:
            continue
        value = facts[parts[1]].observed
        for part in parts[3:]:
            value = value.get(part) if isinstance(value, dict) else None
        assert value == want, f"{key}: got {value!r}, expected {want!r}"
        checked += 1
    assert checked


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_unknown_checks_have_no_value_and_a_reason(path):
    capture = _load(path)
    facts = {check: probe(RecordedHost(capture)) for check, probe in darwin.CHECKS.items()}
    for key, want in capture["expect"].items():
        parts = key.split(".")
        if parts[0] == "checks" and parts[-1] == "status" and want == "unknown" and parts[1] in facts:
            assert facts[parts[1]].unread, f"{parts[1]} should say why it is unknown"


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_device_identity_and_os(path):
    capture = _load(path)
    host = RecordedHost(capture)
    ident = darwin.identity(host)
    os_fact = darwin.CHECKS["os_version"](host)
    device = {"os_name": os_fact.observed.get("name"), "os_version": os_fact.observed.get("version"),
              "os_build": os_fact.observed.get("build"), **ident}
    for key, want in capture["expect"].items():
        parts = key.split(".")
        if parts[0] == "device" and parts[1] in device:
            assert device[parts[1]] == want, f"{key}: got {device[parts[1]]!r}, expected {want!r}"
