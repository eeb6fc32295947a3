"""Config layers on Linux: defaults < user < /etc/checkup (IT), read from real files."""
from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout

import pytest

from agent import cli, config
from agent.config import format_settings, load_settings
from probes.host import LiveHost


class LinuxLive(LiveHost):
    """This machine's files, seen as a Linux host whatever the test machine is."""

    def __init__(self):
        super().__init__()
        self.platform = "linux"


@pytest.fixture
def etc(tmp_path, monkeypatch):
    """A private /etc/checkup: config.toml and config.d/."""
    root = tmp_path / "etc-checkup"
    (root / "config.d").mkdir(parents=True)
    monkeypatch.setattr(config, "LINUX_MANAGED_FILE", str(root / "config.toml"))
    monkeypatch.setattr(config, "LINUX_MANAGED_DIR", str(root / "config.d"))
    return root


@pytest.fixture
def user(tmp_path):
    return tmp_path / "user.toml"


def load(user_file, **kw):
    return load_settings(config_file=str(user_file), host=LinuxLive(), **kw)


def test_defaults_when_nothing_is_configured(etc, user):
    s = load(user)
    assert s.get("agent", "interval_minutes") == 60
    assert s.get("notifications", "quiet_days") == ["sat", "sun"]
    assert s.get("server", "url") == ""
    assert s.problems == []
    assert not s.managed
    assert all(status == "not present" for _, status in s.sources)


def test_user_config_is_read_from_the_platform_user_dir(etc):
    path = config.user_config_path()
    assert path.startswith(os.environ["XDG_CONFIG_HOME"])  # conftest isolates it
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as fh:
        fh.write("[agent]\ninterval_minutes = 15\n")
    s = load_settings(host=LinuxLive())
    assert s.get("agent", "interval_minutes") == 15
    assert s.origin[("agent", "interval_minutes")] == path


def test_user_overrides_default_and_it_overrides_user(etc, user):
    user.write_text('[agent]\ninterval_minutes = 15\n[notifications]\nquiet_hours = ""\n'
                    '[server]\nurl = "https://mine.example.org"\n')
    (etc / "config.toml").write_text('[server]\nurl = "https://checkup.corp.example"\n'
                                     'enroll_token = "abc"\n')
    s = load(user)
    assert s.get("agent", "interval_minutes") == 15            # user, not managed
    assert s.get("notifications", "quiet_hours") == ""          # user may turn quiet hours off
    assert s.get("server", "url") == "https://checkup.corp.example"   # IT wins
    assert s.is_managed("server", "url") and not s.is_managed("agent", "interval_minutes")
    assert s.overridden[("server", "url")] == str(user)
    assert s.origin[("server", "url")] == str(etc / "config.toml")


def test_config_d_drop_ins_apply_in_name_order_after_config_toml(etc, user):
    (etc / "config.toml").write_text("[agent]\ninterval_minutes = 90\n")
    (etc / "config.d" / "50-server.toml").write_text('[server]\nurl = "https://a.example"\n')
    (etc / "config.d" / "90-override.toml").write_text('[server]\nurl = "https://b.example"\n')
    (etc / "config.d" / "README").write_text("not toml, not read")
    (etc / "config.d" / ".hidden.toml").write_text("broken [[[")
    s = load(user)
    assert s.get("agent", "interval_minutes") == 90
    assert s.get("server", "url") == "https://b.example"
    assert s.origin[("server", "url")].endswith("90-override.toml")
    assert s.problems == []


def test_a_managed_key_cannot_be_overridden_by_any_user_file(etc, user, tmp_path):
    (etc / "config.toml").write_text("[notifications]\nenabled = true\nquiet_days = []\n")
    user.write_text("[notifications]\nenabled = false\nquiet_days = ['mon']\n")
    s = load(user)
    assert s.get("notifications", "enabled") is True
    assert s.get("notifications", "quiet_days") == []
    text = format_settings(s)
    line = next(l for l in text.splitlines() if l.startswith("enabled ="))
    assert "managed by IT" in line and f"your value in {user} is ignored" in line


def test_broken_managed_file_is_reported_and_other_layers_still_apply(etc, user):
    user.write_text("[agent]\ninterval_minutes = 20\n")
    (etc / "config.toml").write_text("[server\nurl = 'x'\n")
    (etc / "config.d" / "10-ok.toml").write_text("[notifications]\nmax_snoozes = 1\n")
    s = load(user)
    assert s.get("agent", "interval_minutes") == 20
    assert s.get("notifications", "max_snoozes") == 1
    assert len(s.problems) == 1
    assert s.problems[0].startswith(str(etc / "config.toml") + ": not valid TOML")
    assert "ignored" in s.problems[0]
    assert any(status.startswith("ignored: not valid TOML") for _, status in s.sources)


