"""Run the Linux probes on every shared capture fixture and compare with its `expect` block
(observed fields, device identity fields the probes produce, and skip / unknown hints)."""
from __future__ import annotations

import glob
import json
import os

import pytest

from agent.pipeline import probe
from probes.host import RecordedHost

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = sorted(glob.glob(os.path.join(ROOT, "fixtures", "linux", "*.json")))
DEVICE = {"os_name": ("os_version", "name"), "os_version": ("os_version", "version"),
          "os_build": ("os_version", "build")}


@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_fixture_observed(path):
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    host = RecordedHost(data, source=path)
    facts, ident = probe(host)  # every declared check: gatekeeper is "only on macOS" here
    checked = 0
    for key, want in data["expect"].items():
        parts = key.split(".")
        if parts[0] == "device":
            field = parts[1]
            if field in ident:
                assert ident[field] == want, key
            elif field in DEVICE:
                check, name = DEVICE[field]
                assert facts[check].observed.get(name) == want, key
            elif field == "hostname":
                assert host.hostname() == want
            else:
                continue
            checked += 1
        elif parts[0] == "checks" and parts[2] == "observed" and parts[1] != "security_software":
            fact = facts[parts[1]]
            assert fact.observed.get(parts[3]) == want, (key, fact)
            checked += 1
        elif parts[0] == "checks" and parts[2] == "status":
            fact = facts[parts[1]]
            if want == "skip" and parts[1] not in ("os_version", "security_software"):
                assert fact.skip, key
            if want == "unknown":
                assert fact.unread and not fact.observed, (key, fact)
            if want in ("pass", "fail", "nudge") and parts[1] != "security_software":
                assert not fact.skip and fact.observed, (key, fact)
    assert checked >= 8
