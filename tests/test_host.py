"""The Host seam: real processes for LiveHost, the capture rules for RecordedHost."""
from __future__ import annotations

import json
import os
import stat
import time


from probes.host import LiveHost, RecordedHost, RecordingHost, decode, program_key


def test_hanging_command_is_cut_at_its_timeout():
    host = LiveHost()
    start = time.monotonic()
    result = host.run(["/bin/sleep", "30"], timeout=0.5)
    elapsed = time.monotonic() - start
    assert result.error == "timeout" and result.returncode is None
    assert elapsed < 3, elapsed


def test_timeout_also_kills_children_holding_the_pipe(tmp_path):
    # A program that forks a child which keeps stdout open: communicate() would
    # wait for the child too unless the whole process group is killed.
    script = tmp_path / "forker"
    script.write_text("#!/bin/sh\n/bin/sleep 30 &\n/bin/sleep 30\n")
    script.chmod(0o755)
    start = time.monotonic()
    result = LiveHost().run([str(script)], timeout=0.5)
    assert result.error == "timeout"
    assert time.monotonic() - start < 4


def test_absolute_program_is_not_replaced_by_one_earlier_on_path(tmp_path, monkeypatch):
    fake = tmp_path / "echo"
    fake.write_text("#!/bin/sh\necho IMPOSTOR\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    host = LiveHost()
    assert host.run(["/bin/echo", "real"]).stdout.strip() == "real"
    # A bare name is searched in the fixed system folders, never in the user's PATH.
    assert host.run(["echo", "real"]).stdout.strip() == "real"
    assert host.resolve("echo") != str(fake)


def test_missing_program_is_not_found():
    result = LiveHost().run(["/nonexistent/fdesetup", "status"])
    assert result.error == "not_found" and result.returncode is None
    assert LiveHost().run(["no-such-program-xyz"]).error == "not_found"


def test_output_is_decoded_leniently():
    assert decode(b"caf\xc3\xa9 \xff") == "café \ufffd"
    assert decode("é".encode("utf-16")) == "é"
    assert decode(b"\xef\xbb\xbfOK") == "OK"
    assert decode(None) == ""
    result = LiveHost().run(["/usr/bin/printf", "\\377\\376bad"])
    assert isinstance(result.stdout, str)


def test_no_shell_is_involved(tmp_path):
    marker = tmp_path / "pwned"
    result = LiveHost().run(["/bin/echo", f"; touch {marker}"])
    assert result.stdout.strip() == f"; touch {marker}"
    assert not marker.exists()


def test_recorded_host_matching_rules():
    host = RecordedHost({
        "platform": "windows",
        "hostname": "pc",
        "commands": [
            {"argv": ["powershell.exe", "-Command", "x"], "stdout": "1\r\n", "stderr": "", "returncode": 0},
            {"argv": ["fdesetup", "status"], "error": "timeout"},
        ],
        "registry": {"HKLM\\SOFTWARE\\Thing": {"CurrentBuild": "22631", "UBR": 3447}},
        "files": {"/etc/os-release": "ID=x\n"},
        "env": {"A": "b"},
        "processes": ["a.exe"],
        "expect": {"ignored": True},
    })
    assert program_key(r"C:\Windows\System32\WindowsPowerShell\v1.0\PowerShell.EXE") == "powershell"
    assert host.run([r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", "-Command", "x"]).stdout == "1\r\n"
    assert host.run(["powershell.exe", "-Command", "X"]).error == "not_found"  # the rest matches exactly
    assert host.run(["/usr/bin/fdesetup", "status"]).error == "timeout"
    assert host.run(["/usr/bin/other"]).error == "not_found"
    assert host.registry("hklm\\software\\THING", "currentbuild") == "22631"
    assert host.registry("HKLM\\SOFTWARE\\Thing", "UBR") == 3447
    assert host.registry("HKLM\\SOFTWARE\\Thing", "Missing") is None
    assert host.registry("HKLM\\SOFTWARE\\Nope", "UBR") is None
    assert host.read_text("/etc/os-release") == "ID=x\n"
    assert host.read_text("/etc/missing") is None
    assert host.env("A") == "b" and host.env("B") is None
    assert host.processes() == ["a.exe"] and host.hostname() == "pc" and host.is_admin() is False


def test_capture_of_this_machine_replays_to_the_same_checks(tmp_path):
    """`checkup capture` then `checkup check --replay` gives what the live run gave."""
    from agent.cli import main
    from agent.pipeline import run_check
    from agent.policy import load_policy

    capture = tmp_path / "me.json"
    assert main(["capture", str(capture)]) == 0
    data = json.loads(capture.read_text())
    assert data["platform"] == LiveHost().platform
    assert data["commands"] or data["files"]

    policy = load_policy()
    live = run_check(LiveHost(), policy)
    replayed = run_check(RecordedHost.load(str(capture)), policy)
    strip = lambda r: [(c["id"], c["status"], c["observed"]) for c in r["checks"] if c["id"] != "security_software"]
    assert strip(replayed) == strip(live)
    assert replayed["device"] == live["device"]


def test_recording_host_records_errors_and_absence(tmp_path):
    rec = RecordingHost(LiveHost())
    rec.run(["/nonexistent/tool", "x"])
    rec.run(["/bin/sleep", "5"], timeout=0.2)
    assert rec.read_text(str(tmp_path / "missing")) is None
    data = rec.capture()
    errors = {tuple(c["argv"]): c.get("error") for c in data["commands"]}
    assert errors[("/nonexistent/tool", "x")] == "not_found"
    assert errors[("/bin/sleep", "5")] == "timeout"
    assert str(tmp_path / "missing") not in data["files"]
    again = RecordedHost(json.loads(json.dumps(data)))
    assert again.run(["/bin/sleep", "5"]).error == "timeout"


def test_proc_sys_files_are_readable():
    # /proc/sys refuses a single multi-megabyte read(); the kernel release must still be read.
    text = LiveHost().read_text("/proc/sys/kernel/osrelease")
    assert text and text.strip() == os.uname().release


def test_absolute_path_falls_back_to_other_system_folders_only():
    host = LiveHost()
    # /usr/sbin/echo does not exist but /usr/bin/echo (or /bin/echo) does: same program, other folder.
    assert host.resolve("/usr/sbin/echo") in ("/usr/bin/echo", "/bin/echo")
    assert host.run(["/usr/sbin/echo", "ok"]).stdout.strip() == "ok"
    # Outside the system folders an absolute path means exactly that path.
    assert host.resolve("/opt/nowhere/echo") is None


def test_recording_host_gives_every_caller_the_one_process_list_it_captures():
    # Two probes read the process list (remote_login without systemd, security_software); the
    # live list changes between the calls, but a capture holds one list, so the run must too.
    class Churning(RecordedHost):
        calls = 0

        def processes(self):
            Churning.calls += 1
            return ["init", f"worker-{Churning.calls}"]

    recorder = RecordingHost(Churning({"platform": "linux"}))
    first = recorder.processes()
    assert recorder.processes() == first == ["init", "worker-1"]
    assert recorder.capture()["processes"] == first and Churning.calls == 1
