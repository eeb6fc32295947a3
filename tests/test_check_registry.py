"""The check registry's contract: every check is declared once (agent/checks/<id>/check.toml)
and has a probe on each declared platform, one judge and a fix page; nothing exists for an
undeclared check. ``problems()`` lists every breach; the tests below also break the tree on
purpose (monkeypatched) to prove each rule can fail."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import probes
from agent import checks as registry
from agent import fixes, verdicts
from agent.checks import RegistryError, parse_check
from agent.policy import PolicyError, TYPES, load_policy
from agent.tomlcompat import tomllib

ROOT = Path(__file__).resolve().parent.parent
CHECKS_DIR = ROOT / "agent" / "checks"
NOT_CHECK_MODULES = {"__init__", "identity"}   # probes/<platform>/: helpers start with "_"


def problems() -> list[str]:
    found: list[str] = []
    declared = set(registry.ids())
    # folders: each one is a declared check (a fix.toml or judge.py without check.toml is not)
    for folder in sorted(p for p in CHECKS_DIR.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        if not (folder / "check.toml").is_file():
            found.append(f"agent/checks/{folder.name}/ has no check.toml")
        if not (folder / "__init__.py").is_file():
            found.append(f"agent/checks/{folder.name}/ has no __init__.py")
    # probes: one per declared platform, none for an undeclared check or platform
    for platform in registry.PLATFORMS:
        have = set(probes.probe_functions(platform))
        want = set(registry.on_platform(platform))
        found += [f"{c}: declared for {platform} but has no probe there" for c in sorted(want - have)]
        found += [f"{c}: a {platform} probe exists but the check is not declared for {platform}"
                  for c in sorted(have - want)]
        for module in sorted((ROOT / "probes" / platform).glob("*.py")):
            name = module.stem
            if name in NOT_CHECK_MODULES or name.startswith("_"):
                continue
            if name not in want:
                found.append(f"probes/{platform}/{name}.py: no declared check {name!r} on {platform}")
            elif name not in have:
                found.append(f"probes/{platform}/{name}.py is not listed in probes.{platform}.CHECKS")
    # judges: exactly one per declared check
    for check in sorted(declared):
        in_table, own = check in verdicts.JUDGES, registry.has_own_judge(check)
        if in_table and own:
            found.append(f"{check}: two judges (verdicts.JUDGES and agent/checks/{check}/judge.py)")
        if not in_table and not own:
            found.append(f"{check}: no judge")
        if own and not callable(registry.own_judge(check)):
            found.append(f"{check}: agent/checks/{check}/judge.py has no judge()")
    found += [f"{c}: a judge in verdicts.JUDGES for an undeclared check" for c in sorted(set(verdicts.JUDGES) - declared)]
    # fixes: a page with steps on each declared platform; fix content only for declared checks
    for check in registry.all_checks():
        for platform in check.platforms:
            fix = fixes.fix_for(check.id, platform, None, observed={})
            if not fix.get("steps") or fix.get("title") != check.title:
                found.append(f"{check.id}: no fix page on {platform}")
    if any(CHECKS_DIR.glob("*/fix.toml")):   # the fix content as data files (agent/checks/<id>/fix.toml)
        found += [f"{c}: no agent/checks/{c}/fix.toml" for c in sorted(declared)
                  if not (CHECKS_DIR / c / "fix.toml").is_file()]
    for path in sorted(CHECKS_DIR.glob("*/fix.toml")):
        check = registry.get(path.parent.name)
        if check is None:
            continue                          # reported above: no check.toml
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        found += [f"{check.id}: fix.toml has a {p} table but the check is not declared for {p}"
                  for p in registry.PLATFORMS if p in data and p not in check.platforms]
        if "title" in data and data["title"] != check.title:
            found.append(f"{check.id}: fix.toml's title {data['title']!r} is not check.toml's {check.title!r}")
    for table in ("_WHY",):                  # fix content still in agent/fixes.py
        keys = set(getattr(fixes, table, {}) or {})
        found += [f"{c}: fix content (fixes.{table}) for an undeclared check" for c in sorted(keys - declared)]
    # the built-in policy: every declared check with its declared level and defaults
    policy = load_policy()
    for check in registry.all_checks():
        if policy.checks.get(check.id) != check.defaults():
            found.append(f"{check.id}: the built-in policy differs from its check.toml")
    return found


def test_the_tree_keeps_the_contract():
    assert problems() == []


def test_ids_order_and_platforms():
    ids = registry.ids()
    assert ids[:10] == ("disk_encryption", "firewall", "screen_lock", "os_version", "automatic_updates",
                        "system_integrity", "remote_login", "gatekeeper", "antivirus", "security_software")
    assert len(set(ids)) == len(ids)
    assert registry.get("gatekeeper").platforms == ("darwin",)
    assert registry.get("gatekeeper").not_applicable_reason() == "only on macOS"
    assert registry.get("antivirus").platforms == ("windows",)
    assert "gatekeeper" not in registry.on_platform("linux")
    assert registry.get("screen_lock").params["max_seconds"].default == 900
    assert registry.get("no_such_check") is None


def test_every_parameter_type_is_validated_by_the_policy():
    assert set(TYPES) == set(registry.PARAM_TYPES)


def test_readers_use_the_registry():
    from server.policy_check import CHECK_IDS as SERVER_IDS
    from agent.policy import CHECK_IDS
    assert tuple(SERVER_IDS) == tuple(CHECK_IDS) == registry.ids()
    assert fixes.CHECK_TITLES == registry.titles()
    assert fixes.PLATFORM_CHECKS == {p: registry.on_platform(p) for p in registry.PLATFORMS}


# -- each rule can fail --------------------------------------------------------------------

def test_an_undeclared_probe_fails(monkeypatch):
    import probes.linux
    monkeypatch.setitem(probes.linux.CHECKS, "gatekeeper", lambda host: None)
    monkeypatch.setitem(probes.linux.CHECKS, "bogus", lambda host: None)
    got = problems()
    assert "gatekeeper: a linux probe exists but the check is not declared for linux" in got
    assert "bogus: a linux probe exists but the check is not declared for linux" in got


def test_a_missing_probe_fails(monkeypatch):
    import probes.windows
    monkeypatch.delitem(probes.windows.CHECKS, "antivirus")
    got = problems()
    assert "antivirus: declared for windows but has no probe there" in got
    assert "probes/windows/antivirus.py is not listed in probes.windows.CHECKS" in got


def test_a_missing_or_extra_judge_fails(monkeypatch):
    monkeypatch.delitem(verdicts.JUDGES, "firewall")
    monkeypatch.setitem(verdicts.JUDGES, "bogus", verdicts.judge_firewall)
    got = problems()
    assert "firewall: no judge" in got
    assert "bogus: a judge in verdicts.JUDGES for an undeclared check" in got


def test_two_judges_fail(monkeypatch):
    monkeypatch.setattr(registry, "has_own_judge", lambda c: c == "firewall")
    monkeypatch.setattr(registry, "own_judge", lambda c: verdicts.judge_firewall if c == "firewall" else None)
    assert "firewall: two judges (verdicts.JUDGES and agent/checks/firewall/judge.py)" in problems()


def test_a_missing_or_extra_fix_fails(monkeypatch):
    real = fixes.fix_for

    def fix_for(check_id, platform, *args, **kwargs):
        got = real(check_id, platform, *args, **kwargs)
        return dict(got, steps=[]) if (check_id, platform) == ("firewall", "darwin") else got
    monkeypatch.setattr(fixes, "fix_for", fix_for)
    if hasattr(fixes, "_WHY"):
        monkeypatch.setitem(fixes._WHY, "bogus", "text")
    got = problems()
    assert "firewall: no fix page on darwin" in got
    if hasattr(fixes, "_WHY"):
        assert "bogus: fix content (fixes._WHY) for an undeclared check" in got


def test_a_folder_without_declaration_fails(tmp_path, monkeypatch):
    fake = tmp_path / "checks"
    fake.mkdir()
    (fake / "orphan").mkdir()
    (fake / "orphan" / "fix.toml").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "CHECKS_DIR", fake)
    got = problems()
    assert "agent/checks/orphan/ has no check.toml" in got
    assert "agent/checks/orphan/ has no __init__.py" in got


def test_fix_files_follow_the_declaration(tmp_path, monkeypatch):
    import shutil
    fake = tmp_path / "checks"
    shutil.copytree(CHECKS_DIR, fake)
    (fake / "gatekeeper" / "fix.toml").write_text('title = "Gatekeeper"\n[darwin.old]\nsteps = ["a"]\n[linux]\nsteps = ["b"]\n')
    (fake / "firewall" / "fix.toml").write_text('title = "Fire wall"\n')
    (fake / "screen_lock" / "fix.toml").unlink(missing_ok=True)   # a declared check without one
    monkeypatch.setattr(sys.modules[__name__], "CHECKS_DIR", fake)
    got = problems()
    assert "gatekeeper: fix.toml has a linux table but the check is not declared for linux" in got
    assert "firewall: fix.toml's title 'Fire wall' is not check.toml's 'Firewall'" in got
    assert "screen_lock: no agent/checks/screen_lock/fix.toml" in got


def test_the_loader_reads_every_folder(tmp_path, monkeypatch):
    # registry._load over a copy with one more check: it appears, in its order
    import shutil
    copy = tmp_path / "checks"
    shutil.copytree(CHECKS_DIR, copy)
    (copy / "zz_new").mkdir()
    (copy / "zz_new" / "check.toml").write_text(
        'id = "zz_new"\ntitle = "New"\nplatforms = ["linux"]\nlevel = "suggested"\norder = 5\n')

    monkeypatch.setattr(registry.resources, "files", lambda name: copy)
    registry._load.cache_clear()
    try:
        assert registry._load()[0].id == "zz_new"
        assert "zz_new" in [c.id for c in registry._load()]
    finally:
        monkeypatch.undo()
        registry._load.cache_clear()
    assert "zz_new" not in registry.ids()


# -- the declaration's schema --------------------------------------------------------------

GOOD = {"id": "x_check", "title": "X", "platforms": ["linux"], "level": "required", "order": 1}


def test_a_good_declaration_parses():
    check = parse_check(dict(GOOD, params={"limit": {"type": "seconds", "default": 5, "unit": "seconds"}}),
                        "x_check", "f")
    assert check.defaults() == {"level": "required", "limit": 5}
    assert check.params["limit"].unit == "seconds"


@pytest.mark.parametrize("change,needle", [
    ({"id": "other"}, "folder's name"),
    ({"title": " "}, "title"),
    ({"platforms": []}, "platforms"),
    ({"platforms": ["beos"]}, "platforms"),
    ({"platforms": ["linux", "linux"]}, "platforms"),
    ({"level": "mandatory"}, "level"),
    ({"order": "1"}, "order"),
    ({"order": True}, "order"),
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"params": {"x": {"type": "minutes", "default": 1}}}, "params.x.type"),
    ({"params": {"x": {"type": "seconds"}}}, "params.x.default"),
    ({"params": {"x": {"type": "seconds", "default": 1, "help": 3}}}, "params.x.help"),
    ({"params": {"x": {"type": "seconds", "default": 1, "max": 3}}}, "unknown key 'max'"),
    ({"params": {"level": {"type": "seconds", "default": 1}}}, "params.level"),
    ({"params": {"x": 3}}, "params.x must be a table"),
])
def test_a_bad_declaration_names_the_file_and_key(change, needle):
    with pytest.raises(RegistryError) as err:
        parse_check(dict(GOOD, **change), "x_check", "agent/checks/x_check/check.toml")
    assert str(err.value).startswith("agent/checks/x_check/check.toml: ")
    assert needle in str(err.value)


def test_a_missing_key_is_named():
    for key in GOOD:
        data = {k: v for k, v in GOOD.items() if k != key}
        with pytest.raises(RegistryError, match=f"{key} is missing"):
            parse_check(data, "x_check", "f")


def test_a_default_of_the_wrong_type_stops_the_built_in_policy(monkeypatch):
    bad = parse_check(dict(GOOD, id="screen_lock", params={"max_seconds": {"type": "seconds", "default": "15 min"}}),
                      "screen_lock", "f")
    real = registry.all_checks()
    monkeypatch.setattr(registry, "all_checks", lambda: tuple(bad if c.id == "screen_lock" else c for c in real))
    monkeypatch.setattr(registry, "get", lambda cid: bad if cid == "screen_lock" else
                        next((c for c in real if c.id == cid), None))
    with pytest.raises(PolicyError, match="screen_lock.max_seconds"):
        load_policy()


def test_policy_show_lists_the_declared_checks_in_order():
    text = load_policy().to_toml()
    positions = [text.index(f"[{c}]") for c in registry.ids()]
    assert positions == sorted(positions)
    json.dumps([c.defaults() for c in registry.all_checks()])  # plain data
