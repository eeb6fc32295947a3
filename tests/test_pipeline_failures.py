"""Failures are visible: a probe, judge or fix page that raises makes its check "unknown"
(the others are still checked) and writes an ERROR line naming the check to the agent's
log -- the pipeline is the one layer that catches (agent/pipeline.py)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import probes.linux
from agent import fixes, verdicts
from agent.pipeline import run_check
from agent.policy import load_policy
from probes.host import RecordedHost

FIXTURE = Path(__file__).parent / "fixtures" / "linux" / "fedora-44-gnome-lock-too-slow-dnf5-automatic.json"


def _host() -> RecordedHost:
    return RecordedHost(json.loads(FIXTURE.read_text()), source=str(FIXTURE))


def _by_id(report: dict) -> dict:
    return {c["id"]: c for c in report["checks"]}


def _errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "checkup.pipeline" and r.levelno == logging.ERROR]


def test_the_fixture_runs_clean(caplog):
    with caplog.at_level(logging.DEBUG, logger="checkup.pipeline"):
        report = run_check(_host(), load_policy())
    assert _errors(caplog) == []
    assert _by_id(report)["firewall"]["status"] != "unknown"


def test_a_raising_probe_is_unknown_and_logged(monkeypatch, caplog):
    def broken(host):
        raise ValueError("probe bug")
    monkeypatch.setitem(probes.linux.CHECKS, "firewall", broken)
    with caplog.at_level(logging.DEBUG, logger="checkup.pipeline"):
        report = run_check(_host(), load_policy())
    checks = _by_id(report)
    assert checks["firewall"]["status"] == "unknown"
    assert checks["firewall"]["summary"] == ("Checkup couldn't check the firewall: the check failed "
                                             "unexpectedly (ValueError).")
    assert checks["screen_lock"]["status"] == "fail"          # the others still judged
    errors = _errors(caplog)
    assert len(errors) == 1
    assert errors[0].startswith("check firewall: the probe raised ValueError at ")
    assert "test_pipeline_failures.py" in errors[0] and "'probe bug'" in errors[0]
    tracebacks = [r for r in caplog.records if r.levelno == logging.DEBUG and r.exc_info]
    assert tracebacks and tracebacks[0].exc_info[0] is ValueError


def test_a_probe_returning_no_fact_is_logged(monkeypatch, caplog):
    monkeypatch.setitem(probes.linux.CHECKS, "firewall", lambda host: None)
    with caplog.at_level(logging.ERROR, logger="checkup.pipeline"):
        report = run_check(_host(), load_policy())
    assert _by_id(report)["firewall"]["status"] == "unknown"
    assert any("check firewall: the probe raised TypeError" in e and "not a Fact" in e for e in _errors(caplog))


def test_a_raising_judge_is_unknown_and_logged(monkeypatch, caplog):
    def broken(fact, policy, platform):
        raise KeyError("judge bug")
    monkeypatch.setitem(verdicts.JUDGES, "screen_lock", broken)
    with caplog.at_level(logging.ERROR, logger="checkup.pipeline"):
        report = run_check(_host(), load_policy())
    lock = _by_id(report)["screen_lock"]
    assert lock["status"] == "unknown"
    assert lock["summary"] == "Checkup couldn't judge this check (KeyError)."
    assert "fix" in lock                                       # unknown still gets its help
    assert [e.split(" at ")[0] for e in _errors(caplog)] == ["check screen_lock: the judge raised KeyError"]


def test_judge_itself_does_not_hide_a_bug(monkeypatch):
    from probes.fact import Fact

    def broken(fact, policy, platform):
        raise RuntimeError("judge bug")
    monkeypatch.setitem(verdicts.JUDGES, "firewall", broken)
    with pytest.raises(RuntimeError):
        verdicts.judge("firewall", Fact(observed={"enabled": True}), load_policy(), "linux")


def test_a_raising_fix_page_is_logged_and_the_check_keeps_its_status(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise IndexError("fix bug")
    monkeypatch.setattr(fixes, "fix_for", broken)
    with caplog.at_level(logging.ERROR, logger="checkup.pipeline"):
        report = run_check(_host(), load_policy())
    lock = _by_id(report)["screen_lock"]
    assert lock["status"] == "fail" and "fix" not in lock
    assert any(e.startswith("check screen_lock: the fix page raised IndexError") for e in _errors(caplog))


def test_a_raising_identity_read_is_logged(monkeypatch, caplog):
    def broken(host):
        raise OSError("dmi bug")
    monkeypatch.setattr(probes.linux, "identity", broken)
    with caplog.at_level(logging.ERROR, logger="checkup.pipeline"):
        report = run_check(_host(), load_policy())
    assert report["device"]["serial"] is None
    assert any(e.startswith("check device: the identity probe raised OSError") for e in _errors(caplog))


def test_the_cli_prints_one_line_not_a_traceback():
    import subprocess
    import sys
    script = ("import sys, probes.linux\n"
              "probes.linux.CHECKS['firewall'] = lambda host: 1 / 0\n"
              "from agent.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    out = subprocess.run([sys.executable, "-c", script, "check", "--json", "--replay", str(FIXTURE)],
                         capture_output=True, text=True, timeout=60)
    assert _by_id(json.loads(out.stdout))["firewall"]["status"] == "unknown"
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("check firewall: the probe raised ZeroDivisionError at <string>:2")


def test_no_other_layer_catches_everything():
    # The pipeline is the one catch-all; probes (outside the Host seam's live readers, which
    # turn OS errors into answers), judges and the registry catch only what they expect.
    import re
    root = Path(__file__).resolve().parent.parent
    files = [p for p in (root / "probes").rglob("*.py") if p.name != "host.py"]
    files += [root / "agent" / "verdicts.py", *(root / "agent" / "checks").rglob("*.py")]
    catch_all = re.compile(r"^\s*except\s*(Exception|BaseException)?\s*(as \w+)?\s*:", re.M)
    found = [f"{p.relative_to(root)}:{text[:m.start()].count(chr(10)) + 1}"
             for p in files for text in [p.read_text(encoding="utf-8")] for m in catch_all.finditer(text)]
    assert found == []
    pipeline = (root / "agent" / "pipeline.py").read_text(encoding="utf-8")
    assert len(catch_all.findall(pipeline)) == 1
