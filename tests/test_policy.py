import pytest

from agent.policy import PolicyError, compare_versions, load_policy, parse_version


@pytest.mark.parametrize("a,b,want", [
    ("10.0.19041", "10.0.1941", 1),
    ("14", "14.0", 0),
    ("14.0.0", "14", 0),
    ("10.13", "10.13.6", -1),
    ("14.4.1", "14.5", -1),
    ("13.3.1 (a)", "13.3.1", 0),
    ("13.3.1 (a)", "13.3.2", -1),
    ("24.04", "22.04", 1),
    ("10.0.22631.3447", "10.0.26100", -1),
    ("12", "9", 1),
    ("26.1", "15.7.2", 1),
])
def test_versions_compare_numerically(a, b, want):
    assert compare_versions(a, b) == want


@pytest.mark.parametrize("text", [None, "", "abc", "(a)", "rolling"])
def test_not_a_version(text):
    assert parse_version(text) is None
    assert compare_versions(text, "1.0") is None


def test_default_policy_ships_and_has_every_check():
    policy = load_policy()
    assert policy.level("disk_encryption") == "required"
    assert policy.level("automatic_updates") == "suggested"
    assert policy.level("remote_login") == "suggested"
    assert policy.param("screen_lock", "max_seconds") == 900
    assert policy.param("os_version", "minimum")["macos"]
    assert policy.required_software("darwin") == []


def test_file_overrides_keys_check_by_check(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[screen_lock]\nmax_seconds = 300\n\n[remote_login]\nlevel = "required"\n'
                 '[security_software]\nrequire = { darwin = ["falcond"] }\n'
                 '[organization]\nname = "Acme"\n')
    policy = load_policy(str(f))
    assert policy.param("screen_lock", "max_seconds") == 300
    assert policy.level("screen_lock") == "required"          # kept from the default
    assert policy.level("remote_login") == "required"
    assert policy.required_software("darwin") == ["falcond"]
    assert policy.required_software("linux") == []
    assert policy.organization["name"] == "Acme"
    assert "max_seconds = 300" in policy.to_toml()


def test_require_may_be_a_plain_list(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[security_software]\nrequire = ["osqueryd"]\n')
    assert load_policy(str(f)).required_software("windows") == ["osqueryd"]


def test_policy_show_round_trips(tmp_path):
    text = load_policy().to_toml()
    f = tmp_path / "again.toml"
    f.write_text(text)
    assert load_policy(str(f)).checks == load_policy().checks


@pytest.mark.parametrize("body,needle", [
    ("[firewall\nlevel = 1", "line 1"),
    ("[bogus_check]\nlevel = \"required\"\n", "bogus_check"),
    ("[firewall]\nlevel = \"mandatory\"\n", "firewall.level"),
    ("[screen_lock]\nmax_seconds = \"15 minutes\"\n", "screen_lock.max_seconds"),
    ("[screen_lock]\nmax_seconds = -5\n", "screen_lock.max_seconds"),
    ("[os_version]\nminimum = \"14\"\n", "os_version.minimum"),
    ("[os_version]\nminimum = { macos = 14 }\n", "os_version.minimum"),
    ("[os_version]\nminimum = { macos = \"fourteen\" }\n", "os_version.minimum"),
    ("[os_version]\nminimum = { macos = \"\" }\n", "os_version.minimum"),
    ("[os_version]\nrecommended = { macOS = \"15\" }\n", "os_version.recommended"),
    ("[firewall]\ncolour = \"red\"\n", "firewall.colour"),
    ("[security_software]\nrequire = { beos = [\"x\"] }\n", "security_software.require"),
    ("[organization]\nname = 3\n", "organization.name"),
    ("firewall = 1\n", "firewall"),
])
def test_bad_policy_names_file_and_key(tmp_path, body, needle):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    with pytest.raises(PolicyError) as err:
        load_policy(str(f))
    message = str(err.value)
    assert str(f) in message and needle in message
    assert "\n" not in message


def test_missing_policy_file(tmp_path):
    with pytest.raises(PolicyError, match="no such file"):
        load_policy(str(tmp_path / "nope.toml"))
