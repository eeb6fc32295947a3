"""The command line as a person and a script use it: output, exit codes, bad input."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
COMPLIANT_MAC = FIXTURES / "macos" / "sonoma-14-6-compliant.json"
FAILING_WIN = FIXTURES / "windows" / "win10-22h2-bitlocker-off-firewall-partly-off.json"
PAGES_HOME = tempfile.mkdtemp(prefix="checkup-cli-pages-")


def checkup(*args, env=None, stdin=None):
    full_env = dict(os.environ)
    full_env.pop("NO_COLOR", None)
    full_env.pop("COLUMNS", None)
    full_env["XDG_DATA_HOME"] = PAGES_HOME   # the report pages `checkup` writes go here
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True,
                          timeout=60, env=full_env, cwd=ROOT, input=stdin)


def fixture_policy(capture: Path, tmp_path: Path) -> str:
    p = tmp_path / "policy.toml"
    p.write_text(json.loads(capture.read_text())["policy"])
    return str(p)


def test_table_is_worst_first_with_hints_and_no_colour_when_piped(tmp_path):
    proc = checkup("check", "--replay", str(FAILING_WIN), "--policy", fixture_policy(FAILING_WIN, tmp_path))
    assert proc.returncode == 2, proc.stderr
    out = proc.stdout
    assert "\033[" not in out
    rows = [line for line in out.splitlines() if line.startswith("  ") and "->" not in line]
    labels = [r.split()[0] for r in rows]
    order = {"FAIL": 4, "FIX": 3, "UNKNOWN": 2, "SKIP": 1, "OK": 0}
    ranks = [order[label] for label in labels]
    assert ranks == sorted(ranks, reverse=True), out
    assert "-> " in out  # a fix hint under the failing lines
    assert "7 things need your attention." in out


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path):
    from agent.table import render_table
    from agent.pipeline import run_check
    from agent.policy import load_policy
    from probes.host import RecordedHost
    report = run_check(RecordedHost.load(str(FAILING_WIN)), load_policy(fixture_policy(FAILING_WIN, tmp_path)))
    assert "\033[31m" in render_table(report, color=True)
    assert "\033[" not in render_table(report, color=False)
    from agent import cli
    os.environ["NO_COLOR"] = "1"
    try:
        assert cli._use_color() is False
    finally:
        del os.environ["NO_COLOR"]


def test_json_and_exit_code_pass_or_nudge(tmp_path):
    proc = checkup("check", "--json", "--replay", str(COMPLIANT_MAC), "--policy", fixture_policy(COMPLIANT_MAC, tmp_path))
    report = json.loads(proc.stdout)
    assert report["schema"] == 1 and report["checked_at"].endswith("Z")
    assert {c["id"] for c in report["checks"]} >= {"disk_encryption", "firewall", "security_software"}
    assert proc.returncode == {"pass": 0, "nudge": 1}[report["status"]]


def test_all_passing_exits_zero(tmp_path):
    policy = tmp_path / "lenient.toml"
    policy.write_text('[os_version]\nrecommended = {}\n')
    proc = checkup("check", "--replay", str(COMPLIANT_MAC), "--policy", str(policy))
    assert proc.returncode == 0, proc.stdout
    assert "Everything looks good." in proc.stdout


def test_version_and_help():
    proc = checkup("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("checkup ")
    proc = checkup("--help")
    assert proc.returncode == 0 and "capture" in proc.stdout and "Exit codes" in proc.stdout


def test_policy_show_prints_effective_policy(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text("[screen_lock]\nmax_seconds = 120\n")
    proc = checkup("policy", "show", "--policy", str(p))
    assert proc.returncode == 0
    assert "max_seconds = 120" in proc.stdout and "[disk_encryption]" in proc.stdout


def one_line_error(proc, *needles):
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("content,needle", [
    (b"", "not a valid JSON"),
    (b"{not json", "line 1"),
    (b"[1, 2, 3]", "JSON object"),
    (b'"just a string"', "JSON object"),
    (b'{"platform": "beos"}', "unknown platform"),
    (b'{"commands": []}', "unknown platform"),
    (b"\x00\xff\xfe garbage \x89PNG", "not a valid JSON"),
    (b'{"platform": "linux", "commands": [' * 1, "line 1"),
])
def test_bad_capture_is_one_clear_line(tmp_path, content, needle):
    f = tmp_path / "capture.json"
    f.write_bytes(content)
    one_line_error(checkup("check", "--replay", str(f)), str(f), needle)


def test_missing_capture_and_policy_files(tmp_path):
    one_line_error(checkup("check", "--replay", str(tmp_path / "none.json")), "none.json", "no such file")
    one_line_error(checkup("check", "--replay", str(COMPLIANT_MAC), "--policy", str(tmp_path / "p.toml")),
                   "p.toml", "no such file")


@pytest.mark.parametrize("body,needle", [
    ("[firewall\n", "line"),
    ("[antivirus_plus]\nlevel='required'\n", "antivirus_plus"),
    ("[firewall]\nlevel='sometimes'\n", "firewall.level"),
    ("[screen_lock]\nmax_seconds='soon'\n", "screen_lock.max_seconds"),
])
def test_bad_policy_is_one_clear_line(tmp_path, body, needle):
    p = tmp_path / "policy.toml"
    p.write_text(body)
    one_line_error(checkup("check", "--replay", str(COMPLIANT_MAC), "--policy", str(p)), str(p), needle)
    one_line_error(checkup("policy", "show", "--policy", str(p)), str(p), needle)


def test_unknown_subcommand_and_flag():
    one_line_error(checkup("frobnicate"), "frobnicate")
    one_line_error(checkup("check", "--colour"), "--colour")


@pytest.mark.parametrize("key,value,needle", [
    ("commands", "x", "commands must be a list"),
    ("registry", [1, 2], "registry must be"),
    ("hostname", ["x"], "hostname must be text"),
    ("is_admin", "yes", "is_admin must be true or false"),
    ("processes", "launchd", "processes must be"),
    ("files", {"/etc/os-release": 3}, "files must be"),
    ("env", [], "env must be"),
])
def test_capture_fields_of_the_wrong_type_are_refused(tmp_path, key, value, needle):
    data = json.loads(COMPLIANT_MAC.read_text())
    data[key] = value
    f = tmp_path / "c.json"
    f.write_text(json.dumps(data))
    one_line_error(checkup("check", "--replay", str(f)), str(f), needle)


@pytest.mark.parametrize("entry,needle", [
    ({"argv": []}, "commands[16].argv"),
    ({"argv": "fdesetup status"}, "commands[16].argv"),
    ("garbage", "commands[16] must be an object"),
    ({"argv": ["x"], "error": "exploded"}, "commands[16].error"),
    ({"argv": ["x"], "stdout": 5}, "commands[16].stdout"),
    ({"argv": ["x"], "returncode": "0"}, "commands[16].returncode"),
])
def test_malformed_command_entries_are_refused(tmp_path, entry, needle):
    data = json.loads(COMPLIANT_MAC.read_text())
    assert len(data["commands"]) == 16
    data["commands"].append(entry)
    f = tmp_path / "c.json"
    f.write_text(json.dumps(data))
    one_line_error(checkup("check", "--replay", str(f)), str(f), needle)


def test_extra_keys_in_a_capture_are_ignored(tmp_path):
    data = json.loads(COMPLIANT_MAC.read_text())
    data["something_new"] = {"x": 1}
    data["commands"][0]["note"] = "extra keys inside an entry are ignored too"
    data["hostname"] = None  # any field may be null or absent
    del data["env"]
    f = tmp_path / "c.json"
    f.write_text(json.dumps(data))
    proc = checkup("check", "--json", "--replay", str(f))
    assert proc.returncode in (0, 1, 2), proc.stderr
    json.loads(proc.stdout)


@pytest.mark.parametrize("mangle", ["empty_object_platform_only", "truncated_outputs", "huge", "all_errors"])
def test_mangled_captures_never_crash(tmp_path, mangle):
    data = json.loads(FAILING_WIN.read_text())
    if mangle == "empty_object_platform_only":
        data = {"platform": "windows"}
    elif mangle == "truncated_outputs":
        for c in data["commands"]:
            if "stdout" in c:
                c["stdout"] = c["stdout"][: len(c["stdout"]) // 3]
        data["registry"] = {k: {n: (str(v)[:1] if isinstance(v, str) else v) for n, v in vals.items()}
                            for k, vals in data["registry"].items()}
    elif mangle == "huge":
        for c in data["commands"]:
            c["stdout"] = "x" * 200_000 + "\r\n" + c.get("stdout", "")
    elif mangle == "all_errors":
        for c in data["commands"]:
            for k in ("stdout", "stderr", "returncode"):
                c.pop(k, None)
            c["error"] = "timeout"
        data["registry"] = {}
    f = tmp_path / "c.json"
    f.write_text(json.dumps(data))
    proc = checkup("check", "--json", "--replay", str(f))
    assert proc.returncode in (0, 1, 2, 3) and "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    for check in report["checks"]:
        assert check["status"] in ("pass", "skip", "unknown", "nudge", "fail")
    if mangle in ("empty_object_platform_only", "all_errors"):
        by_id = {c["id"]: c for c in report["checks"]}
        assert by_id["disk_encryption"]["status"] == "unknown"
        assert by_id["firewall"]["status"] == "unknown"


def test_table_shows_the_command_a_hint_refers_to():
    from agent.table import render_table
    report = {"status": "nudge", "device": {}, "checks": [{
        "id": "automatic_updates", "status": "nudge", "title": "Automatic updates", "summary": "Off.",
        "fix": {"hint": "Turn on automatic security updates: run the command shown in a terminal.",
                "command": "sudo dpkg-reconfigure -plow unattended-upgrades"}}]}
    out = render_table(report)
    assert "$ sudo dpkg-reconfigure -plow unattended-upgrades" in out


def test_options_work_before_and_after_the_command(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text("[screen_lock]\nmax_seconds = 120\n")
    for args in (("--policy", str(p), "policy", "show"), ("policy", "show", "--policy", str(p))):
        proc = checkup(*args)
        assert proc.returncode == 0 and "max_seconds = 120" in proc.stdout, args
    before = checkup("--policy", str(p), "check", "--json", "--replay", str(COMPLIANT_MAC))
    after = checkup("check", "--json", "--replay", str(COMPLIANT_MAC), "--policy", str(p))
    lock = lambda proc: next(c for c in json.loads(proc.stdout)["checks"] if c["id"] == "screen_lock")
    assert lock(before)["status"] == lock(after)["status"] == "fail"
    one_line_error(checkup("--config", str(tmp_path / "missing.toml"), "check"), "missing.toml")


def test_headline_never_hides_what_could_not_be_checked():
    zfs = FIXTURES / "linux" / "ubuntu-24-04-gnome-zfs-root-unknown-encryption.json"
    proc = checkup("check", "--replay", str(zfs))
    assert "Nothing needs fixing, but 1 thing could not be checked." in proc.stdout
    mac = FIXTURES / "macos" / "sonoma-14-7-probe-timeouts.json"
    proc = checkup("check", "--replay", str(mac))
    headline = proc.stdout.splitlines()[1]
    assert "could not be checked" in headline and "Everything looks good" not in proc.stdout


def test_tooltip_says_what_could_not_be_checked():
    from agent.strings import tooltip_words
    report = {"status": "pass", "checks": [{"status": "pass"}, {"status": "unknown"}, {"status": "unknown"}]}
    assert tooltip_words(report) == "Checkup: nothing to fix; 2 things could not be checked"
    report["checks"] = [{"status": "pass"}]
    assert tooltip_words(report) == "Checkup: everything looks good"


def test_tray_without_a_display_says_so_in_words():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "tray", "--replay", str(COMPLIANT_MAC)],
                          capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    one_line_error(proc, "needs a desktop session", "no display was found")


# --------------------------------------------------------------------------------------
# Wrapping to the terminal's width; `checkup explain`; where the report page is
# --------------------------------------------------------------------------------------

WRAP_CASES = [FAILING_WIN, FIXTURES / "linux" / "debian-12-no-systemd-dropbear-running-unencrypted-vda.json",
              FIXTURES / "linux" / "ubuntu-22-04-gnome-lock-disabled-mokutil-missing.json",
              FIXTURES / "macos" / "ventura-13-6-filevault-off-remote-login-admin.json"]


def _unbreakable(report: dict) -> list[str]:
    """Every command a line must never split: the fixes' commands, their settings commands and
    anything in backticks."""
    out = []
    for check in report["checks"]:
        fix = check.get("fix") or {}
        if fix.get("command"):
            out.append(fix["command"])
        if fix.get("open"):
            out.append(" ".join(fix["open"]))
        for text in (check.get("summary") or "", fix.get("hint") or ""):
            out += re.findall(r"`[^`]*`", text)
    return [c for c in out if " " in c]


def _check_wrapped(out: str, cols: int, report: dict) -> None:
    flat = " ".join(out.split())
    for line in out.splitlines():
        if len(line) > cols:   # only a single piece that cannot be split may run past the edge
            assert " " not in line.strip() or any(c in line for c in _unbreakable(report)) \
                or line.strip().startswith("$ "), (cols, line)
    for cmd in _unbreakable(report):
        if cmd in flat:
            assert any(cmd in line for line in out.splitlines()), (cols, cmd, out)
    for word in re.findall(r"[A-Za-z]{4,}", flat):   # no word cut in two
        assert word in out, (cols, word)


@pytest.mark.parametrize("cols", [60, 80, 120])
@pytest.mark.parametrize("capture", WRAP_CASES, ids=[c.stem for c in WRAP_CASES])
def test_table_wraps_to_the_terminal_width_never_inside_a_command(capture, cols, tmp_path):
    policy = fixture_policy(capture, tmp_path)
    report = json.loads(checkup("check", "--json", "--replay", str(capture), "--policy", policy).stdout)
    out = checkup("check", "--replay", str(capture), "--policy", policy, env={"COLUMNS": str(cols)}).stdout
    _check_wrapped(out, cols, report)
    assert max(len(line) for line in out.splitlines()) > cols * 0.8   # it does use the width
    # every summary and hint is there, whole, once the line breaks are undone
    flat = " ".join(out.split())
    for check in report["checks"]:
        assert " ".join(check["summary"].split()) in flat, check["id"]
        if check["status"] in ("fail", "nudge"):
            assert " ".join(check["fix"]["hint"].split()) in flat
    page = re.search(r"file://\S+/report\.html", out)
    assert page and Path(page.group(0)[len("file://"):]).is_file()


def test_a_pipe_gets_one_line_per_item(tmp_path):
    proc = checkup("check", "--replay", str(FAILING_WIN), "--policy", fixture_policy(FAILING_WIN, tmp_path))
    assert any(len(line) > 120 for line in proc.stdout.splitlines())
    assert "Details and how to fix each one: file://" in proc.stdout


def test_a_long_command_stays_on_one_line():
    from agent.table import wrap
    cmd = "sudo apt install unattended-upgrades && sudo dpkg-reconfigure -plow unattended-upgrades"
    lines = wrap(f"Run {cmd} in a terminal, then `sudo systemctl restart x` to finish.", "-> ", 3, 40, [cmd])
    assert cmd in lines[1] and any("`sudo systemctl restart x`" in line for line in lines)
    assert all(len(line) <= 40 for line in lines if cmd not in line)


def test_explain_prints_the_steps_and_the_link(tmp_path):
    proc = checkup("explain", "firewall", "--replay", str(FAILING_WIN),
                   "--policy", fixture_policy(FAILING_WIN, tmp_path), env={"COLUMNS": "80"})
    assert proc.returncode == 2, proc.stderr
    report = json.loads(checkup("check", "--json", "--replay", str(FAILING_WIN),
                                "--policy", fixture_policy(FAILING_WIN, tmp_path)).stdout)
    fix = next(c for c in report["checks"] if c["id"] == "firewall")["fix"]
    flat = " ".join(proc.stdout.split())
    for step in fix["steps"]:
        assert " ".join(step.split()) in flat
    assert fix["link"] in proc.stdout and fix["menu_path"] in flat
    page = re.search(r"file://\S+/firewall\.html", proc.stdout)
    assert page and Path(page.group(0)[len("file://"):]).is_file()
    _check_wrapped(proc.stdout, 80, report)


def test_explain_an_unknown_claims_nothing_and_fix_is_the_same(tmp_path):
    capture = FIXTURES / "linux" / "ubuntu-22-04-gnome-lock-disabled-mokutil-missing.json"
    proc = checkup("fix", "system-integrity", "--replay", str(capture), "--policy", fixture_policy(capture, tmp_path))
    assert proc.returncode == 3
    assert "IT will look into it" in proc.stdout
    assert "Secure Boot is off" not in proc.stdout and "Contact IT" not in proc.stdout
    screen = checkup("explain", "screen_lock", "--replay", str(capture), "--policy", fixture_policy(capture, tmp_path))
    assert "$ gnome-control-center lock" in screen.stdout   # the Linux settings command


def test_explain_a_check_that_does_not_exist(tmp_path):
    proc = checkup("explain", "nope", "--replay", str(FAILING_WIN), "--policy", fixture_policy(FAILING_WIN, tmp_path))
    assert proc.returncode == 3 and "no check called 'nope'" in proc.stderr and "firewall" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_in_tmux_at_80_columns(tmp_path):
    """A real terminal: tmux at 80 columns, no COLUMNS set; nothing wraps by the terminal."""
    capture = FIXTURES / "linux" / "debian-12-no-systemd-dropbear-running-unencrypted-vda.json"
    policy = fixture_policy(capture, tmp_path)
    out = tmp_path / "out.txt"
    sock = str(tmp_path / "tmux.sock")
    script = tmp_path / "run.sh"
    script.write_text(f"unset COLUMNS; export XDG_DATA_HOME={PAGES_HOME} PYTHONPATH={ROOT}; cd {ROOT}; "
                      f"{sys.executable} -m agent.cli check --replay {capture} --policy {policy} "
                      f"> /dev/tty; tmux -S {sock} capture-pane -p -J -S - > {out}.tmp; mv {out}.tmp {out}; sleep 30\n")
    subprocess.run(["tmux", "-S", sock, "new-session", "-d", "-x", "80", "-y", "60", "bash", str(script)],
                   check=True, timeout=10)
    try:
        deadline = time.time() + 60
        while not out.exists() and time.time() < deadline:
            time.sleep(0.2)
        text = out.read_text()
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], timeout=10)
    lines = [line for line in text.splitlines() if line.strip()]
    assert any(line.startswith("  FAIL") for line in lines), text
    assert [line for line in lines if len(line) > 80 and "$ " not in line] == [], text
    assert "\033[" not in text and any(len(line) > 60 for line in lines)
