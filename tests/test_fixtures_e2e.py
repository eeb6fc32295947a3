"""Every machine capture in tests/fixtures meets every `expect` entry, through the
real replay path: `checkup check --replay FILE --policy POLICY --json`."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from agent.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(c for os_dir in ("macos", "windows", "linux") for c in (FIXTURES / os_dir).glob("*.json"))
MISSING = object()
# The day the expectations hold for: os_version depends on vendors' support end dates
# (agent/end_of_life.toml), so every replay is judged as on this day.
CHECK_DAY = "2026-12-02"


def resolve(report: dict, path: str):
    parts = path.split(".")
    if parts[0] == "device":
        node = report["device"]
        rest = parts[1:]
    elif parts[0] == "checks":
        node = next((c for c in report["checks"] if c["id"] == parts[1]), MISSING)
        rest = parts[2:]
    else:
        raise AssertionError(f"unexpected expect path {path}")
    for key in rest:
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def replay(capture: Path, tmp_path: Path) -> tuple[int, dict]:
    data = json.loads(capture.read_text())
    policy = tmp_path / "policy.toml"
    policy.write_text(data["policy"])
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["check", "--replay", str(capture), "--policy", str(policy), "--json",
                     "--date", CHECK_DAY])
    return code, json.loads(out.getvalue())


@pytest.mark.parametrize("capture", CASES, ids=[f"{c.parent.name}/{c.stem}" for c in CASES])
def test_fixture_meets_expectations(capture: Path, tmp_path: Path):
    data = json.loads(capture.read_text())
    code, report = replay(capture, tmp_path)
    failures = []
    for path, want in data["expect"].items():
        got = resolve(report, path)
        if want is None:
            ok = got is MISSING or got is None
        else:
            ok = got == want and type(got) is type(want)
        if not ok:
            failures.append(f"{path}: expected {want!r}, got {'(absent)' if got is MISSING else repr(got)}")
    assert not failures, "\n".join(failures)
    assert code == {"pass": 0, "nudge": 1, "fail": 2, "unknown": 3}[report["status"]]


@pytest.mark.parametrize("capture", CASES, ids=[f"{c.parent.name}/{c.stem}" for c in CASES])
def test_every_unknown_says_why(capture: Path, tmp_path: Path):
    _, report = replay(capture, tmp_path)
    for check in report["checks"]:
        assert check["summary"], check["id"]
        if check["status"] == "unknown":
            assert "couldn't" in check["summary"].lower(), check
        if check["status"] in ("fail", "nudge"):
            assert check.get("fix", {}).get("steps"), f"{capture.name}: {check['id']} has no fix steps"


def test_replay_through_the_installed_command(tmp_path: Path):
    """The same path as a user types it, in a fresh interpreter."""
    capture = FIXTURES / "macos" / "sonoma-14-6-compliant.json"
    data = json.loads(capture.read_text())
    policy = tmp_path / "p.toml"
    policy.write_text(data["policy"])
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "check", "--json", "--replay", str(capture),
                           "--policy", str(policy)], capture_output=True, text=True, timeout=60)
    report = json.loads(proc.stdout)
    assert report["device"]["serial"] == data["expect"]["device.serial"]
    assert proc.returncode == {"pass": 0, "nudge": 1, "fail": 2, "unknown": 3}[report["status"]]
