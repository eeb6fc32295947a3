"""Jamf Pro: computers and mobile devices through the Jamf Pro API.

Documented by Jamf (developer.jamf.com, "Client Credentials", and the API
reference of ``computers-inventory`` and ``mobile-devices/detail``):

- ``POST {url}/api/oauth/token`` form ``grant_type=client_credentials``,
  ``client_id``, ``client_secret`` -> ``{"access_token", "expires_in", ...}``
  (Jamf Pro 10.49+). Renewed here before ``expires_in`` runs out.
- ``GET {url}/api/v3/computers-inventory?section=GENERAL&section=HARDWARE&...
  &page=N&page-size=S&sort=id:asc`` -> ``{"totalCount", "results": [...]}``
  (page numbers start at 0; page-size up to 2000). Servers without v3 (404)
  are read through ``/api/v1/computers-inventory``, same shape.
- ``GET {url}/api/v2/mobile-devices/detail?section=GENERAL&section=HARDWARE&
  section=SECURITY&section=USER_AND_LOCATION&page=N&page-size=S&sort=mobileDeviceId:asc``
  -> ``{"totalCount", "results": [{"mobileDeviceId", "deviceType", "general":
  {"udid", "displayName", "osVersion", "lastInventoryUpdateDate"}, "hardware":
  {"serialNumber", "wifiMacAddress", "bluetoothMacAddress", "model"},
  "security": {"jailBreakDetected"}, ...}]}``.

Fields used (computer): ``id``, ``udid``, ``general.name``,
``general.reportDate`` (inventory time = last seen), ``hardware.serialNumber``,
``hardware.macAddress``, ``hardware.altMacAddress``, ``hardware.model``,
``operatingSystem.version``, ``diskEncryption.bootPartitionEncryptionDetails.
partitionFileVault2State`` (ENCRYPTED / UNENCRYPTED / ENCRYPTING / ...),
``security.sipStatus`` (ENABLED / DISABLED / NOT_COLLECTED / NOT_AVAILABLE),
``security.gatekeeperStatus`` (DISABLED / APP_STORE_AND_IDENTIFIED_DEVELOPERS /
APP_STORE / NOT_COLLECTED), ``security.firewallEnabled``,
``userAndLocation.username`` / ``email``.

People and phones (what a person's page shows). The field names are Jamf Pro API
schemas as its OpenAPI document publishes them (``/api/schema`` of Jamf Pro 11.6,
mirrored in ruby-jss ``lib/jamf/api/jamf_pro/oapi_schemas/``: ComputerUserAndLocation,
MobileDeviceInventory, MobileDeviceGeneral, MobileDeviceHardware, MobileDeviceSecurity,
MobileDeviceUserAndLocation):

- computers: user = ``userAndLocation.email`` (``username`` when it is itself an
  email), name = ``general.name``; Jamf has no passcode or jailbreak fact for a Mac
  (unknown, with the reason);
- mobile devices: ``deviceType`` ("iOS", "tvOS", "watchOS"; an iOS device whose
  ``hardware.model`` / ``modelIdentifier`` says iPad is iPadOS, a tablet), name =
  ``general.displayName``, ``security.passcodePresent``, ``security.dataProtected``
  (iOS Data Protection: the data is encrypted with the passcode), ``security.
  jailBreakDetected``, ``general.osVersion``, ``general.lastInventoryUpdateDate``,
  user = ``userAndLocation.emailAddress`` (``username`` when it is an email).

API role privileges needed: "Read Computers", "Read Mobile Devices".
Without the second, mobile devices are skipped and the sync says so.
"""
from __future__ import annotations

from typing import Iterator
from urllib.parse import urlencode

from .base import Connector, sub
from .http import BearerToken, MdmError, check_url
from .records import (MdmRecord, bool_or_none, normalise_macs, normalise_serial, normalise_uuid,
                      note_version, parse_time, quoted, refine_platform, set_user, split_os_version,
                      text_or_none)

COMPUTER_SECTIONS = ("GENERAL", "HARDWARE", "OPERATING_SYSTEM", "DISK_ENCRYPTION", "SECURITY",
                     "USER_AND_LOCATION")
MOBILE_SECTIONS = ("GENERAL", "HARDWARE", "SECURITY", "USER_AND_LOCATION")

FILEVAULT_STATES = {
    "ENCRYPTED": True,
    "UNENCRYPTED": False, "DECRYPTED": False, "INELIGIBLE": False,
    # in between: not a settled fact, never a disagreement
    "ENCRYPTING": None, "DECRYPTING": None, "RESTART_NEEDED": None, "OPTIMIZING": None,
    "DECRYPTING_PAUSED": None, "ENCRYPTING_PAUSED": None, "UNKNOWN": None,
}
SIP_STATES = {"ENABLED": True, "DISABLED": False}
GATEKEEPER_STATES = {"DISABLED": False, "APP_STORE_AND_IDENTIFIED_DEVELOPERS": True, "APP_STORE": True}


