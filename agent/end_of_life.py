"""When each OS release stops getting security fixes: the dated table in end_of_life.toml.

``support_end(os_id, version, edition)`` finds the row of a machine's release;
``windows_esu(observed, edition, today)`` says whether a Windows 10 22H2 PC shows that it
still gets Extended Security Updates. Both never raise on machine data; a broken table
raises ``ValueError`` when it is loaded (tests/test_end_of_life.py loads it).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from .tomlcompat import tomllib

OS_IDS = ("windows", "windows-server", "macos", "ubuntu", "debian", "fedora")
EDITIONS = ("home_pro", "enterprise_education", "ltsc", "iot_ltsc")

# Registry EditionID -> the edition group whose servicing dates apply (Microsoft: Home, Pro,
# Pro Education, Pro for Workstations and SE get 24 months; Enterprise, Education, IoT
# Enterprise and Enterprise multi-session 36 months; LTSC editions their own dates).
_EDITION_GROUPS = {
    "home_pro": ("Core", "CoreN", "CoreSingleLanguage", "CoreCountrySpecific", "Professional",
                 "ProfessionalN", "ProfessionalEducation", "ProfessionalEducationN",
                 "ProfessionalWorkstation", "ProfessionalWorkstationN", "CloudEdition", "CloudEditionN"),
    "enterprise_education": ("Enterprise", "EnterpriseN", "Education", "EducationN", "IoTEnterprise",
                             "ServerRdsh", "EnterpriseG", "EnterpriseGN"),
    "ltsc": ("EnterpriseS", "EnterpriseSN"),
    "iot_ltsc": ("IoTEnterpriseS",),
}
EDITION_GROUP = {name.lower(): group for group, names in _EDITION_GROUPS.items() for name in names}


def edition_group(edition_id: Any) -> str | None:
    """"Professional" -> "home_pro"; unknown or unreadable -> None (the caller is careful)."""
    if not isinstance(edition_id, str):
        return None
    return EDITION_GROUP.get(edition_id.strip().lower())


@dataclass(frozen=True)
class Release:
    os: str
    release: str
    name: str
    end: dt.date
    source: str
    edition: str | None = None
    esu: bool = False
    note: str = ""


@dataclass(frozen=True)
class EsuInfo:
    build: str
    commercial_ends: tuple[dt.date, ...]
    consumer_end: dt.date
    consumer_editions: tuple[str, ...]
    first_esu_ubr: int
    first_esu_update: dt.date


@dataclass(frozen=True)
class Table:
    releases: tuple[Release, ...]
    esu: EsuInfo


_SOURCE = re.compile(r"https://[^\s\"']+")


def parse_table(text: str) -> Table:
    """The TOML text of end_of_life.toml as a Table; ValueError names the bad row."""
    data = tomllib.loads(text)
    rows = data.get("release")
    if not isinstance(rows, list) or not rows:
        raise ValueError("end_of_life.toml: no [[release]] rows")
    releases = []
    seen = set()
    for i, row in enumerate(rows, 1):
        where = f"end_of_life.toml: release row {i}"
        unknown = set(row) - {"os", "release", "name", "end", "source", "edition", "esu", "note"}
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        if row.get("os") not in OS_IDS:
            raise ValueError(f"{where}: os must be one of {', '.join(OS_IDS)}")
        for key in ("release", "name"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise ValueError(f"{where}: {key} must be text")
        end = row.get("end")
        if not isinstance(end, dt.date) or isinstance(end, dt.datetime):
            raise ValueError(f"{where}: end must be a date (YYYY-MM-DD)")
        if not isinstance(row.get("source"), str) or not _SOURCE.fullmatch(row["source"]):
            raise ValueError(f"{where}: source must be the vendor's https:// address")
        edition = row.get("edition")
        if edition is not None and (edition not in EDITIONS or row["os"] != "windows"):
            raise ValueError(f"{where}: edition must be one of {', '.join(EDITIONS)} (Windows only)")
        if not isinstance(row.get("esu", False), bool) or not isinstance(row.get("note", ""), str):
            raise ValueError(f"{where}: esu must be true/false and note text")
        key = (row["os"], row["release"], edition)
        if key in seen:
            raise ValueError(f"{where}: a second row for {key}")
        seen.add(key)
        releases.append(Release(os=row["os"], release=row["release"], name=row["name"], end=end,
                                source=row["source"], edition=edition, esu=row.get("esu", False),
                                note=row.get("note", "")))
    e = data.get("windows_esu")
    try:
        esu = EsuInfo(build=str(e["build"]), commercial_ends=tuple(e["commercial_ends"]),
                      consumer_end=e["consumer_end"], consumer_editions=tuple(e["consumer_editions"]),
                      first_esu_ubr=int(e["first_esu_ubr"]), first_esu_update=e["first_esu_update"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("end_of_life.toml: [windows_esu] is incomplete") from None
    dates = [*esu.commercial_ends, esu.consumer_end, esu.first_esu_update]
    if not all(isinstance(d, dt.date) for d in dates) or not esu.commercial_ends:
        raise ValueError("end_of_life.toml: [windows_esu] dates must be dates")
    for key in ("commercial_source", "consumer_source", "first_esu_source"):
        if not isinstance(e.get(key), str) or not _SOURCE.fullmatch(e[key]):
            raise ValueError(f"end_of_life.toml: windows_esu.{key} must be an https:// address")
    return Table(releases=tuple(releases), esu=esu)


@lru_cache(maxsize=1)
def table() -> Table:
    text = resources.files("agent").joinpath("end_of_life.toml").read_text(encoding="utf-8")
    return parse_table(text)


def release_key(os_id: str | None, version: Any) -> str | None:
    """The table's `release` for a version: Windows build, macOS major, Linux VERSION_ID."""
    if not isinstance(version, str) or not version.strip():
        return None
    version = version.strip()
    if os_id in ("windows", "windows-server"):
        parts = version.split(".")
        return parts[2] if len(parts) >= 3 and parts[2].isdigit() else None
    if os_id == "macos":
        m = re.match(r"(10\.\d+|\d+)(?:\.|$|\s)", version)
        return m.group(1) if m else None
    return version


