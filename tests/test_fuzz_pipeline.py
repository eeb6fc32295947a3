"""Property-based: arbitrary outputs, exit codes, errors, files and registry values
fed to every source of every platform never make a probe, judge or fix page raise: the
pipeline would catch it, so the test reads the pipeline's log and fails on any such line."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import pytest

from agent.pipeline import run_check
from agent.policy import load_policy
from probes.host import RecordedHost

FIXTURES = Path(__file__).parent / "fixtures"
POLICY = load_policy()
STATUSES = {"pass", "skip", "unknown", "nudge", "fail"}


def _sources(platform_dir: str):
    """Every argv, file path and registry value any capture of that platform uses."""
    argvs, files, reg = set(), set(), set()
    for f in (FIXTURES / platform_dir).glob("*.json"):
        data = json.loads(f.read_text())
        argvs.update(tuple(c["argv"]) for c in data.get("commands", []))
        files.update(data.get("files", {}))
        for key, values in data.get("registry", {}).items():
            reg.update((key, name) for name in values)
    return sorted(argvs), sorted(files), sorted(reg)


text = st.one_of(
    st.text(max_size=120),
    st.sampled_from(["", "\n", "\r\n", "0", "1", "-1", "true", "false", "null", "{}", "[]", "[{}]",
                     "uint32", "uint32 -5", "State = 9", "(State = )", "ENABLED=", "99999999999999999999"]),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
)
command = st.one_of(
    st.fixed_dictionaries({"stdout": text, "stderr": text,
                           "returncode": st.one_of(st.integers(-300, 300), st.none())}),
    st.sampled_from([{"error": "timeout"}, {"error": "not_found"}, {"error": "denied"}, {}]),
)
regvalue = st.one_of(st.integers(-2**33, 2**33), text, st.none(), st.booleans(), st.lists(st.integers(), max_size=2))


def capture_strategy(platform: str, platform_dir: str):
    argvs, files, reg = _sources(platform_dir)
    return st.fixed_dictionaries({
        "platform": st.just(platform),
        "hostname": st.one_of(st.none(), st.text(max_size=20)),
        "is_admin": st.one_of(st.booleans(), st.none(), st.integers()),
        "env": st.dictionaries(st.sampled_from(["XDG_CURRENT_DESKTOP", "DISPLAY", "WAYLAND_DISPLAY",
                                                "KDE_SESSION_VERSION", "SystemRoot"]), text),
        "processes": st.lists(st.one_of(text, st.integers()), max_size=5),
        "mac_addresses": st.one_of(st.lists(st.one_of(text, st.integers(), st.none()), max_size=4), text),
        "commands": st.tuples(*[command for _ in argvs]).map(
            lambda outs: [dict(o, argv=list(a)) for a, o in zip(argvs, outs)]),
        "files": st.tuples(*[st.one_of(text, st.none()) for _ in files]).map(
            lambda vals: {p: v for p, v in zip(files, vals) if v is not None}),
        "registry": st.tuples(*[regvalue for _ in reg]).map(
            lambda vals: _registry(reg, vals)),
    })


def _registry(reg, vals):
    out: dict = {}
    for (key, name), value in zip(reg, vals):
        if value is not None:
            out.setdefault(key, {})[name] = value
    return out


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _check(capture: dict):
    errors = _Errors()
    log = logging.getLogger("checkup.pipeline")
    log.addHandler(errors)
    try:
        report = run_check(RecordedHost(capture), POLICY)
    finally:
        log.removeHandler(errors)
    assert errors.lines == [], errors.lines      # a probe, judge or fix page raised
    for check in report["checks"]:
        assert "failed unexpectedly" not in check["summary"], check
        assert "couldn't judge this check" not in check["summary"], check
    assert report["status"] in STATUSES | {"unknown"}
    for check in report["checks"]:
        assert check["status"] in STATUSES
        assert isinstance(check["summary"], str) and check["summary"]
    json.dumps(report)  # always serialisable


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(capture_strategy("darwin", "macos"))
def test_macos_sources_fuzzed(capture):
    _check(capture)


@FUZZ
@given(capture_strategy("windows", "windows"))
def test_windows_sources_fuzzed(capture):
    _check(capture)


@FUZZ
@given(capture_strategy("linux", "linux"))
def test_linux_sources_fuzzed(capture):
    _check(capture)


def test_the_fuzz_check_fails_when_a_probe_raises(monkeypatch):
    # the assertion above can fail: a probe that raises on some input is caught
    import probes.linux
    capture = json.loads(sorted((FIXTURES / "linux").glob("*.json"))[0].read_text())
    _check(capture)

    def broken(host):
        raise ValueError("bug")
    monkeypatch.setitem(probes.linux.CHECKS, "screen_lock", broken)
    with pytest.raises(AssertionError, match="check screen_lock: the probe raised ValueError"):
        _check(capture)