@pytest.mark.parametrize("raw", [b"\xff\xfe\x00garbage", b"[agent]\ninterval_minutes = \xe9\n"])
def test_undecodable_managed_file_is_a_problem_not_a_crash(etc, user, raw):
    (etc / "config.toml").write_bytes(raw)
    s = load(user)
    assert s.get("agent", "interval_minutes") == 60
    assert len(s.problems) == 1 and str(etc / "config.toml") in s.problems[0]


def test_unreadable_managed_path_is_a_problem(etc, user):
    (etc / "config.toml").mkdir()
    s = load(user)
    assert "is a directory" in s.problems[0]


@pytest.mark.parametrize("toml_line, problem_part", [
    ("[agent]\ninterval_minutes = 'often'", "agent.interval_minutes must be a whole number"),
    ("[agent]\ninterval_minutes = 0", "agent.interval_minutes must be at least 1"),
    ("[notifications]\nenabled = 1", "notifications.enabled must be true or false"),
    ("[notifications]\nquiet_hours = '7pm-9am'", "notifications.quiet_hours '7pm-9am' is not like"),
    ("[notifications]\nquiet_days = ['sat', 'caturday']", "unknown day 'caturday'"),
    ("[notifications]\nquiet_days = 'sat'", "must be a list of day names"),
    ("[server]\nurl = 'checkup.example.com'", "is not an https:// address"),
    ("server = 3", "[server] must be a table"),
])
def test_invalid_values_are_named_and_ignored(etc, user, toml_line, problem_part):
    user.write_text(toml_line + "\n")
    s = load(user)
    assert s.values["agent"]["interval_minutes"] == 60
    assert s.get("notifications", "enabled") is True
    assert s.get("server", "url") == ""
    assert len(s.problems) == 1 and problem_part in s.problems[0], s.problems


def test_invalid_managed_value_falls_back_to_default_and_stays_locked(etc, user):
    user.write_text("[agent]\ninterval_minutes = 5\n")
    (etc / "config.toml").write_text("[agent]\ninterval_minutes = -1\n")
    s = load(user)
    assert s.get("agent", "interval_minutes") == 60
    assert s.is_managed("agent", "interval_minutes")
    assert "using the built-in default" in s.problems[0]
    assert "IT's value in" in s.origin[("agent", "interval_minutes")]


def test_day_names_are_normalised(etc, user):
    user.write_text("[notifications]\nquiet_days = ['Saturday', 'SUN', 'sun']\n")
    assert load(user).get("notifications", "quiet_days") == ["sat", "sun"]


def test_unknown_keys_are_kept_and_flagged_in_show(etc, user):
    (etc / "config.toml").write_text("[server]\nca_bundle = '/etc/ssl/corp.pem'\n[future]\nx = 1\n")
    s = load(user)
    assert s.get("server", "ca_bundle") == "/etc/ssl/corp.pem"
    assert s.problems == []
    text = format_settings(s)
    assert "not a setting this version knows" in text


def test_explicit_managed_files_still_work(tmp_path, user):
    m = tmp_path / "m.toml"
    m.write_text("[agent]\npolicy_file = '/srv/policy.toml'\n")
    s = load_settings(config_file=str(user), managed_files=[str(m)])
    assert s.get("agent", "policy_file") == "/srv/policy.toml" and s.is_managed("agent", "policy_file")


def test_format_settings_is_valid_toml_with_origins_and_hides_the_token(etc, user):
    from agent.tomlcompat import tomllib
    user.write_text("[agent]\ninterval_minutes = 30\n")
    (etc / "config.toml").write_text("[server]\nurl = 'https://c.example'\nenroll_token = 'sekrit'\n")
    text = format_settings(load(user))
    assert "sekrit" not in text
    parsed = tomllib.loads(text)  # the output can be pasted back as a config file
    assert parsed["agent"]["interval_minutes"] == 30
    assert parsed["server"]["url"] == "https://c.example"
    lines = {l.split(" =")[0]: l for l in text.splitlines() if " = " in l and not l.startswith("#")}
    assert lines["interval_minutes"].endswith(f"# user: {user}")
    assert "# managed by IT: " + str(etc / "config.toml") in lines["url"]
    assert lines["max_snoozes"].endswith("# default")
    assert f"managed by IT {etc / 'config.toml'}: read" in text


def test_cli_config_show_uses_the_managed_layer(etc, user, monkeypatch):
    user.write_text("[server]\nurl = 'https://mine.example'\n")
    (etc / "config.toml").write_text("[server]\nurl = 'https://it.example'\n")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(["config", "show", "--config", str(user)])
    assert code == 0, err.getvalue()
    assert 'url = "https://it.example"' in out.getvalue()
    assert f"your value in {user} is ignored" in out.getvalue()


def test_cli_config_show_reports_a_broken_managed_file_and_keeps_going(etc, user):
    (etc / "config.toml").write_text("this is not toml\n")
    user.write_text("")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(["config", "show", "--config", str(user)])
    assert code == 0
    assert "not valid TOML" in err.getvalue() and "ignored" in err.getvalue()
    assert "interval_minutes = 60" in out.getvalue()
