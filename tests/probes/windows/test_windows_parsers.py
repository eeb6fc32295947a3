"""Windows parsers against real outputs kept in test-data/<check>/<case>.txt.

Sources of the outputs (search index of public GitHub material):
- fixtures: tests/fixtures/windows/*.json (the shared capture files; CRLF as printed).
- manage_bde/en_used_space_only_protection_off_win11_auto.txt: Windows 11 24H2 automatic
  device encryption, pasted in github.com/Aetherinox/pause-windows-updates/issues/15.
- manage_bde/en_access_denied_not_elevated.txt: non-elevated manage-bde (version 10.0.26100)
  quoted in a public compliance-evidence report (the same text appears in several repos).
- manage_bde/de_*.txt (not denied): German Windows 10 22H2 / 11 23H2 notes on BitLocker
  ("Notes on Bitlocker", manage-bde -status before, during and after encryption).
- manage_bde/de_access_denied_not_elevated.txt: German manage-bde run as a normal user, quoted in
  a project's design notes ("FEHLER: Der Zugriff auf eine erforderliche Ressource wurde verweigert").
- manage_bde/fr_*.txt: French manage-bde outputs quoted in a French BitLocker guide
  ("Sortie type (chiffrement en cours)", "Résultat attendu"); "Protection activée/désactivée"
  also appears in another project's French manage-bde test data.
- netsh/de_all_ein_win11.txt: German Windows 11 netsh output from a scanner's tests, noted there
  as verified on a real machine ("Status EIN").
- netsh/de_all_ein_allprofiles.txt: German `netsh advfirewall show allprofiles` from a tutorial.
- netsh/fr_domain_only_actif.txt: French `netsh advfirewall show allprofiles` pasted in a
  student's network lab report (the author kept only the domain profile).
- antivirus/array_*.txt: PowerShell 5.1 ConvertTo-Json layout as in the fixtures, with
  productState values from the Kaseya table used in vadimrevich/smbshare
  (NIT/atHost/Scripts/Get-SysInfo/Get-NITAntivirusProduct01.ps1) and SOURCES.md (393472 off).
- garbage/empty files: what cmd prints for a missing program / an unknown netsh context, and
  empty output.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from probes.windows import antivirus, disk_encryption, firewall
from probes.windows.identity import parse_serial, parse_uuid

DATA = Path(__file__).parent / "test-data"


def read(check: str, case: str) -> str:
    return (DATA / check / f"{case}.txt").read_bytes().decode("utf-8")


MANAGE_BDE = {
    "en_fully_encrypted_protection_on": "on",
    "en_used_space_only_protection_off_win11_auto": "suspended",
    "en_access_denied_not_elevated": "denied",
    "de_fully_decrypted": "off",
    "de_encryption_in_progress": "encrypting",
    "de_encryption_in_progress_100_protection_on": "encrypting",
    "de_access_denied_not_elevated": "denied",
    "fr_encryption_in_progress": "encrypting",
    "fr_fully_encrypted_protection_on": "on",
    "empty": None,
    "garbage": None,
}


def test_every_manage_bde_file_is_covered():
    assert {p.stem for p in (DATA / "manage_bde").glob("*.txt")} == set(MANAGE_BDE)


@pytest.mark.parametrize("case,expected", sorted(MANAGE_BDE.items()))
def test_manage_bde(case, expected):
    assert disk_encryption.parse_manage_bde(read("manage_bde", case)) == expected


@pytest.mark.parametrize("line,expected", [
    # Protection Status while suspended with a reboot count (English).
    ("    Protection Status:    Protection Off (1 reboots left)", "suspended"),
    ("    Protection Status:    Protection On", "on"),
    ("    Protection Status:    Protection Unknown", None),
])
def test_manage_bde_protection_variants(line, expected):
    text = "    Conversion Status:    Fully Encrypted\r\n" + line + "\r\n"
    assert disk_encryption.parse_manage_bde(text) == expected


@pytest.mark.parametrize("conversion,expected", [
    ("Encryption Paused", "encrypting"),
    ("Decryption in Progress", "decrypting"),
    ("Decryption Paused", "decrypting"),
    ("Fully Decrypted", "off"),
    ("Entschlüsselung wird durchgeführt", "decrypting"),
    ("Déchiffrement en cours", "decrypting"),
    ("Complètement déchiffré", "off"),
])
def test_manage_bde_conversion_values(conversion, expected):
    text = f"    Conversion Status:    {conversion}\n    Protection Status:    Protection Off\n"
    assert disk_encryption.parse_manage_bde(text) == expected


def test_manage_bde_access_denied_exit_code_alone():
    assert disk_encryption.parse_manage_bde("", -2147217405) == "denied"
    assert disk_encryption.parse_manage_bde("", 2147749891) == "denied"


SHELL = {"value_1_on": "on", "value_2_off": "off", "value_0_not_encryptable": "off",
         "empty_not_elevated": None}


@pytest.mark.parametrize("case,expected", sorted(SHELL.items()))
def test_bitlocker_shell_value(case, expected):
    assert disk_encryption.parse_shell_value(read("bitlocker_shell", case)) == expected


@pytest.mark.parametrize("text,expected", [
    ("3\r\n", "encrypting"), ("4\r\n", "decrypting"), ("5\r\n", "suspended"),
    ("6\r\n", None), ("\ufeff1\r\n", "on"), ("1\r\n2\r\n", None), ("On", None), ("-1", None),
])
def test_bitlocker_shell_other_values(text, expected):
    assert disk_encryption.parse_shell_value(text) == expected


NETSH = {
    "en_all_on": {"domain": True, "private": True, "public": True},
    "en_private_public_off": {"domain": True, "private": False, "public": False},
    "de_all_ein_win11": {"domain": True, "private": True, "public": True},
    "de_all_ein_allprofiles": {"domain": True, "private": True, "public": True},
    "fr_domain_only_actif": {"domain": True},
    "empty": {},
    "garbage": {},
}


def test_every_netsh_file_is_covered():
    assert {p.stem for p in (DATA / "netsh").glob("*.txt")} == set(NETSH)


@pytest.mark.parametrize("case,expected", sorted(NETSH.items()))
def test_netsh(case, expected):
    assert firewall.parse_netsh(read("netsh", case)) == expected


def test_netsh_german_aus():
    text = ("Domänenprofil-Einstellungen:\nStatus    EIN\n"
            "Privates Profil-Einstellungen:\nStatus    AUS\n"
            "Öffentliches Profil-Einstellungen:\nStatus    AUS\n")
    assert firewall.parse_netsh(text) == {"domain": True, "private": False, "public": False}


def P(name, enabled, up_to_date):
    return {"name": name, "enabled": enabled, "up_to_date": up_to_date}


ANTIVIRUS = {
    "defender_on_current": [P("Windows Defender", True, True)],
    "defender_on_stale": [P("Windows Defender", True, False)],
    "array_defender_off_third_party_on": [P("Windows Defender", False, True),
                                          P("Sophos Anti-Virus", True, True)],
    "array_stale_and_disabled": [P("Windows Defender", True, False),
                                 P("Kaspersky Endpoint Security 10 for Windows", False, False)],
    "empty": [],
    "garbage": None,
}


def test_every_antivirus_file_is_covered():
    assert {p.stem for p in (DATA / "antivirus").glob("*.txt")} == set(ANTIVIRUS)


@pytest.mark.parametrize("case,expected", sorted(ANTIVIRUS.items()))
def test_antivirus(case, expected):
    assert antivirus.parse_products(read("antivirus", case)) == expected


@pytest.mark.parametrize("state,expected", [
    (397568, (True, True)), (393472, (False, True)), (397584, (True, False)),
    (262144, (False, True)), (266240, (True, True)), (266256, (True, False)),
    (393488, (False, False)), (397328, (True, False)),
])
def test_product_state_bits(state, expected):
    # Values and meanings from the Kaseya table (vadimrevich/smbshare) and SOURCES.md.
    assert antivirus.product_state(state) == expected


@pytest.mark.parametrize("text", ['{"displayName": "X"}', '[1, 2]', '{"displayName": "", '
                                  '"productState": 1}', '{"displayName": "X", "productState": true}',
                                  '"text"', '{"displayName": "X", "productState": "abc"}'])
def test_antivirus_malformed(text):
    assert antivirus.parse_products(text) is None


def test_antivirus_numeric_string_state_and_key_case():
    assert antivirus.parse_products('{"DisplayName": "AV", "ProductState": "397568"}') == [
        P("AV", True, True)]


SERIALS = {"serial_real": "PF2MWX8Z", "serial_oem_placeholder": None,
           "serial_default_string": None, "serial_system_serial_number": None,
           "serial_zero": None, "serial_empty": None}


@pytest.mark.parametrize("case,expected", sorted(SERIALS.items()))
def test_serial(case, expected):
    assert parse_serial(read("identity", case)) == expected


@pytest.mark.parametrize("text,expected", [
    ("4C4C4544-0038-4610-8052-B4C04F4D4233\r\n", "4C4C4544-0038-4610-8052-B4C04F4D4233"),
    ("4c4c4544-0038-4610-8052-b4c04f4d4233", "4C4C4544-0038-4610-8052-B4C04F4D4233"),
    ("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF\r\n", None),
    ("00000000-0000-0000-0000-000000000000", None),
    ("", None), ("not a uuid", None),
])
def test_uuid(text, expected):
    assert parse_uuid(text) == expected


# manage-bde and netsh write in the OEM code page (cp850 on German and French Windows) when
# piped; the host decodes leniently as UTF-8, so each accented letter becomes U+FFFD. Run the
# localized real outputs through that exact path.
from probes.host import decode  # noqa: E402


def as_oem_piped(text: str, codepage: str) -> str:
    return decode(text.encode(codepage))


LOCALIZED_BDE = [c for c in MANAGE_BDE if c.startswith(("de_", "fr_"))]
LOCALIZED_NETSH = [c for c in NETSH if c.startswith(("de_", "fr_"))]


@pytest.mark.parametrize("codepage", ["cp850", "cp1252", "utf-16"])
@pytest.mark.parametrize("case", LOCALIZED_BDE)
def test_manage_bde_oem_code_page(case, codepage):
    text = as_oem_piped(read("manage_bde", case), codepage)
    assert disk_encryption.parse_manage_bde(text) == MANAGE_BDE[case]


@pytest.mark.parametrize("codepage", ["cp850", "cp1252", "utf-16"])
@pytest.mark.parametrize("case", LOCALIZED_NETSH)
def test_netsh_oem_code_page(case, codepage):
    assert firewall.parse_netsh(as_oem_piped(read("netsh", case), codepage)) == NETSH[case]
