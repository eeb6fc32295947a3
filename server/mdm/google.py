"""Google Workspace: Admin SDK Directory API mobile and ChromeOS devices, and
(optionally) Cloud Identity devices (Endpoint Verification computers).

Documented by Google (developers.google.com/workspace/admin/directory,
cloud.google.com/identity/docs/reference/rest/v1/devices, "Using OAuth 2.0 for
Server to Server Applications"):

- Service account with domain-wide delegation. A JWT signed RS256 with the
  key file's ``private_key``: ``iss`` = ``client_email``, ``sub`` =
  ``admin_email``, ``scope`` (space-separated), ``aud`` = the key file's
  ``token_uri``, ``iat``, ``exp`` (<= 1 h). ``POST token_uri`` form
  ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT``.
- ``GET {directory_url}/admin/directory/v1/customer/{customer_id}/devices/mobile
  ?maxResults=100&projection=FULL&pageToken=...`` -> ``{"mobiledevices": [...],
  "nextPageToken"}`` (maxResults at most 100). Scope
  ``admin.directory.device.mobile.readonly``.
- ``GET .../devices/chromeos?maxResults=300&projection=FULL&pageToken=...`` ->
  ``{"chromeosdevices": [...], "nextPageToken"}`` (maxResults at most 300).
  Scope ``admin.directory.device.chromeos.readonly``.
- With ``cloud_identity = true``: ``GET {cloud_identity_url}/v1/devices?customer=
  customers/{customer_id}&pageSize=100&pageToken=...`` -> ``{"devices": [...],
  "nextPageToken"}``. Scope ``cloud-identity.devices.readonly`` (its own token,
  so a missing grant skips only these devices).

Fields used: mobile ``resourceId``, ``serialNumber``, ``model``, ``os``,
``type``, ``lastSync``, ``email``, ``wifiMacAddress``,
``deviceCompromisedStatus`` (only "Compromised" is compromised; "No compromise
detected" is not; "Undetected", what iOS devices report, and anything else are
unknown); ChromeOS ``deviceId``, ``serialNumber``, ``model``,
``osVersion``, ``lastSync``, ``macAddress``, ``ethernetMacAddress``,
``annotatedUser`` / ``recentUsers``; Cloud Identity ``name``, ``serialNumber``,
``deviceType``, ``osVersion``, ``lastSyncTime``, ``compromisedState``,
``encryptionState``, ``wifiMacAddresses``, ``hostname``.

People and phones (the Directory API reference, "Resource: MobileDevice" and "Resource:
ChromeOsDevice"; the values are those real accounts return, e.g. the Demisto/XSOAR
G Suite integration's recorded answers: ``"devicePasswordStatus": "On"``,
``"encryptionStatus": "Encrypted"``, an IOS_SYNC iPhone with ``"os": ""`` and
``"encryptionStatus": ""``):

- mobile: user = ``email[0]`` (the list's first address is the account; later ones are
  aliases such as ``…test-google-a.com``); ``type`` (ANDROID, IOS_SYNC, GOOGLE_SYNC …)
  when ``os`` is empty; ``devicePasswordStatus`` "On"/"Off"; ``encryptionStatus``
  "Encrypted" / "Not encrypted" / "Unencrypted" (anything else, and iPhones that report
  nothing, unknown); ``name`` is *the owner's* name list, not the device's, so it is not
  used as the device's name;
- ChromeOS: user = ``annotatedUser`` (the user an admin assigned; ``recentUsers`` only
  says who signed in last and is never taken as the owner), ``osVersion``, ``lastSync``,
  ``model``, ``serialNumber``; the Directory API has no screen lock, encryption or
  tampering fact for a Chromebook (``bootMode`` "Dev" = developer mode is said in the
  reason).
"""
from __future__ import annotations

import base64
import json
import time
from typing import Any, Iterator
from urllib.parse import quote, urlencode

from .base import Connector
from .http import BearerToken, MdmConfigError, MdmError, check_url
from .records import (MdmRecord, normalise_macs, normalise_serial, note_version, parse_time,
                      platform_of, quoted, refine_platform, set_user, split_os_version,
                      text_or_none)

