"""password_manager: what every OS's probe shares -- the catalogue and the browser scan.

The catalogue names each password manager by the identifiers its vendor ships: macOS bundle
ids, Linux desktop ids, Windows uninstall display names, Chrome Web Store / Edge Add-ons ids
and Firefox add-on ids (docs/PASSWORD_MANAGERS.md gives the source of each). Only the names
of the managers found leave this module: never the list of apps or extensions.

Everything is read through the Host seam (``list_dir``, ``read_text``), so captures replay.
The seam never raises; a host that does is a bug this module lets through to the one layer
that catches and logs it (probes._guard / the pipeline).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .host import DENIED, NOT_FOUND, Host, Listing

MANAGERS = ("1Password", "Bitwarden", "Dashlane", "Keeper", "KeePassXC", "LastPass",
            "Proton Pass", "Enpass")

# The OS's and browsers' own password saving: counted only with `builtin_counts = true`.
APPLE_PASSWORDS = "Apple Passwords"
ICLOUD_KEYCHAIN = "iCloud Keychain"
GOOGLE_PASSWORDS = "Google Password Manager"
EDGE_PASSWORDS = "Microsoft Password Manager"

# Chrome Web Store ids (Chrome, Brave, Edge can all install them) and Edge Add-ons ids.
CHROMIUM_EXTENSIONS = {
    "aeblfdkhhhdcdjpifhhbdiojplfjncoa": "1Password",   # 1Password - Password Manager
    "khgocmkkpikpnmmkgmdnfckapcdkgfaf": "1Password",   # 1Password Beta
    "gejiddohjgogedgjnonbofjigllpkmbf": "1Password",   # 1Password Nightly
    "aomjjhallfgjeglblehebfpbcfeobpgk": "1Password",   # 1Password extension (desktop app required), legacy
    "dppgmdbiimibapkepcbdbmkaabgiofem": "1Password",   # Edge Add-ons
    "nngceckbapebfimnlniiiahkandclblb": "Bitwarden",
    "hccnnhgbibccigepcmlgppchkpfdophk": "Bitwarden",   # Bitwarden beta
    "jbkfoedolllekgbhcbcoahefnbanhhlh": "Bitwarden",   # Edge Add-ons
    "fdjamakpfbbddfjaooikfcpapjohcfmg": "Dashlane",
    "gehmmocbbkpblljhkekmfhjpfbkclbph": "Dashlane",    # Edge Add-ons
    "bfogiafebfohielmmehodmfbbebbbpei": "Keeper",
    "kbedblbpfmeicfpadihimgombbafaeeh": "Keeper",      # second Chrome Web Store listing
    "lfochlioelphaglamdcakfjemolpichk": "Keeper",      # Edge Add-ons
    "mpfckamfocjknfipmpjdkkebpnieooca": "Keeper",      # Edge Add-ons, second listing
    "oboonakemofpalcgghocfoadofidjkkk": "KeePassXC",   # KeePassXC-Browser
    "pdffhmdngciaglkoonimfcmckehcpafo": "KeePassXC",   # KeePassXC-Browser, Edge Add-ons
    "hdokiejnpimakedhajhdlcegeplioahd": "LastPass",
    "bbcinlkgjjkejfdpemiealijmmooekmp": "LastPass",    # Edge Add-ons
    "ghmbeldphafepmbegfdlkpapadhbakde": "Proton Pass",
    "hlaiofkbmjenhgeinjlmkafaipackfjh": "Proton Pass",  # Proton Pass beta
    "gcllgfdnfnllodcaambdaknbipemelie": "Proton Pass",  # Edge Add-ons
    "kmcfomidfpdkfieipokbalgegidffkal": "Enpass",
    "mliehcloacfoicbanjhhnlimealolgoi": "Enpass",      # Edge Add-ons
}
# Apple's iCloud Passwords extension fills from iCloud Keychain: built-in saving, not a manager.
CHROMIUM_BUILTIN = {
    "pejdijmoenmkgeppbflobdenhhabjlaj": ICLOUD_KEYCHAIN,  # Chrome Web Store
    "mfbcdcnpokpoajjciilocoachedjkima": ICLOUD_KEYCHAIN,  # Edge Add-ons
}

# Firefox add-on ids (extensions.json "id"), compared case-insensitively.
FIREFOX_EXTENSIONS = {
    "{d634138d-c276-4fc8-924b-40a0ea21d284}": "1Password",
    "{446900e4-71c2-419f-a6a7-df9c091e268b}": "Bitwarden",
    "jetpack-extension@dashlane.com": "Dashlane",
    "keeperffstoreextension@keepersecurityinc": "Keeper",
    "keepassxc-browser@keepassxc.org": "KeePassXC",
    "support@lastpass.com": "LastPass",
    "78272b6fa58f4a1abaac99321d503a20@proton.me": "Proton Pass",
}

# macOS CFBundleIdentifier values, compared case-insensitively.
MAC_BUNDLES = {
    "com.1password.1password": "1Password",           # 1Password 8
    "com.agilebits.onepassword7": "1Password",
    "com.agilebits.onepassword-osx": "1Password",
    "com.agilebits.onepassword4": "1Password",
    "com.bitwarden.desktop": "Bitwarden",
    "com.dashlane.dashlanephonefinal": "Dashlane",
    "com.dashlane.dashlane": "Dashlane",
    "com.keepersecurity.passwordmanager": "Keeper",
    "com.callpod.keepermac.lite": "Keeper",
    "org.keepassxc.keepassxc": "KeePassXC",
    "com.lastpass.lastpass": "LastPass",
    "com.lastpass.lastpassmacdesktop": "LastPass",
    "me.proton.pass.electron": "Proton Pass",
    "me.proton.pass.catalyst": "Proton Pass",
    "in.sinew.enpass-desktop": "Enpass",
    "in.sinew.enpass-desktop.app": "Enpass",
}
MAC_BUILTIN_BUNDLES = {"com.apple.passwords": APPLE_PASSWORDS}

# A name as it starts a Windows uninstall DisplayName or a .desktop file's Name=.
_NAME_PATTERNS = (
    (re.compile(r"^1password\b", re.IGNORECASE), "1Password"),
    (re.compile(r"^bitwarden\b", re.IGNORECASE), "Bitwarden"),
    (re.compile(r"^dashlane\b", re.IGNORECASE), "Dashlane"),
    (re.compile(r"^keeper(?:\s*®)?\s+(?:password\s+manager|desktop)\b", re.IGNORECASE), "Keeper"),
    (re.compile(r"^keepassxc\b", re.IGNORECASE), "KeePassXC"),
    (re.compile(r"^lastpass\b", re.IGNORECASE), "LastPass"),
    (re.compile(r"^proton\s*pass\b", re.IGNORECASE), "Proton Pass"),
    (re.compile(r"^enpass\b", re.IGNORECASE), "Enpass"),
)


def manager_named(text: str | None) -> str | None:
    """The manager a product name (DisplayName, Name=) is, or None."""
    name = (text or "").strip()
    for pattern, manager in _NAME_PATTERNS:
        if pattern.search(name):
            return manager
    return None


def in_catalogue_order(names) -> list[str]:
    known = [m for m in MANAGERS if m in names]
    return known + sorted(n for n in set(names) if n not in MANAGERS)


@dataclass
class Scan:
    """What one probe found: managers (apps and extensions), built-in saving, and what was
    looked at or could not be read (``unread``: place -> reason)."""

    found: set[str] = field(default_factory=set)
    builtin: set[str] = field(default_factory=set)
    read: list[str] = field(default_factory=list)
    unread: dict[str, str] = field(default_factory=dict)

    def listing(self, host: Host, path: str, what: str) -> list[str] | None:
        """The names in ``path``; None when the folder is absent or unreadable (recorded)."""
        got = host.list_dir(path)
        if not isinstance(got, Listing):
            got = Listing(got) if isinstance(got, list) else Listing([], "error")
        if got.error is None:
            self.read.append(what)
            return got.names
        if got.error != NOT_FOUND:
            reason = "permission was denied" if got.error == DENIED else "it could not be read"
            self.unread.setdefault(what, f"{what} could not be read ({reason})")
        return None

    def text(self, host: Host, path: str) -> str | None:
        got = host.read_text(path)
        return got if isinstance(got, str) else None


def env_path(host: Host, name: str) -> str | None:
    """An environment variable holding a folder (HOME), or None when unset or broken."""
    value = host.env(name)
    return value.rstrip("/") if isinstance(value, str) and value.strip() else None


def load_json(text: str | None) -> dict | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


# -- Chromium browsers (Chrome, Edge, Brave) --------------------------------------------------
_PROFILE = re.compile(r"^(Default|Profile \d+|Guest Profile)$")


def scan_chromium(scan: Scan, host: Host, browser: str, user_data: str,
                  join: Callable[..., str], builtin: str | None = None) -> None:
    """Extensions of every profile of one Chromium browser: <profile>/Extensions/<id> folders,
    and the ids in <profile>/Preferences (and Secure Preferences when the folder could not be
    listed): ``extensions.settings``.
    ``builtin`` names the browser's own password saving, found when a profile has not turned
    it off (Preferences ``credentials_enable_service`` false)."""
    entries = scan.listing(host, user_data, f"{browser}'s profiles")
    if entries is None:
        return
    for profile in (e for e in entries if _PROFILE.match(e)):
        ids = set()
        folders = scan.listing(host, join(user_data, profile, "Extensions"), f"{browser} extensions")
        ids.update(folders or [])
        saving = True
        # Secure Preferences only when the Extensions folder could not be listed.
        for name in ("Preferences",) + (("Secure Preferences",) if folders is None else ()):
            prefs = load_json(scan.text(host, join(user_data, profile, name)))
            if prefs is None:
                continue
            settings = (prefs.get("extensions") or {}).get("settings") if isinstance(
                prefs.get("extensions"), dict) else None
            if isinstance(settings, dict):
                ids.update(k for k in settings if isinstance(k, str))
            if name == "Preferences" and prefs.get("credentials_enable_service") is False:
                saving = False
        scan.found.update(CHROMIUM_EXTENSIONS[i] for i in ids if i in CHROMIUM_EXTENSIONS)
        scan.builtin.update(CHROMIUM_BUILTIN[i] for i in ids if i in CHROMIUM_BUILTIN)
        if builtin and saving:
            scan.builtin.add(builtin)


# -- Firefox --------------------------------------------------------------------------------
def firefox_profiles(ini: str | None, root: str, join: Callable[..., str]) -> list[str]:
    """Profile folders named in profiles.ini ([Profile*] Path=, IsRelative=)."""
    paths: list[str] = []
    section: dict[str, str] | None = None
    sections: list[dict[str, str]] = []
    for raw in (ini or "").splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = {} if line[1:-1].lower().startswith("profile") else None
            if section is not None:
                sections.append(section)
        elif section is not None and "=" in line:
            key, _, value = line.partition("=")
            section[key.strip().lower()] = value.strip()
    for sec in sections:
        path = sec.get("path")
        if not path:
            continue
        if sec.get("isrelative", "1") != "0":
            path = join(root, *[p for p in re.split(r"[\\/]", path) if p])
        if path not in paths:
            paths.append(path)
    return paths


def scan_firefox(scan: Scan, host: Host, root: str, join: Callable[..., str]) -> None:
    """Add-ons of every Firefox profile (extensions.json ``addons[].id``; a disabled one
    does not count)."""
    ini = scan.text(host, join(root, "profiles.ini"))
    if ini is None:
        return
    profiles = firefox_profiles(ini, root, join)
    scan.read.append("Firefox's profiles")
    for profile in profiles:
        data = load_json(scan.text(host, join(profile, "extensions.json")))
        if data is None:
            continue
        addons = data.get("addons")
        for addon in addons if isinstance(addons, list) else []:
            if not isinstance(addon, dict) or not isinstance(addon.get("id"), str):
                continue
            manager = FIREFOX_EXTENSIONS.get(addon["id"].lower())
            if manager and addon.get("userDisabled") is not True and addon.get("appDisabled") is not True:
                scan.found.add(manager)


def to_fact(scan: Scan, what_nothing: str):
    """The Fact of a scan: ``found`` (managers, catalogue order) and ``builtin`` (the OS's or
    browser's own password saving); unread places are kept as reasons. When nothing at all
    could be read, ``found`` is unread."""
    from .fact import Fact

    fact = Fact()
    if not scan.read:
        reasons = "; ".join(dict.fromkeys([what_nothing, *scan.unread.values()]))
        return fact.miss("found", reasons)
    fact.observed["found"] = in_catalogue_order(scan.found)
    fact.observed["builtin"] = sorted(scan.builtin)
    for where, reason in scan.unread.items():
        fact.unread.setdefault(where, reason)
    return fact
