"""The end-of-support table (agent/end_of_life.toml) and the os_version rule built on it."""
from __future__ import annotations

import datetime as dt

import pytest

from agent import end_of_life as eol
from agent.policy import PolicyError, load_policy
from agent.verdicts import judge
from probes.fact import Fact

D = dt.date


# -- the table itself --------------------------------------------------------------------
def test_the_shipped_table_loads_and_every_row_has_a_vendor_source():
    table = eol.table()
    assert len(table.releases) > 40
    for row in table.releases:
        assert row.source.startswith("https://"), row
        assert D(2015, 1, 1) <= row.end <= D(2040, 1, 1), row
    ids = {r.os for r in table.releases}
    assert ids == set(eol.OS_IDS)


def test_microsoft_rows_end_on_a_patch_tuesday():
    for row in eol.table().releases:
        if row.os.startswith("windows"):
            assert row.end.weekday() == 1 and 8 <= row.end.day <= 14, row
    esu = eol.table().esu
    for day in (*esu.commercial_ends, esu.consumer_end, esu.first_esu_update):
        assert day.weekday() == 1 and 8 <= day.day <= 14, day


def test_known_dates():
    assert eol.support_end("windows", "10.0.19045.6456")[0].end == D(2025, 10, 14)
    assert eol.support_end("windows", "10.0.26100.1", "home_pro")[0].end == D(2026, 10, 13)
    assert eol.support_end("windows", "10.0.26100.1", "enterprise_education")[0].end == D(2027, 10, 12)
    assert eol.support_end("windows-server", "10.0.20348.2700")[0].name == "Windows Server 2022"
    assert eol.support_end("macos", "13.6.7")[0].end == D(2025, 9, 15)
    assert eol.support_end("ubuntu", "22.04")[0].end == D(2027, 4, 30)
    assert eol.support_end("debian", "12")[0].end == D(2028, 6, 30)   # LTS counts
    assert eol.support_end("fedora", "42")[0].end == D(2026, 5, 27)
    assert eol.support_end("macos", "14.6.1") is None      # Apple has not dropped 14 yet
    assert eol.support_end("ubuntu", "99.04") is None
    assert eol.support_end("windows", "garbage") is None
    assert eol.support_end(None, None) is None


def test_an_unknown_edition_gets_the_latest_date_of_its_build():
    row, known = eol.support_end("windows", "10.0.19044.3086", None)
    assert (row.end, known) == (D(2032, 1, 13), False)        # could be IoT LTSC 2021
    row, known = eol.support_end("windows", "10.0.19044.3086", "home_pro")
    assert (row.end, known) == (D(2023, 6, 13), True)


@pytest.mark.parametrize("edition_id,group", [
    ("Professional", "home_pro"), ("Core", "home_pro"), ("ProfessionalWorkstation", "home_pro"),
    ("Enterprise", "enterprise_education"), ("education", "enterprise_education"),
    ("EnterpriseS", "ltsc"), ("IoTEnterpriseS", "iot_ltsc"), ("ServerStandard", None),
    ("", None), (None, None), (7, None)])
def test_edition_groups(edition_id, group):
    assert eol.edition_group(edition_id) == group


ROW = '''
[[release]]
os = "ubuntu"
release = "22.04"
name = "Ubuntu 22.04 LTS"
end = 2027-04-30
source = "https://ubuntu.com/about/release-cycle"
'''
ESU = '''
[windows_esu]
build = "19045"
commercial_ends = [2026-10-13, 2027-10-12, 2028-10-10]
commercial_source = "https://learn.microsoft.com/x"
consumer_end = 2027-10-12
consumer_source = "https://support.microsoft.com/x"
consumer_editions = ["home_pro"]
first_esu_ubr = 6575
first_esu_update = 2025-11-11
first_esu_source = "https://support.microsoft.com/help/5068781"
'''


@pytest.mark.parametrize("change,message", [
    (('source = "https://ubuntu.com/about/release-cycle"', ''), "source"),
    (('source = "https://ubuntu.com/about/release-cycle"', 'source = "see the wiki"'), "source"),
    (('end = 2027-04-30', 'end = "April 2027"'), "end must be a date"),
    (('os = "ubuntu"', 'os = "beos"'), "os must be"),
    (('name = "Ubuntu 22.04 LTS"', 'name = "Ubuntu"\nedition = "home_pro"'), "edition"),
    (('name = "Ubuntu 22.04 LTS"', 'name = "Ubuntu"\nfoo = 1'), "unknown keys"),
])
def test_a_bad_row_is_refused_with_its_number(change, message):
    with pytest.raises(ValueError, match=message):
        eol.parse_table(ROW.replace(*change) + ESU)


def test_a_duplicate_row_and_a_missing_esu_table_are_refused():
    with pytest.raises(ValueError, match="second row"):
        eol.parse_table(ROW + ROW + ESU)
    with pytest.raises(ValueError, match="windows_esu"):
        eol.parse_table(ROW)
    assert len(eol.parse_table(ROW + ESU).releases) == 1


