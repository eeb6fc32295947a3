"""The Linux probes on THIS machine (LiveHost), a capture/replay round trip, and real gsettings.

CI needs, for the gsettings test: apt-get install -y libglib2.0-bin gsettings-desktop-schemas
dconf-gsettings-backend dconf-service dbus (dbus-run-session). Without gsettings it is skipped.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys

import pytest

from probes import probe_all
from probes.host import LiveHost, RecordedHost, RecordingHost
from probes.linux import screen_lock

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

NOT_BLOCK_ROOTS = {"overlay", "zfs", "tmpfs", "rootfs", "9p", "virtiofs", "aufs", "squashfs"}


def root_mount() -> tuple[str, str]:
    """(file system type, source) of / from /proc/self/mountinfo, read independently."""
    found = ("", "")
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fields = left.split()
            if len(fields) >= 5 and fields[4] == "/":
                parts = right.split()
                found = (parts[0], parts[1] if len(parts) > 1 else "")
    return found


def as_dict(facts):
    return {c: {"observed": f.observed, "unread": f.unread, "skip": f.skip,
                "extra": {k: v for k, v in f.extra.items()}} for c, f in facts.items()}


def test_live_machine():
    facts, ident = probe_all(LiveHost())
    assert set(ident) == {"serial", "hardware_uuid", "model"}
    for check, fact in facts.items():
        if check == "security_software":  # the lead's common probe: process names in extra
            continue
        assert fact.observed or fact.unread or fact.skip, check
        assert "_" not in fact.unread, (check, fact.unread)  # no probe crashed

    # os_version agrees with Python's own reading of os-release
    release = platform.freedesktop_os_release() if hasattr(platform, "freedesktop_os_release") else {}
    if release.get("ID"):
        assert facts["os_version"].observed["id"] == release["ID"]
        assert facts["os_version"].extra["os_id"] == release["ID"].lower()

    # disk encryption: never "off" when / is not a block device (container overlay, ZFS, ...)
    fstype, source = root_mount()
    disk = facts["disk_encryption"]
    if fstype in NOT_BLOCK_ROOTS or not source.startswith("/dev/"):
        assert "state" not in disk.observed
        # the reason names what / is (read from the same mountinfo) rather than guessing
        from probes.linux import disk_encryption as de
        if fstype == "zfs":
            assert disk.unread["state"] == de.ZFS_ROOT
        elif fstype in NOT_BLOCK_ROOTS:
            assert disk.unread["state"] == de.NO_DISK
        else:
            assert disk.unread["state"] in (de.NO_DISK, de.NO_ROOT)
    elif shutil.which("lsblk"):
        # / is a real block device here (this test VM: ext4 on /dev/vda), so lsblk can answer
        assert disk.observed.get("state") in ("on", "off"), disk

    # no desktop in the test environment -> screen lock skipped
    if not any(os.environ.get(v) for v in ("XDG_CURRENT_DESKTOP", "DISPLAY", "WAYLAND_DISPLAY",
                                           "KDE_SESSION_VERSION")):
        assert facts["screen_lock"].skip == "no desktop session"

    fw = facts["firewall"]
    assert fw.unread or fw.observed["backend"] in (None, "ufw", "firewalld", "nftables", "iptables")


def test_live_kernel_release():
    facts, _ = probe_all(LiveHost(), only=("os_version",))
    assert facts["os_version"].observed.get("build") == platform.release()


def test_recorded_live_run_replays_the_same():
    recorder = RecordingHost(LiveHost())
    facts, ident = probe_all(recorder)
    capture = json.loads(json.dumps(recorder.capture()))  # through JSON, as a file would be
    replay_facts, replay_ident = probe_all(RecordedHost(capture))
    assert replay_ident == ident
    assert as_dict(replay_facts) == as_dict(facts)


# -- real gsettings -----------------------------------------------------------------------
GSETTINGS = "/usr/bin/gsettings"


@pytest.fixture
def dconf_home(tmp_path, monkeypatch):
    if not os.path.exists(GSETTINGS):
        pytest.skip("gsettings is not installed (apt-get install libglib2.0-bin "
                    "gsettings-desktop-schemas dconf-gsettings-backend dconf-service dbus)")
    schemas = subprocess.run([GSETTINGS, "list-schemas"], capture_output=True, text=True).stdout
    if "org.gnome.desktop.screensaver" not in schemas.split():
        pytest.skip("gsettings-desktop-schemas is not installed")
    if not shutil.which("dbus-run-session"):
        pytest.skip("dbus-run-session is not installed (package dbus)")
    config, runtime = tmp_path / "config", tmp_path / "runtime"
    config.mkdir()
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("GSETTINGS_BACKEND", raising=False)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "ubuntu:GNOME")
    return config


def gsettings_set(values: list[tuple[str, str, str]]) -> None:
    """Write with the real dconf backend: writes go through dconf-service on a session bus,
    exactly like a desktop; the probe then reads the user database without D-Bus."""
    script = "; ".join(f"{GSETTINGS} set {schema} {key} {value}" for schema, key, value in values)
    done = subprocess.run(["dbus-run-session", "--", "sh", "-c", script], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_real_gsettings_defaults(dconf_home):
    # nothing written yet: the schema defaults of gsettings-desktop-schemas
    fact = screen_lock.probe(LiveHost())
    assert fact.observed == {"enabled": True, "idle_seconds": 300, "lock_delay_seconds": 0}


@pytest.mark.parametrize("lock, idle, delay", [("true", 900, 30), ("false", 0, 0), ("true", 60, 5)])
def test_real_gsettings_values(dconf_home, lock, idle, delay):
    gsettings_set([("org.gnome.desktop.screensaver", "lock-enabled", lock),
                   ("org.gnome.desktop.session", "idle-delay", str(idle)),
                   ("org.gnome.desktop.screensaver", "lock-delay", str(delay))])
    assert (dconf_home / "dconf" / "user").exists()
    fact = screen_lock.probe(LiveHost())
    assert fact.observed == {"enabled": lock == "true", "idle_seconds": idle,
                             "lock_delay_seconds": delay}
    assert not fact.unread
