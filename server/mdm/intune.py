"""Microsoft Intune through Microsoft Graph (v1.0).

Documented by Microsoft (learn.microsoft.com, "List managedDevices",
"managedDevice resource type", "Microsoft identity platform and the OAuth 2.0
client credentials flow", "Microsoft Graph throttling guidance"):

- ``POST {login_url}/{tenant_id}/oauth2/v2.0/token`` form ``client_id``,
  ``client_secret``, ``scope={graph_url}/.default``,
  ``grant_type=client_credentials`` -> ``{"access_token", "expires_in"}``.
- ``GET {graph_url}/v1.0/deviceManagement/managedDevices`` ->
  ``{"value": [...], "@odata.nextLink": "..."}``; follow ``@odata.nextLink``
  until it is absent. ``429`` carries ``Retry-After`` (seconds).
- Application permission ``DeviceManagementManagedDevices.Read.All`` (admin
  consent granted).

Fields used: ``id``, ``deviceName``, ``serialNumber``, ``udid`` (where
present), ``wiFiMacAddress``, ``ethernetMacAddress`` (where present),
``operatingSystem``, ``osVersion``, ``isEncrypted``, ``jailBroken`` (a string:
``"True"``, ``"False"``, ``"Unknown"``), ``lastSyncDateTime``,
``userPrincipalName``, ``model``, ``complianceState``.

People and phones: every ``operatingSystem`` Intune manages (Windows, macOS, Linux,
iOS, iPadOS, Android and its "AndroidForWork"/"AndroidEnterprise" forms, ChromeOS);
an iOS record whose ``model`` says iPad is iPadOS (older Intune filed iPads under
iOS). Name = ``deviceName``; user = ``userPrincipalName`` (an Entra guest's
``…#EXT#@…`` name is not the person's email and stays unmapped). The managedDevice
resource has no passcode property in Graph v1.0 (learn.microsoft.com "managedDevice
resource type"): passcode is unknown, with that reason; Intune's compliance policies
check it, and ``complianceState`` (compliant, noncompliant, inGracePeriod, ...) is kept.
"""
from __future__ import annotations

from typing import Iterator
from urllib.parse import quote, urlsplit

from .base import Connector
from .http import BearerToken, MdmError, check_url
from .records import (COMPUTER_PLATFORMS, MdmRecord, bool_or_none, normalise_macs, normalise_serial,
                      normalise_uuid, note_version, parse_time, platform_of, refine_platform, set_user,
                      split_os_version, text_or_none)

COMPLIANCE_STATES = ("unknown", "compliant", "noncompliant", "conflict", "error", "inGracePeriod",
                     "configManager")


class IntuneConnector(Connector):
    name = "intune"
    title = "Microsoft Intune"
    required = ("tenant_id", "client_id")

    def records(self) -> Iterator[MdmRecord]:
        login = check_url(self.config.get("login_url") or "https://login.microsoftonline.com",
                          "[mdm.intune] login_url")
        graph = check_url(self.config.get("graph_url") or "https://graph.microsoft.com",
                          "[mdm.intune] graph_url")
        tenant = str(self.config.get("tenant_id") or "").strip()
        client_id = str(self.config.get("client_id") or "").strip()
        secret = self.secret("client_secret_env")
        token_url = f"{login}/{quote(tenant, safe='')}/oauth2/v2.0/token"

        def fetch() -> tuple[str, float]:
            body = self.http.post_json(token_url, data={
                "client_id": client_id, "client_secret": secret, "scope": f"{graph}/.default",
                "grant_type": "client_credentials"})
            if not isinstance(body, dict) or not body.get("access_token"):
                raise MdmError("intune: the token endpoint answered without an access_token")
            return str(body["access_token"]), float(body.get("expires_in") or 3599)

        token = BearerToken(fetch)
        graph_host = urlsplit(graph).netloc.lower()
        url: str | None = f"{graph}/v1.0/deviceManagement/managedDevices"
        while url:
            body = self.http.get_json(url, token=token)
            if not isinstance(body, dict):
                raise MdmError("intune: Graph answered something other than an object")
            self.stats.pages += 1
            yield from self._mapped(body.get("value"), map_device)
            nxt = body.get("@odata.nextLink")
            if nxt and urlsplit(str(nxt)).netloc.lower() != graph_host:
                # never send the bearer token to another host
                raise MdmError("intune: @odata.nextLink points away from graph_url; stopped")
            url = str(nxt) if nxt else None


def map_device(item: dict) -> MdmRecord:
    jb = item.get("jailBroken")
    compromised = bool_or_none(jb)  # "Unknown" -> None
    model = text_or_none(item.get("model"))
    platform = refine_platform(platform_of(item.get("operatingSystem")), model)
    version, build = split_os_version(text_or_none(item.get("osVersion"), 64))
    state = text_or_none(item.get("complianceState"), 32)
    unknown = {"passcode": "Intune doesn't say whether a passcode is set."}
    if platform in COMPUTER_PLATFORMS:
        unknown["compromised"] = "Intune doesn't check computers for jailbreaks."
    elif jb is not None:
        unknown["compromised"] = "Intune couldn't tell whether this device is jailbroken or rooted."
    rec = MdmRecord(
        source="intune",
        source_id=text_or_none(item.get("id")) or "",
        serial=normalise_serial(item.get("serialNumber")),
        hardware_uuid=normalise_uuid(item.get("udid")),
        macs=normalise_macs([item.get("wiFiMacAddress"), item.get("ethernetMacAddress")]),
        hostname=text_or_none(item.get("deviceName")),
        user=text_or_none(item.get("userPrincipalName")),
        platform=platform,
        os_version=version,
        os_build=build,
        encrypted=bool_or_none(item.get("isEncrypted")),
        encryption_state=None if item.get("isEncrypted") is None else (
            "encrypted" if bool_or_none(item.get("isEncrypted")) else "not encrypted"),
        compromised=compromised,
        compromised_detail="jailbroken or rooted (jailBroken = True)" if compromised else None,
        last_seen=parse_time(item.get("lastSyncDateTime")),
        model=model,
        name=text_or_none(item.get("deviceName")),
        compliance=state if state in COMPLIANCE_STATES else None,
        unknown=unknown,
    )
    set_user(rec, item.get("userPrincipalName"))
    return note_version(rec, item.get("osVersion"))
