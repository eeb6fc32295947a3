"""What each connector keeps for a person's page (DESIGN "Each person's devices"):
kind, platform, name, passcode, encrypted, compromised, the user as an email (or why
not), and a reason for every fact the MDM does not give. Real HTTP to the loopback
stubs serving the people fleet of mdmstubs (the vendors' shapes, ugly records too)."""
import json
from dataclasses import replace

import pytest

from mdmstubs import (GoogleStub, IntuneStub, IvantiStub, JamfStub, google_people_chromebooks,
                      google_people_mobiles, intune_people_devices, ivanti_people_rows,
                      jamf_people_computers, jamf_people_mobiles)
from server.config import load_config
from server.mdm import GoogleConnector, IntuneConnector, IvantiConnector, JamfConnector
from server.mdm.records import (PERSON_FACTS, MdmRecord, device_kind_of, map_user, refine_platform)
from server.mdm.store import mdm_config


# -- the one user -> email rule ----------------------------------------------------------

@pytest.mark.parametrize("value, source, domain, email, reason", [
    ("Alice@Example.COM", "jamf", "", "alice@example.com", None),
    ("  bob@example.com ", "intune", "", "bob@example.com", None),
    ("alice", "jamf", "", None, "Jamf user 'alice' is not an email"),
    ("Bob (3rd floor)", "google", "", None, "Google Workspace user 'Bob (3rd floor)' is not an email"),
    ("alice@corp", "jamf", "", None, "Jamf user 'alice@corp' is not an email"),     # no domain suffix
    ("a@b@example.com", "jamf", "", None, "Jamf user 'a@b@example.com' is not an email"),
    ("CORP\\alice", "ivanti", "example.com", "alice@example.com", None),
    ("alice", "ivanti", "Example.COM", "alice@example.com", None),
    ("alice@CORP", "ivanti", "example.com", "alice@example.com", None),
    ("dave@example.org", "ivanti", "example.com", "dave@example.org", None),      # an email stays
    ("CORP\\Carol Smith", "ivanti", "example.com", None, "Ivanti user 'CORP\\Carol Smith' is not an email"),
    ("CORP\\alice", "ivanti", "", None, "Ivanti user 'CORP\\alice' is not an email (set [people] "
                                        "ivanti_email_domain to turn login names into emails)"),
    ("alice", "jamf", "example.com", "alice@example.com", None),
    ("alice", "ivanti", "not a domain", None, "Ivanti user 'alice' is not an email"),
    ("alice_gmail.com#EXT#@contoso.onmicrosoft.com", "intune", "", None,
     "Intune user 'alice_gmail.com#EXT#@contoso.onmicrosoft.com' is a guest account name, not the "
     "person's email"),
    ("", "jamf", "", None, None),
    (None, "google", "", None, None),
    ("   ", "intune", "", None, None),
    (["carol@example.com", "alias@example.com"], "google", "", "carol@example.com", None),
    ("ev\x00e@exa\u202emple.com", "jamf", "", None, "Jamf user 'ev e@exa mple.com' is not an email"),
])
def test_map_user(value, source, domain, email, reason):
    assert map_user(value, source, email_domain=domain) == (email, reason)


def test_map_user_shortens_long_text_in_the_reason():
    email, reason = map_user("x" * 300, "jamf")
    assert email is None and len(reason) < 130 and reason.endswith("…' is not an email")


@pytest.mark.parametrize("platform, model, kind", [
    ("macos", "MacBook Air", "laptop"), ("windows", None, "laptop"), ("linux", "", "laptop"),
    ("ios", "iPhone 16", "phone"), ("ipados", "iPad Air", "tablet"), ("android", "Pixel 8", "phone"),
    ("android", "Galaxy Tab S9", "tablet"), ("android", "Pixel Tablet", "tablet"),
    ("chromeos", None, "chromebook"), ("tvos", "Apple TV", ""), ("watchos", None, ""), (None, None, ""),
])
def test_device_kind(platform, model, kind):
    assert device_kind_of(platform, model) == kind
    assert MdmRecord(source="jamf", source_id="1", platform=platform, model=model).device_kind == kind


