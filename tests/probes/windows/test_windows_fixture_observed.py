"""The Windows probes on every tests/fixtures/windows capture, against its `expect` entries
(checks.<id>.observed.* and the device fields the probes provide)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from probes.host import RecordedHost
from probes.windows import CHECKS, identity

FIXTURES = sorted((Path(__file__).parents[2] / "fixtures" / "windows").glob("*.json"))
MISSING = object()


def resolve(tree, dotted: str):
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_observed(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    host = RecordedHost(data, source=str(path))
    facts = {check: probe(host) for check, probe in CHECKS.items()}
    checks = {check: {"observed": fact.observed} for check, fact in facts.items()}
    os_fact = facts["os_version"].observed
    device = {**identity(host), "os_name": os_fact.get("name"),
              "os_version": os_fact.get("version"), "os_build": os_fact.get("build")}
    compared = 0
    for key, expected in data["expect"].items():
        if key.startswith("checks.") and ".observed." in key:
            check = key.split(".")[1]
            if check not in CHECKS:
                continue
            got = resolve(checks, key[len("checks."):])
        elif key.startswith("device.") and key.split(".")[1] in device:
            got = device[key.split(".")[1]]
        else:
            continue
        compared += 1
        if expected is None:
            assert got in (None, MISSING), key
        else:
            assert got == expected, key
    assert compared >= 10


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_unknown_status_means_no_observation(path):
    """Where a fixture expects `unknown`, the probe must leave the deciding field unread."""
    data = json.loads(path.read_text(encoding="utf-8"))
    host = RecordedHost(data, source=str(path))
    for key, expected in data["expect"].items():
        if key.endswith(".status") and expected == "unknown":
            check = key.split(".")[1]
            fact = CHECKS[check](host)
            assert fact.unread, check