# -- Windows 10 ESU evidence ---------------------------------------------------------------
@pytest.mark.parametrize("observed,edition,today,want", [
    ({"esu_year": 2, "version": "10.0.19045.4046"}, "enterprise_education", D(2026, 12, 2), ("covered", D(2027, 10, 12))),
    ({"esu_year": 1, "version": "10.0.19045.6575"}, "enterprise_education", D(2026, 12, 2), ("none", None)),
    ({"esu_year": 1, "version": "10.0.19045.6575"}, "home_pro", D(2026, 12, 2), ("none", None)),
    ({"esu_year": 3}, None, D(2028, 10, 10), ("covered", D(2028, 10, 10))),
    ({"esu_year": 3}, None, D(2028, 10, 11), ("none", None)),
    ({"esu_year": 0, "version": "10.0.19045.4046"}, "enterprise_education", D(2026, 12, 2), ("none", None)),
    # Consumer ESU leaves no license: an update newer than the last public one is the trace.
    ({"esu_year": 0, "version": "10.0.19045.7663"}, "home_pro", D(2026, 12, 2), ("covered", None)),
    ({"esu_year": 0, "version": "10.0.19045.7663"}, "home_pro", D(2027, 10, 13), ("none", None)),
    ({"esu_year": 0, "version": "10.0.19045.6456"}, "home_pro", D(2026, 12, 2), ("none", None)),
    # KB5071959 (19045.6466) went to PCs NOT enrolled: no sign of ESU.
    ({"esu_year": 0, "version": "10.0.19045.6466"}, "home_pro", D(2026, 12, 2), ("none", None)),
    ({"esu_year": 0, "version": "10.0.19045.6575"}, "home_pro", D(2026, 12, 2), ("covered", None)),
    ({"esu_year": 0, "version": "10.0.19045.6456"}, "home_pro", D(2025, 11, 11), ("unknown", None)),
    ({"version": "10.0.19045"}, None, D(2026, 12, 2), ("unknown", None)),         # no UBR, no license
    ({"version": "10.0.19045.4046"}, None, D(2026, 12, 2), ("none", None)),      # license unread, no update
    ({"version": "10.0.19045.7663"}, "enterprise_education", D(2028, 1, 4), ("covered", None)),
    ({"version": "10.0.19045.7663"}, "enterprise_education", D(2028, 10, 11), ("none", None)),
])
def test_windows_esu(observed, edition, today, want):
    assert eol.windows_esu(observed, edition, today) == want


# -- the judge -------------------------------------------------------------------------------
def os_fact(os_id, today, **observed):
    return Fact(observed=observed, extra={"os_id": os_id, "today": today})


def check(fact, policy=None):
    return judge("os_version", fact, policy or load_policy(), "windows")


WIN10_HOME = dict(name="Windows 10 Home", version="10.0.19045.5131", build="19045.5131",
                  edition="Core", esu_year=0)


def test_windows_10_22h2_the_day_before_the_day_of_and_after_its_end():
    for day in (D(2025, 10, 13), D(2025, 10, 14)):
        status, j = check(os_fact("windows", day, **WIN10_HOME))
        assert (status, j.outcome) == ("nudge", "warn"), day  # still patched: recommended only
    status, j = check(os_fact("windows", D(2025, 10, 15), **WIN10_HOME))
    assert status == "unknown"  # the first ESU-only update is not out yet: can't tell
    status, j = check(os_fact("windows", D(2026, 12, 2), **WIN10_HOME))
    assert status == "fail"
    assert j.summary == ("Windows 10 22H2 no longer gets security fixes (since 14 October 2025) and "
                         "this PC shows no Extended Security Updates. Update to Windows 11.")
    assert j.observed["support_ends"] == "2025-10-14"


def test_windows_10_22h2_with_a_licensed_esu_year_is_supported():
    status, j = check(os_fact("windows", D(2026, 12, 2), **{**WIN10_HOME, "esu_year": 2,
                                                              "edition": "Enterprise"}))
    assert status == "nudge"
    assert "recommended" in j.summary
    assert j.observed["support_ends"] == "2027-10-12"


def test_windows_10_22h2_esu_unreadable_is_unknown_not_a_wrong_fail():
    fact = os_fact("windows", D(2026, 12, 2), name="Windows 10 Pro", version="10.0.19045")
    fact.extra["esu_reason"] = "the Extended Security Updates license could not be read (timed out)"
    status, j = check(fact)
    assert status == "unknown"
    assert j.summary.startswith("Checkup couldn't tell whether this PC gets Extended Security Updates "
                                "(the Extended Security Updates license could not be read (timed out))")
    assert "since 14 October 2025" in j.summary


def test_windows_11_edition_decides_and_unknown_edition_is_careful():
    base = dict(name="Windows 11 Pro", version="10.0.26100.3194")
    status, j = check(os_fact("windows", D(2026, 12, 2), **base, edition="Professional"))
    assert status == "fail"
    assert j.summary == ("Windows 11 24H2 no longer gets security fixes (since 13 October 2026). "
                         "Install the newest Windows 11 version.")
    status, j = check(os_fact("windows", D(2026, 12, 2), **base, edition="Enterprise"))
    assert status == "pass"
    status, j = check(os_fact("windows", D(2026, 12, 2), **base))   # no EditionID
    assert status == "pass"
    assert j.observed["support_ends"] == "2034-10-10"