def test_ipads_filed_under_ios_are_ipados():
    assert refine_platform("ios", "iPad Pro (11-inch)") == "ipados"
    assert refine_platform("ios", None, "iPad14,3") == "ipados"
    assert refine_platform("ios", "iPhone 15", "iPhone15,4") == "ios"
    assert refine_platform("android", "iPad?") == "android"


def assert_reasons_complete(recs):
    """Every person-page fact is either known (no reason) or None with a reason."""
    for r in recs:
        for fact in PERSON_FACTS:
            if getattr(r, fact) is None:
                assert r.unknown.get(fact), (r.source_id, fact)
            else:
                assert fact not in r.unknown, (r.source_id, fact)
        assert set(r.unknown) <= set(PERSON_FACTS)
        assert not (r.user_email and r.user_unmapped)
        back = MdmRecord.from_dict(json.loads(json.dumps(r.to_dict())))
        assert back == replace(r, last_seen=r.last_seen and r.last_seen.replace(microsecond=0))


# -- Jamf ---------------------------------------------------------------------------------

def test_jamf_computers_and_mobile_devices_for_people():
    stub = JamfStub(jamf_people_computers(), jamf_people_mobiles())
    try:
        conn = JamfConnector({"url": stub.url, "client_id": "cid", "client_secret_env": "S"},
                             environ={"S": "s3cret"}, sleep=lambda s: None)
        recs = {r.source_id: r for r in conn.records()}
    finally:
        stub.close()
    assert len(recs) == 9 and conn.stats.skipped == 0
    assert_reasons_complete(recs.values())
    mac = recs["101"]
    assert (mac.device_kind, mac.platform, mac.name, mac.user_email, mac.user_unmapped) == (
        "laptop", "macos", "alice-mba", "alice@example.com", None)
    assert mac.encrypted is True and mac.os_version == "15.1" and mac.passcode is None
    assert mac.unknown == {"passcode": "Jamf doesn't report whether this Mac asks for a password.",
                           "compromised": "Jamf doesn't check Macs for tampering."}
    assert (recs["102"].user_email, recs["102"].user_unmapped) == (None, "Jamf user 'bob' is not an email")
    assert recs["103"].user_email == "carol@example.com"            # username that is an email
    lab = recs["104"]
    assert (lab.user, lab.user_email, lab.user_unmapped) == (None, None, None)
    assert lab.encrypted is None and lab.unknown["encrypted"] == "FileVault is still encrypting this Mac."

    phone = recs["mobile-201"]
    assert (phone.device_kind, phone.platform, phone.name, phone.model, phone.os_version) == (
        "phone", "ios", "Alice's iPhone", "iPhone 16 Pro", "26.1")
    assert (phone.passcode, phone.encrypted, phone.compromised) == (True, True, False)
    assert phone.user_email == "alice@example.com" and phone.unknown == {}
    assert phone.last_seen.isoformat() == "2026-11-30T09:15:00+00:00"
    ipad = recs["mobile-202"]
    assert (ipad.device_kind, ipad.platform, ipad.os_version) == ("tablet", "ipados", "18.6.2")
    assert (ipad.passcode, ipad.encrypted) == (False, False) and ipad.user_email == "alice@example.com"
    bob = recs["mobile-203"]
    assert bob.compromised is True and bob.user_unmapped == "Jamf user 'bob' is not an email"
    tv = recs["mobile-204"]
    assert (tv.device_kind, tv.platform, tv.user_email, tv.user_unmapped) == ("", "tvos", None, None)
    new = recs["mobile-205"]
    assert new.os_version == "26" and (new.passcode, new.encrypted, new.compromised) == (None, None, None)
    assert set(new.unknown.values()) == {"Jamf has no security inventory for this device yet."}
    assert new.user_unmapped == "Jamf user 'not-an-email' is not an email"
    # what the mapping relies on was asked for (the stub leaves unrequested sections out)
    mobile_query = [p for _, p in stub.requests if "mobile-devices/detail" in p][0]
    assert "section=SECURITY" in mobile_query and "section=USER_AND_LOCATION" in mobile_query