SCOPE_MOBILE = "https://www.googleapis.com/auth/admin.directory.device.mobile.readonly"
SCOPE_CHROMEOS = "https://www.googleapis.com/auth/admin.directory.device.chromeos.readonly"
SCOPE_CLOUD_IDENTITY = "https://www.googleapis.com/auth/cloud-identity.devices.readonly"
NO_COMPROMISE = "no compromise detected"
COMPROMISED = "compromised"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_jwt(key_info: dict, subject: str, scopes: list[str], now: float | None = None) -> str:
    """An RS256 JWT assertion for the service-account (JWT bearer) grant."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    now = int(time.time() if now is None else now)
    header = {"alg": "RS256", "typ": "JWT"}
    if key_info.get("private_key_id"):
        header["kid"] = key_info["private_key_id"]
    claims = {"iss": key_info["client_email"], "sub": subject, "scope": " ".join(scopes),
              "aud": key_info["token_uri"], "iat": now, "exp": now + 3600}
    signing_input = (_b64(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     _b64(json.dumps(claims, separators=(",", ":")).encode()))
    try:
        key = serialization.load_pem_private_key(key_info["private_key"].encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise MdmConfigError("google: the service account key file's private_key is not a "
                             "readable PEM key") from exc
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64(signature)


class GoogleConnector(Connector):
    name = "google"
    title = "Google Workspace"
    required = ("service_account_file", "admin_email")

    def _key_info(self) -> dict:
        path = str(self.config.get("service_account_file") or "").strip()
        try:
            with open(path, encoding="utf-8") as fh:
                info = json.load(fh)
        except OSError as exc:
            raise MdmConfigError(f"google: cannot read the service account key file {path} "
                                 f"({exc.strerror or exc})") from None
        except ValueError:
            raise MdmConfigError(f"google: {path} is not a JSON service account key file") from None
        missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
        if missing:
            raise MdmConfigError(f"google: {path} lacks {', '.join(missing)}")
        check_url(info["token_uri"], "the key file's token_uri")
        return info

    def _token(self, info: dict, scopes: list[str]) -> BearerToken:
        subject = str(self.config.get("admin_email") or "").strip()

        def fetch() -> tuple[str, float]:
            body = self.http.post_json(info["token_uri"], data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": signed_jwt(info, subject, scopes)})
            if not isinstance(body, dict) or not body.get("access_token"):
                raise MdmError("google: the token endpoint answered without an access_token")
            return str(body["access_token"]), float(body.get("expires_in") or 3600)

        return BearerToken(fetch)

    def records(self) -> Iterator[MdmRecord]:
        info = self._key_info()
        directory = check_url(self.config.get("directory_url") or "https://admin.googleapis.com",
                              "[mdm.google] directory_url")
        customer = quote(str(self.config.get("customer_id") or "my_customer").strip(), safe="")
        token = self._token(info, [SCOPE_MOBILE, SCOPE_CHROMEOS])
        base = f"{directory}/admin/directory/v1/customer/{customer}/devices"
        yield from self._paged(f"{base}/mobile", {"maxResults": 100, "projection": "FULL"},
                               "mobiledevices", token, map_mobile, "pageToken")
        yield from self._paged(f"{base}/chromeos", {"maxResults": 300, "projection": "FULL"},
                               "chromeosdevices", token, map_chromeos, "pageToken")
        if self.config.get("cloud_identity") is True:
            ci = check_url(self.config.get("cloud_identity_url") or "https://cloudidentity.googleapis.com",
                           "[mdm.google] cloud_identity_url")
            ci_token = self._token(info, [SCOPE_CLOUD_IDENTITY])
            try:
                yield from self._paged(f"{ci}/v1/devices",
                                       {"customer": f"customers/{customer}", "pageSize": 100},
                                       "devices", ci_token, map_cloud_identity, "pageToken")
            except MdmError as exc:
                if "HTTP 40" not in str(exc) and "refused the credentials" not in str(exc):
                    raise
                self.stats.notes.append("Cloud Identity devices skipped (not granted or not available)")

    def _paged(self, url: str, params: dict, key: str, token: BearerToken, mapper, token_param: str
               ) -> Iterator[MdmRecord]:
        page_token = None
        seen_tokens: set[str] = set()
        while True:
            query = dict(params)
            if page_token:
                query[token_param] = page_token
            body = self.http.get_json(f"{url}?{urlencode(query)}", token=token)
            if not isinstance(body, dict):
                raise MdmError("google: the Directory API answered something other than an object")
            self.stats.pages += 1
            items = body.get(key)
            if items is not None:
                yield from self._mapped(items, mapper)
            page_token = body.get("nextPageToken")
            if not page_token:
                return
            if page_token in seen_tokens:
                raise MdmError("google: the same nextPageToken came back twice; stopped")
            seen_tokens.add(page_token)


def _version_from(text: Any) -> str | None:
    return split_os_version(text_or_none(text, 128))[0]


def _compromised(status: Any) -> bool | None:
    """Only "Compromised" is compromised. "No compromise detected" is not; "Undetected"
    (what iOS devices report: the state cannot be detected there) and any other value
    are unknown."""
    t = " ".join(str(status or "").strip().lower().split())
    if t == COMPROMISED:
        return True
    if t == NO_COMPROMISE:
        return False
    return None


PASSWORD_WORDS = {"on": True, "off": False}
ENCRYPTION_WORDS = {"encrypted": True, "not encrypted": False, "unencrypted": False}


def _words(value: Any) -> str:
    return " ".join(str(value or "").strip().lower().split())


def map_mobile(item: dict) -> MdmRecord:
    os_text = item.get("os")
    model = text_or_none(item.get("model"))
    platform = refine_platform(platform_of(os_text) or platform_of(item.get("type")), model)
    status = item.get("deviceCompromisedStatus")
    compromised = _compromised(status)
    pw, enc = _words(item.get("devicePasswordStatus")), _words(item.get("encryptionStatus"))
    unknown = {}
    if platform in ("ios", "ipados") and _words(status) == "undetected":
        unknown["compromised"] = "Google can't check iPhones and iPads for jailbreaks."
    elif status and compromised is None:
        unknown["compromised"] = (f"Google couldn't tell whether this device is jailbroken or "
                                  f"rooted (it says '{quoted(str(status), 40)}').")
    if pw and pw not in PASSWORD_WORDS:
        unknown["passcode"] = f"Google reports the passcode as '{quoted(pw, 40)}'."
    if enc and enc not in ENCRYPTION_WORDS:
        unknown["encrypted"] = f"Google reports the encryption as '{quoted(enc, 40)}'."
    rec = MdmRecord(
        source="google",
        source_id=text_or_none(item.get("resourceId")) or "",
        serial=normalise_serial(item.get("serialNumber")),
        macs=normalise_macs([item.get("wifiMacAddress")]),
        hostname=None,  # phones have no host name here ("name" is the owner's name)
        user=text_or_none(item.get("email")),
        platform=platform,
        os_version=_version_from(os_text),
        compromised=compromised,
        compromised_detail=str(status).strip() if compromised else None,
        last_seen=parse_time(item.get("lastSync")),
        model=model,
        passcode=PASSWORD_WORDS.get(pw),
        encrypted=ENCRYPTION_WORDS.get(enc),
        encryption_state=text_or_none(item.get("encryptionStatus"), 64),
        unknown=unknown,
    )
    emails = item.get("email")
    set_user(rec, emails[0] if isinstance(emails, list) and emails else emails)
    return note_version(rec, os_text)


def map_chromeos(item: dict) -> MdmRecord:
    recent = item.get("recentUsers")
    annotated = text_or_none(item.get("annotatedUser"))
    last = None
    if isinstance(recent, list) and recent and isinstance(recent[0], dict):
        last = text_or_none(recent[0].get("email"))
    user = annotated or last
    unknown = {"passcode": "Google doesn't say whether this Chromebook locks its screen.",
               "encrypted": "Google doesn't report encryption for Chromebooks (ChromeOS "
                            "encrypts each user's files by itself)."}
    boot = _words(item.get("bootMode"))
    if boot == "dev":
        unknown["compromised"] = ("This Chromebook is in developer mode, which turns off "
                                  "ChromeOS's own safety checks.")
    else:
        unknown["compromised"] = "Google doesn't check Chromebooks for tampering."
    rec = MdmRecord(
        source="google",
        source_id="chromeos-" + (text_or_none(item.get("deviceId")) or "") if item.get("deviceId") else "",
        serial=normalise_serial(item.get("serialNumber")),
        macs=normalise_macs([item.get("macAddress"), item.get("ethernetMacAddress")]),
        hostname=None,
        user=user,
        platform="chromeos",
        os_version=_version_from(item.get("osVersion")),
        last_seen=parse_time(item.get("lastSync")),
        model=text_or_none(item.get("model")),
        device_kind="chromebook",
        unknown=unknown,
    )
    set_user(rec, annotated)
    if not annotated and last:
        rec.user_unmapped = (f"Google has no assigned user for this Chromebook (the last to sign "
                             f"in was '{quoted(last)}', which is not taken as its owner)")
    return note_version(rec, item.get("osVersion"))


CI_TYPES = {"MAC_OS": "macos", "WINDOWS": "windows", "LINUX": "linux", "ANDROID": "android",
            "IOS": "ios", "CHROME_OS": "chromeos"}


def map_cloud_identity(item: dict) -> MdmRecord:
    state = item.get("compromisedState")
    compromised = {"COMPROMISED": True, "UNCOMPROMISED": False}.get(str(state or "").upper())
    enc = str(item.get("encryptionState") or "").upper()
    return MdmRecord(
        source="google",
        source_id=text_or_none(item.get("name")) or "",
        serial=normalise_serial(item.get("serialNumber")),
        macs=normalise_macs(item.get("wifiMacAddresses") or []),
        hostname=text_or_none(item.get("hostname")),
        platform=CI_TYPES.get(str(item.get("deviceType") or "").upper()),
        os_version=_version_from(item.get("osVersion")),
        encrypted={"ENCRYPTED": True, "NOT_ENCRYPTED": False}.get(enc),
        encryption_state=enc.lower().replace("_", " ") if enc else None,
        compromised=compromised,
        compromised_detail="compromised (Cloud Identity compromisedState)" if compromised else None,
        last_seen=parse_time(item.get("lastSyncTime")),
        model=text_or_none(item.get("model")),
        # the device's users are a separate resource (devices.deviceUsers), not read here
        unknown={"passcode": "Google's endpoint inventory doesn't say whether a passcode is set."},
    )
