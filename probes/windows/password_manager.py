"""password_manager (Windows): installed programs (the DisplayName of every subkey of the
three Uninstall keys: HKLM 64-bit, HKLM WOW6432Node 32-bit, HKCU), and the extensions of
Chrome, Edge and Brave (%LOCALAPPDATA%\\<browser>\\User Data\\<profile>) and Firefox
(%APPDATA%\\Mozilla\\Firefox\\profiles.ini). Chrome's and Edge's own password saving are the
built-in ones (Google Password Manager, Microsoft Password Manager).
"""
from __future__ import annotations

import ntpath

from ..fact import Fact
from ..host import Host
from ..password_managers import EDGE_PASSWORDS, GOOGLE_PASSWORDS, Scan, manager_named, scan_chromium, \
    scan_firefox, to_fact

join = ntpath.join
UNINSTALL_KEYS = (
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
    "HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
    "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
)
MAX_PROGRAMS = 2000


def scan_programs(scan: Scan, host: Host) -> None:
    for key in UNINSTALL_KEYS:
        subkeys = host.registry_subkeys(key)
        if not isinstance(subkeys, list):
            continue  # no such key (a 32-bit Windows has no WOW6432Node)
        scan.read.append("the installed programs")
        for sub in subkeys[:MAX_PROGRAMS]:
            name = host.registry(f"{key}\\{sub}", "DisplayName")
            manager = manager_named(name) if isinstance(name, str) else None
            if manager:
                scan.found.add(manager)


def _folder(host: Host, name: str) -> str | None:
    value = host.env(name)
    value = value.strip().rstrip("\\") if isinstance(value, str) else ""
    return value if ntpath.isabs(value) and value[1:2] == ":" else None


def probe(host: Host) -> Fact:
    scan = Scan()
    scan_programs(scan, host)
    local, roaming = _folder(host, "LOCALAPPDATA"), _folder(host, "APPDATA")
    if local:
        scan_chromium(scan, host, "Chrome", join(local, "Google", "Chrome", "User Data"), join,
                      GOOGLE_PASSWORDS)
        scan_chromium(scan, host, "Edge", join(local, "Microsoft", "Edge", "User Data"), join,
                      EDGE_PASSWORDS)
        scan_chromium(scan, host, "Brave", join(local, "BraveSoftware", "Brave-Browser", "User Data"), join)
    if roaming:
        scan_firefox(scan, host, join(roaming, "Mozilla", "Firefox"), join)
    if not (local and roaming):
        scan.unread["home"] = "the user's AppData folder is not known, so browser extensions were not looked at"
    if "the installed programs" not in scan.read:
        scan.unread["programs"] = "the list of installed programs could not be read"
    return to_fact(scan, "the list of installed programs could not be read")
