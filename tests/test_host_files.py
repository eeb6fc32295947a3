"""The Host seam's file readers that config reading needs (read_file, list_dir): live,
recorded and replayed, and config reading only through them."""
from __future__ import annotations

import json
import plistlib

from agent import config
from agent.config import load_settings
from probes.host import FileRead, Host, LiveHost, RecordedHost, RecordingHost


def test_live_read_file(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"\x00\xffplist")
    host = LiveHost()
    assert host.read_file(str(f)) == FileRead(b"\x00\xffplist")
    assert host.read_file(str(tmp_path / "absent")) == FileRead()
    assert host.read_file(str(f / "below-a-file")) == FileRead()
    assert host.read_file(str(tmp_path)) == FileRead(problem="is a directory")
    assert host.read_file("bad\x00path").problem.startswith("cannot be read (")
    assert host.read_text(str(tmp_path)) is None


def test_live_list_dir(tmp_path):
    (tmp_path / "b.toml").write_text("")
    (tmp_path / "a.toml").write_text("")
    assert LiveHost().list_dir(str(tmp_path)) == ["a.toml", "b.toml"]
    assert LiveHost().list_dir(str(tmp_path)).ok
    assert LiveHost().list_dir(str(tmp_path / "absent")) == []
    assert LiveHost().list_dir(str(tmp_path / "absent")).error == "not_found"


def test_recorded_list_dir_and_read_file():
    host = RecordedHost({"platform": "linux", "dirs": {"/etc/checkup/config.d": ["b.toml", "a.toml", 3],
                                                        "/root": "denied"},
                         "files": {"/etc/checkup/config.toml": "z"}})
    assert host.list_dir("/etc/checkup/config.d") == ["a.toml", "b.toml"]
    assert host.list_dir("/root").error == "denied" and host.list_dir("/nope").error == "not_found"
    assert host.read_file("/etc/checkup/config.toml") == FileRead(b"z")
    assert host.read_file("/nope") == FileRead()


def test_a_recording_replays_config_d(tmp_path, monkeypatch):
    root = tmp_path / "etc"
    (root / "config.d").mkdir(parents=True)
    (root / "config.d" / "50-server.toml").write_text('[server]\nurl = "https://it.example"\n')
    monkeypatch.setattr(config, "LINUX_MANAGED_FILE", str(root / "config.toml"))
    monkeypatch.setattr(config, "LINUX_MANAGED_DIR", str(root / "config.d"))

    class LinuxLive(LiveHost):
        platform = "linux"

        def __init__(self):
            pass

    recorder = RecordingHost(LinuxLive())
    user = str(tmp_path / "user.toml")
    live = load_settings(config_file=user, host=recorder)
    assert live.get("server", "url") == "https://it.example"
    capture = json.loads(json.dumps(recorder.capture()))
    assert capture["dirs"] == {str(root / "config.d"): ["50-server.toml"]}
    (root / "config.d" / "50-server.toml").unlink()
    replayed = load_settings(config_file=user, host=RecordedHost(capture))
    assert replayed.get("server", "url") == "https://it.example"
    assert replayed.problems == []


def test_config_reads_any_host_through_the_seam(tmp_path):
    # not a LiveHost and not a capture: config reading uses only the Host methods
    plist = plistlib.dumps({"agent": {"interval_minutes": 25}}, fmt=plistlib.FMT_BINARY)

    class Mac(Host):
        platform = "darwin"
        asked: list = []

        def read_text(self, path):
            return None

        def read_file(self, path):
            self.asked.append(path)
            return FileRead(plist) if path == config.MACOS_MANAGED_PLIST else FileRead()

    host = Mac()
    s = load_settings(config_file=str(tmp_path / "user.toml"), host=host)
    assert s.get("agent", "interval_minutes") == 25
    assert host.asked == [config.MACOS_MANAGED_FILE, config.MACOS_MANAGED_PLIST]


def test_an_unreadable_managed_plist_is_a_problem(tmp_path):
    class Mac(Host):
        platform = "darwin"

        def read_text(self, path):
            return None

        def read_file(self, path):
            return FileRead(problem="cannot be read (Permission denied)") \
                if path == config.MACOS_MANAGED_PLIST else FileRead()

    s = load_settings(config_file=str(tmp_path / "user.toml"), host=Mac())
    assert s.problems == [f"{config.MACOS_MANAGED_PLIST}: cannot be read (Permission denied); ignored"]


def test_config_has_no_way_around_the_seam():
    text = open(config.__file__, encoding="utf-8").read()
    assert "getattr(host" not in text and "isinstance(host" not in text and "read_bytes" not in text
