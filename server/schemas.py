"""The data shapes of protocol v1 (pydantic), mirroring `checkup check --json`.

Only the fields the server relies on are typed; the rest of each check
(``observed``, ``fix``) is kept as the agent sent it. Sizes are bounded.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from agent.status import RANK, STATUS_ORDER, device_status  # noqa: F401 - the agent's rule, one copy

Status = Literal[STATUS_ORDER]  # type: ignore[valid-type] - "pass" ... "fail", from the one copy

def _no_nul(v: str) -> str:
    """Text for a database column: trailing NULs (C-string padding, as SMBIOS and WMI
    give) are dropped, a NUL inside is refused (PostgreSQL cannot store it, and a value
    cut there would be a guess)."""
    v = v.rstrip("\x00")
    if "\x00" in v:
        raise ValueError("must not contain NUL characters")
    return v


Text = Annotated[str, AfterValidator(_no_nul)]   # a string that goes into its own column
Short = Optional[Text]


def _short(n: int):
    return Field(default=None, max_length=n)


class DeviceIdentity(BaseModel):
    model_config = ConfigDict(extra="ignore")
    platform: Literal["darwin", "windows", "linux"]
    hostname: Short = _short(256)
    os_name: Short = _short(256)
    os_version: Short = _short(64)
    os_build: Short = _short(64)
    serial: Short = _short(128)
    hardware_uuid: Short = _short(64)
    model: Short = _short(256)


class Fix(BaseModel):
    model_config = ConfigDict(extra="allow")
    steps: list[str] = Field(default_factory=list, max_length=50)
    link: Optional[str] = _short(2048)


class CheckResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    status: Status
    level: Optional[str] = _short(16)
    title: Optional[str] = _short(200)
    summary: Optional[str] = _short(2000)
    observed: Optional[dict[str, Any]] = None
    fix: Optional[Fix] = None


class Report(BaseModel):
    """POST /api/v1/reports: the `checkup check --json` object plus report_id."""
    model_config = ConfigDict(extra="allow")
    schema_: int = Field(alias="schema", ge=1, le=1)
    report_id: uuid.UUID
    agent_version: Short = _short(64)
    checked_at: dt.datetime
    device: DeviceIdentity
    status: Status
    checks: list[CheckResult] = Field(min_length=1, max_length=64)   # none: nothing was checked
    device_id: Short = _short(64)  # optional; when given it must be the sender's

    @field_validator("checked_at")
    @classmethod
    def _utc(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("checked_at must carry a time zone (RFC 3339)")
        try:
            return v.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except OverflowError:   # 0001-01-01T00:00+01:00, 9999-12-31T23:59-01:00
            raise ValueError("checked_at is out of range (before year 1 or after 9999 in UTC)") from None

    @field_validator("checks")
    @classmethod
    def _unique_ids(cls, v: list[CheckResult]) -> list[CheckResult]:
        ids = [c.id for c in v]
        if len(set(ids)) != len(ids):
            raise ValueError("check ids must be unique")
        return v


class EnrollRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    enroll_token: Text = Field(min_length=1, max_length=200)
    device: DeviceIdentity


class EnrollResponse(BaseModel):
    device_id: str
    device_secret: str


class Accepted(BaseModel):
    report_id: str
    stored: bool = Field(description="false when this report_id had been stored before")


class Problem(BaseModel):
    detail: Any
