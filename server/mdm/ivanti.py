"""Ivanti Endpoint Manager (EPM, formerly LANDESK Management Suite).

What is confirmed (Ivanti's MBSDK web service as used by published
integrations and admin scripts): the core server exposes the ASMX web service
``{url}/MBSDKService/MsgSDK.asmx``; its ``RunQuery`` method runs a saved
inventory query by name and returns a .NET ``DataSet``; ASMX services answer
``GET {url}/MBSDKService/MsgSDK.asmx/RunQuery?queryName=...`` with that DataSet
as XML (a schema, then ``<diffgr:diffgram><NewDataSet><Table>...</Table>``
rows whose child elements are the query's columns, XML-escaped: a space in a
column name is ``_x0020_``). The service authenticates with Windows
credentials of a console user whose scope covers the devices.

NOT confirmed against Ivanti's own reference (not reachable from here):
the exact column names a query returns (they follow the columns IT picks
when saving the query), whether Basic authentication is enabled on the IIS
site (NTLM is the usual default; set ``auth = "ntlm"`` and install
``requests-ntlm``), and whether RunQuery pages (it does not appear to: the
whole result comes back in one answer, which is parsed here as a stream).

The saved query (``[mdm.ivanti] query``, default "Checkup inventory") should
return these columns; the names are matched loosely (case, spaces and
punctuation ignored), the first alias present wins:

==================  ===========================================================
Device id           "Device ID", "GUID", "Computer Idn", "Idn"
Device name         "Device Name", "Display Name", "Computer Name"
Serial number       "Serial Number", "BIOS Serial Number", "System Serial Number"
Hardware UUID       "UUID", "Hardware UUID", "System UUID", "SMBIOS UUID"
MAC address         "MAC Address", "Physical Address", "NIC Address" (several, comma-separated, ok)
OS                  "OS Name", "Operating System", "Type"
OS version          "OS Version", "Version"
Last seen           "Last Inventory Scan Date", "Hardware Last Scan Date", "Last Update"
User                "Login Name", "Primary Owner", "User Name", "Last Logon User"
Encrypted           "Encrypted", "BitLocker", "Disk Encrypted", "Encryption Status"
Model               "Model", "Computer Model", "System Model"
==================  ===========================================================

People: the user is the login name, mapped to an email by :func:`records.map_user`
with ``[people] ivanti_email_domain`` (``CORP\\alice`` or ``alice`` ->
``alice@<domain>``; empty = login names stay unmapped, with that reason; a column that
already holds an email is used as it is). The query has no passcode or jailbreak
column: both are unknown, with the reason.

Fallback when the web service is not usable: read the same facts straight
from the EPM database (SQL Server, database usually ``LDMS``) with a read-only
login, e.g. ``Computer.DeviceName``, ``Computer.HWLastScanDate``,
``CompSystem.SerialNum``, ``Network.NICAddress`` joined on
``Computer_Idn`` (table and column names unconfirmed here; check them in the
console's Query builder first). That path is documented, not built.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Iterator
from urllib.parse import urlencode

from .base import Connector
from .http import MdmConfigError, MdmError, check_url
from .records import (MdmRecord, bool_or_none, normalise_macs, normalise_serial, normalise_uuid,
                      note_version, parse_time, platform_of, quoted, set_user,
                      split_os_version, text_or_none)

ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("deviceid", "guid", "computeridn", "idn", "id"),
    "hostname": ("devicename", "displayname", "computername", "name"),
    "serial": ("serialnumber", "biosserialnumber", "systemserialnumber", "serial", "serialnum"),
    "uuid": ("uuid", "hardwareuuid", "systemuuid", "smbiosuuid"),
    "mac": ("macaddress", "physicaladdress", "nicaddress", "mac"),
    "os": ("osname", "operatingsystem", "os", "type"),
    "os_version": ("osversion", "version"),
    "last_seen": ("lastinventoryscandate", "hardwarelastscandate", "hwlastscandate",
                  "lastupdate", "lastscandate", "lastupdatedate"),
    "user": ("loginname", "primaryowner", "username", "lastlogonuser"),
    "encrypted": ("encrypted", "bitlocker", "diskencrypted", "encryptionstatus"),
    "model": ("model", "computermodel", "systemmodel"),
}

_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def column_name(tag: str) -> str:
    """An XML element name from a .NET DataSet back to its column name."""
    tag = tag.rsplit("}", 1)[-1]
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), tag)


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _platform(os_name: str | None) -> str | None:
    """EPM's OS names carry a vendor word first ("Microsoft Windows 11 Enterprise",
    "Apple iOS", "Apple macOS 14.5", "Ubuntu 22.04"): the first word that names one."""
    if not os_name:
        return None
    found = platform_of(os_name)
    if found:
        return found
    for word in re.split(r"[\s,;/()]+", os_name):
        found = platform_of(word) if word.lower() not in ("apple", "microsoft", "google") else None
        if found:
            return found
    return "windows" if "win" in os_name.lower() else None


def map_row(row: dict[str, str], email_domain: str = "") -> MdmRecord:
    squashed = {_squash(k): v for k, v in row.items()}

    def pick(field: str) -> str | None:
        for alias in ALIASES[field]:
            v = squashed.get(alias)
            if v is not None and str(v).strip():
                return str(v).strip()
        return None

    os_name = pick("os")
    macs = re.split(r"[,;\s]+", pick("mac") or "")
    enc_text = pick("encrypted")
    encrypted = bool_or_none(enc_text)
    if encrypted is None and enc_text:
        t = enc_text.lower()
        encrypted = True if t in ("fully encrypted", "protection on", "encrypted") else (
            False if t in ("fully decrypted", "protection off", "not encrypted", "decrypted") else None)
    ident = pick("id") or normalise_serial(pick("serial")) or pick("hostname")
    unknown = {"passcode": "Ivanti's inventory doesn't say whether a password or passcode is set.",
               "compromised": "Ivanti's inventory doesn't check for jailbreaks or tampering."}
    if enc_text and encrypted is None:
        unknown["encrypted"] = f"Ivanti reports the encryption as '{quoted(enc_text, 40)}'."
    rec = MdmRecord(
        source="ivanti",
        source_id=ident or "",
        serial=normalise_serial(pick("serial")),
        hardware_uuid=normalise_uuid(pick("uuid")),
        macs=normalise_macs(macs),
        hostname=text_or_none(pick("hostname")),
        user=text_or_none(pick("user")),
        platform=_platform(os_name),
        os_version=split_os_version(text_or_none(pick("os_version"), 64))[0],
        encrypted=encrypted,
        encryption_state=enc_text,
        last_seen=parse_time(pick("last_seen")),
        model=text_or_none(pick("model")),
        name=text_or_none(pick("hostname")),
        unknown=unknown,
    )
    set_user(rec, pick("user"), email_domain=email_domain)
    return note_version(rec, pick("os_version"))


class IvantiConnector(Connector):
    name = "ivanti"
    title = "Ivanti EPM"
    required = ("url", "username")

    def records(self) -> Iterator[MdmRecord]:
        base = check_url(self.config.get("url", ""), "[mdm.ivanti] url")
        user = str(self.config.get("username") or "").strip()
        password = self.secret("password_env")
        query = str(self.config.get("query") or "Checkup inventory")
        mode = str(self.config.get("auth") or "basic").lower()
        if mode == "ntlm":
            try:
                from requests_ntlm import HttpNtlmAuth  # type: ignore
            except ImportError:
                raise MdmConfigError("ivanti: auth = \"ntlm\" needs the requests-ntlm package "
                                     "(pip install requests-ntlm)") from None
            auth: Any = HttpNtlmAuth(user, password)
        else:
            auth = (user, password)
        url = f"{base}/MBSDKService/MsgSDK.asmx/RunQuery?{urlencode({'queryName': query})}"
        resp = self.http.request("GET", url, auth=auth, stream=True, expect_json=False,
                                 headers={"Accept": "text/xml, application/xml"})
        self.stats.pages += 1
        try:
            yield from self._mapped_rows(resp)
        finally:
            resp.close()

    def _map_row(self, row: dict[str, str]) -> MdmRecord:
        return map_row(row, str(self.config.get("email_domain") or ""))

    def _mapped_rows(self, resp) -> Iterator[MdmRecord]:
        resp.raw.decode_content = True
        depth = 0
        row_depth = None
        row: dict[str, str] = {}
        in_schema = 0
        try:
            for event, elem in ET.iterparse(resp.raw, events=("start", "end")):
                local = elem.tag.rsplit("}", 1)[-1]
                if event == "start":
                    depth += 1
                    if local == "schema":
                        in_schema += 1
                    elif not in_schema and local == "NewDataSet" and row_depth is None:
                        row_depth = depth + 1
                    continue
                # end
                if local == "schema":
                    in_schema -= 1
                elif not in_schema and row_depth is not None:
                    if depth == row_depth + 1:
                        row[column_name(elem.tag)] = (elem.text or "").strip()
                    elif depth == row_depth:
                        yield from self._mapped([row], self._map_row)
                        row = {}
                        elem.clear()
                depth -= 1
        except ET.ParseError:
            raise MdmError("ivanti: RunQuery did not answer well-formed XML (is the query name "
                           "right, and is the account allowed to run it?)") from None
        if row_depth is None:
            self.stats.notes.append("RunQuery answered no result table (empty query, or no such query)")
