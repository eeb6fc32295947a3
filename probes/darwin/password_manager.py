"""password_manager (macOS): apps in /Applications, /Applications/Setapp and ~/Applications
(each *.app's Contents/Info.plist CFBundleIdentifier), and the extensions of Chrome, Edge,
Brave and Firefox. Apple's Passwords app (/System/Applications/Passwords.app, macOS 15+) or
else iCloud Keychain is the built-in password saving; Chrome's is Google Password Manager.

An Info.plist in binary form cannot be read as text: for an app whose folder name names a
manager, ``defaults read <app>/Contents/Info CFBundleIdentifier`` reads it instead.
"""
from __future__ import annotations

import binascii
import plistlib
import posixpath
from xml.parsers.expat import ExpatError

from ..fact import Fact
from ..host import Host
from ..password_managers import (APPLE_PASSWORDS, EDGE_PASSWORDS, GOOGLE_PASSWORDS, ICLOUD_KEYCHAIN,
                                 MAC_BUILTIN_BUNDLES, MAC_BUNDLES, Scan, env_path, manager_named,
                                 scan_chromium, scan_firefox, to_fact)
from ._util import DEFAULTS, run

join = posixpath.join
APP_FOLDERS = ("/Applications", "/Applications/Setapp")
MAX_APPS = 400  # Info.plists read at most per folder
PLIST_ERRORS = (ExpatError, ValueError, IndexError, AttributeError, TypeError, binascii.Error, RecursionError)


def bundle_id(text: str | None) -> str | None:
    """CFBundleIdentifier of an XML (or JSON-free text) Info.plist; None when unreadable."""
    if not text or text.startswith("bplist"):
        return None
    try:
        data = plistlib.loads(text.encode("utf-8", errors="replace"), fmt=plistlib.FMT_XML)
    except PLIST_ERRORS:  # what plistlib raises on garbage (a fuzz of 60,000 inputs found these)
        return None
    value = data.get("CFBundleIdentifier") if isinstance(data, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def _defaults_bundle_id(host: Host, app: str) -> str | None:
    result = run(host, [DEFAULTS, "read", join(app, "Contents", "Info"), "CFBundleIdentifier"])
    if result.ok:
        value = result.stdout.strip()
        return value or None
    return None


def scan_apps(scan: Scan, host: Host, folder: str) -> None:
    names = scan.listing(host, folder, f"the apps in {folder}")
    for name in [n for n in names or [] if n.lower().endswith(".app")][:MAX_APPS]:
        app = join(folder, name)
        ident = bundle_id(scan.text(host, join(app, "Contents", "Info.plist")))
        hinted = manager_named(name[:-4])
        if ident is None and hinted:
            ident = _defaults_bundle_id(host, app)
        if ident is not None:
            manager = MAC_BUNDLES.get(ident.lower())
            if manager:
                scan.found.add(manager)
        elif hinted:
            # The app's own identity could not be read: its folder name is the evidence left.
            scan.found.add(hinted)


def probe(host: Host) -> Fact:
    scan = Scan()
    home = env_path(host, "HOME") or ""
    for folder in APP_FOLDERS:
        scan_apps(scan, host, folder)
    if home.startswith("/"):
        scan_apps(scan, host, join(home, "Applications"))
    else:
        scan.unread["home"] = "the home folder is not known, so browser extensions were not looked at"
    system = scan.listing(host, "/System/Applications", "the apps in /System/Applications")
    if system is not None:
        ident = bundle_id(scan.text(host, "/System/Applications/Passwords.app/Contents/Info.plist"))
        if "Passwords.app" in system and (ident is None or ident.lower() in MAC_BUILTIN_BUNDLES):
            scan.builtin.add(APPLE_PASSWORDS)
        else:
            scan.builtin.add(ICLOUD_KEYCHAIN)  # every macOS has the keychain; Safari saves to it
    if home.startswith("/"):
        support = join(home, "Library", "Application Support")
        scan_chromium(scan, host, "Chrome", join(support, "Google", "Chrome"), join, GOOGLE_PASSWORDS)
        scan_chromium(scan, host, "Edge", join(support, "Microsoft Edge"), join, EDGE_PASSWORDS)
        scan_chromium(scan, host, "Brave", join(support, "BraveSoftware", "Brave-Browser"), join)
        scan_firefox(scan, host, join(support, "Firefox"), join)
    return to_fact(scan, "no folder of apps could be read")
