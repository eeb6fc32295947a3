"""password_manager (Linux): apps by their .desktop files (/usr/share/applications,
/usr/local/share/applications, ~/.local/share/applications, the flatpak exports in
/var/lib/flatpak and ~/.local/share/flatpak, snap's /var/lib/snapd/desktop/applications),
plus ``flatpak list --app --columns=application`` and ``snap list``; and the extensions of
Chrome, Chromium, Edge and Brave (~/.config/...) and Firefox (~/.mozilla/firefox, the snap's
~/snap/firefox/common/.mozilla/firefox, the flatpak's ~/.var/app/org.mozilla.firefox/.mozilla/
firefox). Chrome's own password saving (Google Password Manager) is the built-in one.
"""
from __future__ import annotations

import posixpath
import re

from ..fact import Fact
from ..host import Host
from ..password_managers import EDGE_PASSWORDS, GOOGLE_PASSWORDS, Scan, env_path, manager_named, scan_chromium, \
    scan_firefox, to_fact
from ._util import run

join = posixpath.join
FLATPAK = "/usr/bin/flatpak"
SNAP = "/usr/bin/snap"

SYSTEM_DESKTOP_DIRS = (
    "/usr/share/applications",
    "/usr/local/share/applications",
    "/var/lib/flatpak/exports/share/applications",
    "/var/lib/snapd/desktop/applications",
)
# Desktop ids (file names without .desktop, lower case) and flatpak app ids / snap names.
APP_IDS = {
    "1password": "1Password",
    "com.onepassword.onepassword": "1Password",        # flatpak (Flathub)
    "1password_1password": "1Password",                # snap
    "bitwarden": "Bitwarden",
    "com.bitwarden.desktop": "Bitwarden",              # flatpak
    "bitwarden_bitwarden": "Bitwarden",                # snap
    "org.keepassxc.keepassxc": "KeePassXC",            # .desktop (upstream) and flatpak
    "keepassxc": "KeePassXC",
    "keepassxc_keepassxc": "KeePassXC",                # snap
    "keeper-password-manager": "Keeper",
    "keeperpasswordmanager": "Keeper",
    "keeper-password-manager_keeper-password-manager": "Keeper",  # snap
    "proton-pass": "Proton Pass",
    "me.proton.pass": "Proton Pass",                   # flatpak
    "enpass": "Enpass",
    "enpass_enpass": "Enpass",                         # snap
}
HINTS = ("1password", "bitwarden", "keepassxc", "keeper", "proton", "enpass", "lastpass", "dashlane")
MAX_DESKTOP_FILES = 40  # .desktop files read per folder (only those whose name hints a manager)

_SECTION = re.compile(r"^\[(.+)\]\s*$")


def desktop_name(text: str | None) -> str | None:
    """Name= of the [Desktop Entry] group (the untranslated one); None when absent."""
    group = None
    for raw in (text or "").splitlines():
        line = raw.strip()
        m = _SECTION.match(line)
        if m:
            group = m.group(1)
            continue
        if group == "Desktop Entry" and line.startswith("Name="):
            return line[5:].strip() or None
    return None


def scan_desktop_dir(scan: Scan, host: Host, folder: str) -> None:
    names = scan.listing(host, folder, f"the apps in {folder}")
    hinted = 0
    for name in names or []:
        if not name.endswith(".desktop"):
            continue
        stem = name[:-8].lower()
        if stem in APP_IDS:
            scan.found.add(APP_IDS[stem])
        elif any(h in stem for h in HINTS) and hinted < MAX_DESKTOP_FILES:
            hinted += 1
            manager = manager_named(desktop_name(scan.text(host, join(folder, name))))
            if manager:
                scan.found.add(manager)


def parse_flatpak(text: str | None) -> list[str]:
    """Application ids, one a line (``--columns=application``)."""
    return [line.strip() for line in (text or "").splitlines()
            if re.fullmatch(r"[A-Za-z0-9_.-]+\.[A-Za-z0-9_.-]+", line.strip())]


def parse_snap_list(text: str | None) -> list[str]:
    """The Name column of ``snap list`` (header line first)."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if not lines or lines[0].split()[:1] != ["Name"]:
        return []
    return [line.split()[0] for line in lines[1:]]


def scan_packages(scan: Scan, host: Host) -> None:
    result = run(host, [FLATPAK, "list", "--app", "--columns=application"])
    if result.ok:
        scan.read.append("flatpak apps")
        for app in parse_flatpak(result.stdout):
            manager = APP_IDS.get(app.lower())
            if manager:
                scan.found.add(manager)
    result = run(host, [SNAP, "list"])
    if result.ok:
        scan.read.append("snaps")
        for name in parse_snap_list(result.stdout):
            manager = APP_IDS.get(name.lower()) or APP_IDS.get(f"{name.lower()}_{name.lower()}")
            if manager:
                scan.found.add(manager)


def probe(host: Host) -> Fact:
    scan = Scan()
    home = env_path(host, "HOME") or ""
    for folder in SYSTEM_DESKTOP_DIRS:
        scan_desktop_dir(scan, host, folder)
    scan_packages(scan, host)
    if home.startswith("/"):
        scan_desktop_dir(scan, host, join(home, ".local", "share", "applications"))
        scan_desktop_dir(scan, host, join(home, ".local", "share", "flatpak", "exports", "share", "applications"))
        config = join(home, ".config")
        scan_chromium(scan, host, "Chrome", join(config, "google-chrome"), join, GOOGLE_PASSWORDS)
        scan_chromium(scan, host, "Chromium", join(config, "chromium"), join)
        scan_chromium(scan, host, "Chromium", join(home, "snap", "chromium", "common", "chromium"), join)
        scan_chromium(scan, host, "Edge", join(config, "microsoft-edge"), join, EDGE_PASSWORDS)
        scan_chromium(scan, host, "Brave", join(config, "BraveSoftware", "Brave-Browser"), join)
        for root in (join(home, ".mozilla", "firefox"),
                     join(home, "snap", "firefox", "common", ".mozilla", "firefox"),
                     join(home, ".var", "app", "org.mozilla.firefox", ".mozilla", "firefox")):
            scan_firefox(scan, host, root, join)
    else:
        scan.unread["home"] = "the home folder is not known, so browser extensions were not looked at"
    return to_fact(scan, "no folder of apps could be read")