def test_windows_server_is_judged_as_a_server():
    fact = os_fact("windows-server", D(2026, 12, 2), name="Windows Server 2022 Datacenter",
                   version="10.0.20348.2700")
    status, j = check(fact)
    assert (status, j.summary) == ("pass", "Windows Server 2022 Datacenter 10.0.20348.2700 still gets security fixes.")
    fact = os_fact("windows-server", D(2026, 12, 2), name="Windows Server 23H2 Datacenter",
                   version="10.0.25398.1")
    status, j = check(fact)
    assert status == "fail"
    assert j.summary == ("Windows Server 23H2 no longer gets security fixes (since 12 May 2026). "
                         "Ask IT to move it to a newer Windows Server.")


@pytest.mark.parametrize("os_id,version,name,day,status,summary", [
    ("macos", "13.7.8", "macOS", D(2025, 9, 15), "fail", None),   # below the minimum anyway
    ("macos", "13.7.8", "macOS", D(2025, 9, 16), "fail",
     "macOS 13 Ventura no longer gets security fixes (since 15 September 2025). Update to a newer macOS."),
    ("ubuntu", "22.04", "Ubuntu", D(2027, 4, 30), "nudge", None),
    ("ubuntu", "22.04", "Ubuntu", D(2027, 5, 1), "fail",
     "Ubuntu 22.04 LTS no longer gets security fixes (since 30 April 2027). Upgrade to a newer Ubuntu release."),
    ("ubuntu", "25.04", "Ubuntu", D(2026, 12, 2), "fail", None),
    ("debian", "12", "Debian GNU/Linux", D(2026, 12, 2), "nudge", None),   # LTS until 2028
    ("debian", "11", "Debian GNU/Linux", D(2026, 12, 2), "fail",
     "Debian 11 bullseye no longer gets security fixes (since 31 August 2026). "
     "Upgrade to a newer Debian GNU/Linux release."),
    ("fedora", "43", "Fedora Linux", D(2026, 12, 9), "pass", None),
    ("fedora", "43", "Fedora Linux", D(2026, 12, 10), "fail", None),
])
def test_other_systems(os_id, version, name, day, status, summary):
    got, j = check(os_fact(os_id, day, name=name, version=version))
    assert got == status, j.summary
    if summary:
        assert j.summary == summary
    if status == "fail" and summary is None and os_id != "macos":
        assert "no longer gets security fixes" in j.summary


def test_the_policy_can_turn_the_rule_off_and_validates_it(tmp_path):
    off = tmp_path / "p.toml"
    off.write_text("[os_version]\nend_of_life = false\n")
    status, j = check(os_fact("windows", D(2026, 12, 2), **WIN10_HOME), load_policy(str(off)))
    assert status == "nudge"
    bad = tmp_path / "bad.toml"
    bad.write_text('[os_version]\nend_of_life = "yes"\n')
    with pytest.raises(PolicyError, match="os_version.end_of_life must be true or false"):
        load_policy(str(bad))
    assert "end_of_life = true" in load_policy().to_toml()


def test_without_a_day_the_judge_uses_today():
    status, _ = check(Fact(observed=WIN10_HOME, extra={"os_id": "windows"}))
    assert status in ("fail", "unknown") if dt.date.today() > D(2025, 10, 14) else status == "nudge"


# -- the command line: a real capture judged on chosen days ----------------------------------
def test_check_date_judges_a_real_capture_on_that_day(tmp_path, capsys):
    import json
    from pathlib import Path

    from agent.cli import main
    capture = Path(__file__).parent / "fixtures" / "windows" / "win10-22h2-home-not-encryptable-av-timeout.json"
    policy = tmp_path / "p.toml"
    policy.write_text(json.loads(capture.read_text())["policy"])

    def os_check(day):
        main(["check", "--replay", str(capture), "--policy", str(policy), "--json", "--date", day])
        report = json.loads(capsys.readouterr().out)
        return next(c for c in report["checks"] if c["id"] == "os_version")

    assert os_check("2025-10-14")["status"] == "nudge"
    late = os_check("2026-12-02")
    assert late["status"] == "fail"
    assert late["observed"]["support_ends"] == "2025-10-14"
    assert late["fix"]["steps"]

    assert main(["check", "--replay", str(capture), "--date", "next tuesday"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--date must be a day like" in err


def test_the_windows_10_fix_moves_to_windows_11_once_support_ended():
    from agent.fixes import fix_for
    status, j = check(os_fact("windows", D(2026, 12, 2), **WIN10_HOME))
    assert status == "fail" and j.observed["end_of_life"] is True
    fix = fix_for("os_version", "windows", WIN10_HOME["version"], observed=j.observed)
    assert "Windows 11" in fix["hint"] and any("Upgrade to Windows 11" in s for s in fix["steps"])
    still = fix_for("os_version", "windows", WIN10_HOME["version"], observed=dict(WIN10_HOME))
    assert still["hint"] == "Install updates in Settings > Update & Security > Windows Update."
