"""password_manager (Linux): .desktop files, flatpak and snap lists, browser profiles."""
import os

import pytest

from probes.host import RecordedHost
from probes.linux import password_manager as pm

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-data", "password_manager")
HOME = "/home/alice"


def d(name):
    with open(os.path.join(DATA, name), encoding="utf-8", newline="") as fh:
        return fh.read()


def linux(dirs=None, files=None, commands=(), home=HOME):
    return RecordedHost({"platform": "linux", "env": {"HOME": home} if home else {},
                         "dirs": dirs or {}, "files": files or {}, "commands": list(commands)})


def ok(argv, stdout, code=0):
    return {"argv": argv, "stdout": stdout, "stderr": "", "returncode": code}


FLATPAK = ["/usr/bin/flatpak", "list", "--app", "--columns=application"]
SNAP = ["/usr/bin/snap", "list"]


def test_desktop_ids_and_names():
    dirs = {"/usr/share/applications": ["firefox.desktop", "org.keepassxc.KeePassXC.desktop", "proton-mail.desktop"],
            f"{HOME}/.local/share/applications": ["appimagekit_4f2-Proton_Pass.desktop"]}
    files = {f"{HOME}/.local/share/applications/appimagekit_4f2-Proton_Pass.desktop": d("proton-pass-renamed.desktop"),
             "/usr/share/applications/proton-mail.desktop": d("proton-mail.desktop")}
    fact = pm.probe(linux(dirs, files))
    assert fact.observed["found"] == ["KeePassXC", "Proton Pass"]


@pytest.mark.parametrize("name, expected", [
    ("org.keepassxc.KeePassXC.desktop", "KeePassXC"), ("proton-pass-renamed.desktop", "Proton Pass"),
    ("proton-mail.desktop", "Proton Mail")])
def test_desktop_name(name, expected):
    assert pm.desktop_name(d(name)) == expected


def test_desktop_name_garbage():
    assert pm.desktop_name("") is None
    assert pm.desktop_name("[Desktop Action new]\nName=1Password\n") is None


def test_flatpak_and_snap_lists():
    fact = pm.probe(linux({"/usr/share/applications": []}, commands=[ok(FLATPAK, d("flatpak-list.txt")),
                                                                      ok(SNAP, d("snap-list.txt"))]))
    assert fact.observed["found"] == ["Bitwarden", "Enpass"]


def test_snap_without_daemon_and_no_flatpak():
    fact = pm.probe(linux({"/usr/share/applications": []},
                          commands=[{"argv": SNAP, "stdout": "", "stderr": d("snap-no-daemon.txt"), "returncode": 1}]))
    assert fact.observed["found"] == [] and fact.unread == {}


@pytest.mark.parametrize("text", ["", "garbage", "Name Version\n", "Nom  Version\nbitwarden 1\n"])
def test_snap_list_garbage(text):
    assert pm.parse_snap_list(text) in ([], )


def test_firefox_snap_and_chrome():
    root = f"{HOME}/snap/firefox/common/.mozilla/firefox"
    chrome = f"{HOME}/.config/google-chrome"
    dirs = {"/usr/share/applications": [], chrome: ["Default"], f"{chrome}/Default/Extensions":
            ["oboonakemofpalcgghocfoadofidjkkk"]}
    files = {f"{root}/profiles.ini": "[Profile0]\nIsRelative=1\nPath=abc.default\n",
             f"{root}/abc.default/extensions.json": '{"addons":[{"id":"keepassxc-browser@keepassxc.org"}]}'}
    fact = pm.probe(linux(dirs, files))
    assert fact.observed["found"] == ["KeePassXC"]
    assert fact.observed["builtin"] == ["Google Password Manager"]


def test_nothing_readable_is_unread():
    fact = pm.probe(linux({"/usr/share/applications": "denied"}))
    assert "found" not in fact.observed and "denied" in fact.unread["found"]