class JamfConnector(Connector):
    name = "jamf"
    title = "Jamf Pro"
    required = ("url", "client_id")

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.page_size = max(1, min(2000, int(self.config.get("page_size") or 500)))
        self.mobile_page_size = max(1, min(2000, int(self.config.get("mobile_page_size") or 500)))
        self.include_mobile = self.config.get("mobile_devices", True) is not False

    def records(self) -> Iterator[MdmRecord]:
        base = check_url(self.config.get("url", ""), "[mdm.jamf] url")
        client_id = str(self.config.get("client_id") or "").strip()
        secret = self.secret("client_secret_env")
        token = BearerToken(lambda: self._token(base, client_id, secret))
        yield from self._computers(base, token)
        if self.include_mobile:
            yield from self._mobiles(base, token)

    def _token(self, base: str, client_id: str, secret: str) -> tuple[str, float]:
        body = self.http.post_json(f"{base}/api/oauth/token", data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
        if not isinstance(body, dict) or not body.get("access_token"):
            raise MdmError("jamf: the token endpoint answered without an access_token")
        return str(body["access_token"]), float(body.get("expires_in") or 300)

    def _paged(self, url: str, sections, sort: str, size: int, token) -> Iterator[list]:
        page = 0
        seen = 0
        while True:
            query = [("section", s) for s in sections] + [
                ("page", page), ("page-size", size), ("sort", sort)]
            body = self.http.get_json(f"{url}?{urlencode(query)}", token=token)
            if not isinstance(body, dict):
                raise MdmError(f"jamf: {url} answered something other than an object")
            results = body.get("results")
            self.stats.pages += 1
            if not isinstance(results, list) or not results:
                if results is not None and not isinstance(results, list):
                    self.stats.skip("pages without a list of results")
                return
            yield results
            seen += len(results)
            total = body.get("totalCount")
            if isinstance(total, int) and seen >= total:
                return
            if len(results) < size and not isinstance(total, int):
                return
            page += 1

    def _computers(self, base: str, token) -> Iterator[MdmRecord]:
        url = f"{base}/api/v3/computers-inventory"
        try:
            pages = self._paged(url, COMPUTER_SECTIONS, "id:asc", self.page_size, token)
            first = next(pages, None)
        except MdmError as exc:
            if "HTTP 404" not in str(exc):
                raise
            url = f"{base}/api/v1/computers-inventory"
            pages = self._paged(url, COMPUTER_SECTIONS, "id:asc", self.page_size, token)
            first = next(pages, None)
        if first is None:
            return
        yield from self._mapped(first, map_computer)
        for results in pages:
            yield from self._mapped(results, map_computer)

    def _mobiles(self, base: str, token) -> Iterator[MdmRecord]:
        url = f"{base}/api/v2/mobile-devices/detail"
        try:
            for results in self._paged(url, MOBILE_SECTIONS, "mobileDeviceId:asc",
                                       self.mobile_page_size, token):
                yield from self._mapped(results, map_mobile)
        except MdmError as exc:
            text = str(exc)
            if "HTTP 403" in text or "HTTP 404" in text:
                self.stats.notes.append("mobile devices skipped (the API client may not read mobile "
                                        "devices, or this Jamf Pro has no /api/v2/mobile-devices/detail)")
                return
            raise


def _build(value) -> str | None:  # noqa: ANN001
    """Jamf's ``build`` / ``osBuild`` ("23F79"); anything that isn't one -> None."""
    text = text_or_none(value, 32)
    return text.upper() if text and text.isalnum() else None


# security.jailBreakDetected: a boolean in the Jamf Pro API; older inventories and the
# Classic API give words. Only words that say "jailbroken" count; anything else
# ("Unknown", "Not collected", absent) is unknown, never compromised.
JAILBREAK_WORDS = {"jailbroken": True, "detected": True, "jailbreak detected": True,
                   "not jailbroken": False, "none": False, "not detected": False,
                   "no jailbreak detected": False}


# FileVault states that are not a settled on/off, in words for a person's page.
FILEVAULT_WORDS = {
    "ENCRYPTING": "FileVault is still encrypting this Mac.",
    "ENCRYPTING_PAUSED": "FileVault started encrypting this Mac but is paused.",
    "DECRYPTING": "FileVault is being turned off on this Mac.",
    "DECRYPTING_PAUSED": "FileVault is being turned off on this Mac (paused).",
    "RESTART_NEEDED": "FileVault turns on when this Mac restarts.",
    "OPTIMIZING": "FileVault is finishing its setup on this Mac.",
}


def map_computer(item: dict) -> MdmRecord:
    enc_state = sub(item, "diskEncryption", "bootPartitionEncryptionDetails", "partitionFileVault2State")
    enc_state = str(enc_state).upper() if enc_state else None
    sip = sub(item, "security", "sipStatus")
    gk = sub(item, "security", "gatekeeperStatus")
    unknown = {
        "passcode": "Jamf doesn't report whether this Mac asks for a password.",
        "compromised": "Jamf doesn't check Macs for tampering.",
    }
    encrypted = FILEVAULT_STATES.get(enc_state) if enc_state else None
    if enc_state and encrypted is None:
        unknown["encrypted"] = FILEVAULT_WORDS.get(
            enc_state, f"Jamf reports FileVault as '{quoted(enc_state, 40)}'.")
    rec = MdmRecord(
        source="jamf",
        source_id=text_or_none(item.get("id")) or "",
        serial=normalise_serial(sub(item, "hardware", "serialNumber")),
        hardware_uuid=normalise_uuid(item.get("udid")),
        macs=normalise_macs([sub(item, "hardware", "macAddress"), sub(item, "hardware", "altMacAddress")]),
        hostname=text_or_none(sub(item, "general", "name")),
        user=text_or_none(sub(item, "userAndLocation", "username")) or text_or_none(
            sub(item, "userAndLocation", "email")),
        platform="macos",  # computers-inventory holds Macs only
        os_version=split_os_version(text_or_none(sub(item, "operatingSystem", "version"), 64))[0],
        os_build=_build(sub(item, "operatingSystem", "build")),
        encrypted=encrypted,
        encryption_state=enc_state,
        firewall=bool_or_none(sub(item, "security", "firewallEnabled")),
        sip=SIP_STATES.get(str(sip).upper()) if sip else None,
        gatekeeper=GATEKEEPER_STATES.get(str(gk).upper()) if gk else None,
        last_seen=parse_time(sub(item, "general", "reportDate")) or parse_time(
            sub(item, "general", "lastContactTime")),
        model=text_or_none(sub(item, "hardware", "model")),
        device_kind="laptop",
        name=text_or_none(sub(item, "general", "name")),
        unknown=unknown,
    )
    set_user(rec, sub(item, "userAndLocation", "email"), sub(item, "userAndLocation", "username"))
    return note_version(rec, sub(item, "operatingSystem", "version"))


def map_mobile(item: dict) -> MdmRecord:
    dev_type = str(item.get("deviceType") or "iOS")
    model = text_or_none(sub(item, "hardware", "model"))
    # Jamf Pro manages Apple devices only: a missing deviceType is an iPhone or iPad
    platform = {"tvos": "tvos", "watchos": "watchos"}.get(dev_type.strip().lower(), "ios")
    platform = refine_platform(platform, model, sub(item, "hardware", "modelIdentifier"))
    mobile_id = text_or_none(item.get("mobileDeviceId"))
    jb = sub(item, "security", "jailBreakDetected")
    compromised = bool_or_none(jb)
    if compromised is None and isinstance(jb, str):
        compromised = JAILBREAK_WORDS.get(" ".join(jb.strip().lower().split()))
    security = item.get("security")
    if not isinstance(security, dict):
        gone = "Jamf has no security inventory for this device yet."
        unknown = {f: gone for f in ("passcode", "encrypted", "compromised")}
    else:
        unknown = {"passcode": "Jamf didn't collect whether a passcode is set.",
                   "encrypted": "Jamf didn't collect whether Data Protection is on.",
                   "compromised": "Jamf didn't collect whether this device is jailbroken."}
    rec = MdmRecord(
        source="jamf",
        source_id=f"mobile-{mobile_id}" if mobile_id else "",
        serial=normalise_serial(sub(item, "hardware", "serialNumber")),
        hardware_uuid=normalise_uuid(sub(item, "general", "udid")),
        macs=normalise_macs([sub(item, "hardware", "wifiMacAddress")]),
        hostname=text_or_none(sub(item, "general", "displayName")),
        user=text_or_none(sub(item, "userAndLocation", "username")) or text_or_none(
            sub(item, "userAndLocation", "emailAddress")),
        platform=platform,
        os_version=split_os_version(text_or_none(sub(item, "general", "osVersion"), 64))[0],
        os_build=_build(sub(item, "general", "osBuild")),
        compromised=compromised,
        compromised_detail="jailbreak detected" if compromised else None,
        last_seen=parse_time(sub(item, "general", "lastInventoryUpdateDate")),
        model=model,
        name=text_or_none(sub(item, "general", "displayName")),
        passcode=bool_or_none(sub(item, "security", "passcodePresent")),
        encrypted=bool_or_none(sub(item, "security", "dataProtected")),
        encryption_state=_data_protection(sub(item, "security", "dataProtected")),
        unknown=unknown,
    )
    set_user(rec, sub(item, "userAndLocation", "emailAddress"), sub(item, "userAndLocation", "username"))
    return note_version(rec, sub(item, "general", "osVersion"))


def _data_protection(value) -> str | None:  # noqa: ANN001
    flag = bool_or_none(value)
    return None if flag is None else ("Data Protection on" if flag else "Data Protection off")