# -- Intune -------------------------------------------------------------------------------

def test_intune_every_operating_system_for_people():
    stub = IntuneStub(intune_people_devices(), page_size=5)
    try:
        cfg = {"tenant_id": stub.tenant, "client_id": "app", "client_secret_env": "S",
               "login_url": stub.url, "graph_url": stub.url}
        conn = IntuneConnector(cfg, environ={"S": "pw"}, sleep=lambda s: None)
        recs = list(conn.records())
    finally:
        stub.close()
    assert len(recs) == 12 and conn.stats.pages == 3
    assert_reasons_complete(recs)
    got = [(r.platform, r.device_kind, r.os_version, r.user_email) for r in recs]
    assert got == [
        ("windows", "laptop", "10.0.26100.2314", "alice@example.com"),
        ("ios", "phone", "26.1", "alice@example.com"),
        ("ipados", "tablet", "18.7.1", "alice@example.com"),       # filed as iOS, model says iPad
        ("ipados", "tablet", "26.0.1", "bob@example.com"),
        ("android", "phone", "14", "alice@example.com"),
        ("android", "tablet", "15", "carol@example.com"),           # AndroidForWork, Galaxy Tab
        ("macos", "laptop", "15.1", "carol@example.com"),
        ("linux", "laptop", "24.04", "dave@example.com"),
        ("chromeos", "chromebook", "130.0.6723.126", "dave@example.com"),
        ("windows", "laptop", "10.0.19045.5131", None),
        ("ios", "phone", "17.6", None),
        (None, "", None, "eve@example.com"),
    ]
    alice_phone, bob_ipad, pixel, tab = recs[1], recs[3], recs[4], recs[5]
    assert alice_phone.name == "Alice's iPhone" and alice_phone.compromised is False
    assert alice_phone.passcode is None
    assert alice_phone.unknown == {"passcode": "Intune doesn't say whether a passcode is set."}
    assert bob_ipad.encrypted is False and bob_ipad.compliance == "noncompliant"
    assert pixel.compromised is True and pixel.compliance == "compliant"
    assert tab.compromised is None and tab.compliance == "inGracePeriod"
    assert tab.unknown["compromised"] == "Intune couldn't tell whether this device is jailbroken or rooted."
    assert recs[0].unknown["compromised"] == "Intune doesn't check computers for jailbreaks."
    assert recs[7].encrypted is None and recs[7].unknown["encrypted"] == (
        "Intune doesn't report whether this device is encrypted.")
    kiosk, guest, odd = recs[9], recs[10], recs[11]
    assert (kiosk.user_email, kiosk.user_unmapped) == (None, None)
    assert guest.user_unmapped.endswith("is a guest account name, not the person's email")
    assert odd.compliance is None and odd.unknown["os_version"] == (
        "Intune doesn't report which system version this device runs.")
    assert odd.unknown["compromised"] == "Intune doesn't report whether this device is jailbroken or rooted."


# -- Google -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def google_records(tmp_path, key, mobiles, chromebooks):
    from test_mdm_google import key_file
    stub = GoogleStub(mobiles, chromebooks, key.public_key())
    try:
        cfg = {"service_account_file": key_file(tmp_path, key, f"{stub.url}/token"),
               "admin_email": "admin@example.com", "directory_url": stub.url}
        return list(GoogleConnector(cfg, environ={}, sleep=lambda s: None).records())
    finally:
        stub.close()