def support_end(os_id: str | None, version: Any, edition: str | None = None,
                releases: tuple[Release, ...] | None = None) -> tuple[Release, bool] | None:
    """(row, edition_known) for this release, or None when the table has no date for it.

    A release whose rows differ by edition uses the row of ``edition``; when the edition is
    unknown (or has no row of its own) the row with the LATEST end, so that no machine
    fails on a date that may not be its own.
    """
    key = release_key(os_id, version)
    if key is None:
        return None
    rows = [r for r in (table().releases if releases is None else releases)
            if r.os == os_id and r.release == key]
    if not rows:
        return None
    if len(rows) == 1 and rows[0].edition is None:
        return rows[0], True
    exact = [r for r in rows if edition is not None and r.edition == edition]
    if exact:
        return exact[0], True
    return max(rows, key=lambda r: r.end), False


def ubr_of(version: Any) -> int | None:
    """The update revision of "10.0.19045.6575" (6575), or None."""
    if not isinstance(version, str):
        return None
    parts = version.strip().split(".")
    return int(parts[3]) if len(parts) >= 4 and parts[3].isdigit() else None


def windows_esu(observed: dict, edition: str | None, today: dt.date,
                esu: EsuInfo | None = None) -> tuple[str, dt.date | None]:
    """Whether a Windows 10 22H2 PC past its end shows Extended Security Updates.

    ("covered", until or None) | ("none", None) | ("unknown", None).
    Evidence, best first: a licensed commercial ESU year (``esu_year``, read from the
    licensing service); then the installed update (a UBR at or above the first ESU-only
    update means ESU updates arrive, the only trace of the consumer program). No sign of ESU is
    "none" only when nothing hidden could still cover the PC; otherwise "unknown".
    """
    esu = esu or table().esu
    year = observed.get("esu_year")
    year_read = isinstance(year, int) and not isinstance(year, bool) and year >= 0
    if year_read and 1 <= year <= len(esu.commercial_ends) and today <= esu.commercial_ends[year - 1]:
        return "covered", esu.commercial_ends[year - 1]
    hidden = []  # programs that could cover this PC without showing a license
    had_license = year_read and year >= 1  # consumer ESU is not for PCs with an ESU license
    if not had_license and (edition is None or edition in esu.consumer_editions):
        hidden.append(esu.consumer_end)
    if not year_read:
        hidden.append(esu.commercial_ends[-1])
    if not hidden or today > max(hidden):
        return "none", None
    ubr = ubr_of(observed.get("version"))
    if ubr is not None and ubr >= esu.first_esu_ubr:
        return "covered", None
    if ubr is not None and today > esu.first_esu_update:
        return "none", None  # no update installed since support ended
    return "unknown", None