def test_google_mobile_devices_and_chromebooks_for_people(tmp_path, rsa_key):
    recs = {r.source_id: r for r in google_records(tmp_path, rsa_key, google_people_mobiles(),
                                                   google_people_chromebooks())}
    assert len(recs) == 9
    assert_reasons_complete(recs.values())
    pixel = recs["AFiQxQ8PPL0001"]
    assert (pixel.device_kind, pixel.platform, pixel.os_version, pixel.model) == (
        "phone", "android", "15", "Pixel 8")
    assert (pixel.passcode, pixel.encrypted, pixel.compromised) == (True, True, False)
    assert pixel.user_email == "alice@example.com"                 # email[0], not the alias
    assert pixel.name is None                                      # Google's "name" is the owner's
    iphone = recs["AFiQxQ8PPL0002"]
    assert (iphone.platform, iphone.device_kind, iphone.os_version, iphone.serial) == (
        "ios", "phone", None, None)
    assert (iphone.passcode, iphone.encrypted, iphone.compromised) == (True, None, None)
    assert iphone.unknown == {
        "encrypted": "Google Workspace doesn't report whether this device is encrypted.",
        "os_version": "Google Workspace doesn't report which system version this device runs.",
        "compromised": "Google can't check iPhones and iPads for jailbreaks."}
    rooted = recs["AFiQxQ8PPL0003"]
    assert (rooted.passcode, rooted.encrypted, rooted.compromised) == (False, False, True)
    assert rooted.user_email == "bob@example.com"
    ipad = recs["AFiQxQ8PPL0004"]
    assert (ipad.platform, ipad.device_kind, ipad.os_version) == ("ipados", "tablet", "17.5.1")
    odd = recs["AFiQxQ8PPL0005"]
    assert (odd.platform, odd.device_kind, odd.user_email, odd.user_unmapped) == (None, "", None, None)
    assert odd.unknown["passcode"] == "Google reports the passcode as 'unknown'."
    assert odd.unknown["encrypted"] == "Google reports the encryption as 'unsupported'."
    assert recs["AFiQxQ8PPL0005"].unknown["compromised"] == (
        "Google Workspace doesn't report whether this device is jailbroken or rooted.")
    lumia = recs["AFiQxQ8PPL0006"]
    assert (lumia.platform, lumia.device_kind, lumia.kind, lumia.is_computer) == (None, "", "other", False)

    cb = recs["chromeos-cros-ppl-1"]
    assert (cb.device_kind, cb.platform, cb.os_version, cb.user_email) == (
        "chromebook", "chromeos", "150.0.7600.80", "alice@example.com")
    assert cb.unknown["compromised"] == "Google doesn't check Chromebooks for tampering."
    assert set(cb.unknown) == {"passcode", "encrypted", "compromised"}
    shared = recs["chromeos-cros-ppl-2"]
    assert shared.user_email is None and shared.user == "bob@example.com"
    assert shared.user_unmapped == ("Google has no assigned user for this Chromebook (the last to sign in "
                                    "was 'bob@example.com', which is not taken as its owner)")
    dev = recs["chromeos-cros-ppl-3"]
    assert dev.user_unmapped == "Google Workspace user 'Bob (3rd floor)' is not an email"
    assert dev.unknown["compromised"].startswith("This Chromebook is in developer mode")
    assert dev.os_version is None and dev.unknown["os_version"] == (   # "ChromeOS" has no number
        "Google Workspace reports the system version as 'ChromeOS', without a version number.")


# -- Ivanti -------------------------------------------------------------------------------

def ivanti_records(config_extra):
    stub = IvantiStub(ivanti_people_rows())
    try:
        cfg = {"url": stub.url, "username": "epm\\checkup", "password_env": "P", **config_extra}
        return list(IvantiConnector(cfg, environ={"P": "pw"}, sleep=lambda s: None).records())
    finally:
        stub.close()


def test_ivanti_login_names_with_the_people_email_domain(tmp_path):
    cfg_file = tmp_path / "server.toml"
    cfg_file.write_text('[people]\nivanti_email_domain = "example.com"\n\n'
                        '[mdm.ivanti]\nurl = "https://epm.example.com"\nusername = "x"\n')
    table = mdm_config(load_config(str(cfg_file), environ={}), "ivanti")
    assert table["email_domain"] == "example.com" and table["username"] == "x"
    recs = ivanti_records({"email_domain": table["email_domain"]})
    assert_reasons_complete(recs)
    assert [(r.user_email, r.user_unmapped) for r in recs] == [
        ("alice@example.com", None), ("bob@example.com", None), ("dave@example.com", None),
        (None, None), (None, "Ivanti user 'CORP\\Carol Smith' is not an email")]
    a, b, d, _, phone = recs
    assert (a.device_kind, a.name, a.model, a.encrypted) == (
        "laptop", "PC-PPL-1", "HP EliteBook 840 G10", True)
    assert b.encrypted is False and d.encrypted is None
    assert d.unknown["encrypted"] == "Ivanti reports the encryption as 'Suspended'."
    assert a.unknown == {
        "passcode": "Ivanti's inventory doesn't say whether a password or passcode is set.",
        "compromised": "Ivanti's inventory doesn't check for jailbreaks or tampering."}
    assert (phone.platform, phone.device_kind, phone.os_version) == ("ios", "phone", "26.1")


def test_ivanti_without_a_domain_leaves_login_names_unmapped_and_says_why():
    recs = ivanti_records({})
    assert recs[0].user_email is None and recs[0].user_unmapped == (
        "Ivanti user 'CORP\\alice' is not an email (set [people] ivanti_email_domain to turn login "
        "names into emails)")
    assert recs[2].user_email == "dave@example.com"                 # an email needs no domain


def test_ivanti_email_domain_from_the_environment():
    cfg = load_config(None, environ={"CHECKUP_SERVER_PEOPLE_IVANTI_EMAIL_DOMAIN": "corp.example.com"})
    assert mdm_config(cfg, "ivanti")["email_domain"] == "corp.example.com"
    assert mdm_config(load_config(None, environ={}), "ivanti")["email_domain"] == ""
    assert "email_domain" not in mdm_config(cfg, "jamf")


def test_reasons_are_fit_for_the_database():
    from server.mdm.store import _storable_record
    rec = MdmRecord(source="jamf", source_id="1", platform="ios",
                    unknown={"passcode": "bad\x00text\ud800", "encrypted": "fine"})
    clean = _storable_record(rec)
    assert "\x00" not in clean.unknown["passcode"] and "\ud800" not in clean.unknown["passcode"]
    assert clean.unknown["encrypted"] == "fine"
    json.dumps(clean.to_dict()).encode("utf-8")          # no lone surrogate left to fail on
    # the reasons the connectors write quote MDM text without control characters at all
    assert map_user("a\x00\u202eb\ud800", "jamf")[1] == "Jamf user 'a b' is not an email"


def test_rows_stored_before_the_person_fields_still_say_why():
    """An mdm_records row written by the previous version (no device_kind, unknown ...)."""
    old = {"source": "jamf", "source_id": "mobile-7", "serial": "F2L0000007", "platform": "ios",
           "os_version": "17.5", "compromised": False, "model": "iPhone 12", "kind": "mobile",
           "last_seen": "2026-11-01T10:00:00Z"}
    rec = MdmRecord.from_dict(old)
    assert rec.device_kind == "phone" and rec.user_email is None
    assert rec.unknown == {"passcode": "Jamf doesn't report whether a passcode or screen lock is set.",
                           "encrypted": "Jamf doesn't report whether this device is encrypted."}


@pytest.mark.parametrize("os_name, platform", [
    ("Windows", "windows"), ("Windows Phone 10", None), ("WINDOWS_MOBILE", None), ("windows mobile", None),
    ("IOS_SYNC", "ios"), ("GOOGLE_SYNC", None), ("AndroidEnterprise", "android"), ("iPadOS", "ipados"),
])
def test_platform_names(os_name, platform):
    from server.mdm.records import platform_of
    assert platform_of(os_name) == platform


def test_google_words_nobody_documented_are_unknown_with_what_google_said(tmp_path, rsa_key):
    from mdmstubs import google_people_mobiles as mobiles
    odd = dict(mobiles()[0], resourceId="AFiQxQ8ODD1", deviceCompromisedStatus="Undetected",
               devicePasswordStatus="Pending", encryptionStatus="Encrypting")
    (rec,) = google_records(tmp_path, rsa_key, [odd], [])
    assert (rec.platform, rec.passcode, rec.encrypted, rec.compromised) == ("android", None, None, None)
    assert rec.unknown == {
        "compromised": "Google couldn't tell whether this device is jailbroken or rooted (it says 'Undetected').",
        "passcode": "Google reports the passcode as 'pending'.",
        "encrypted": "Google reports the encryption as 'encrypting'."}
