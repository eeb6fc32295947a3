"""Tables (SQLAlchemy 2). Every change here needs an Alembic migration.

Times are stored as naive UTC.

- ``devices`` holds each device's *current* state (denormalised from its newest
  report) so the fleet pages never scan history.
- ``device_checks`` is the newest status of every check of every device.
- ``reports`` keeps full bodies for ``keep_reports_days``; ``report_id`` is
  unique, so a resent report is stored once.
- ``device_days`` is one row per device per day (the worst-of-day status is
  not kept: the day's newest report wins), kept ``keep_history_days``.
- ``changes`` records every status change of a device or of one of its checks,
  so "what got worse this week" is a small indexed range scan.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Admin(Base):
    __tablename__ = "admins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class EnrollToken(Base):
    __tablename__ = "enroll_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    max_uses: Mapped[int | None] = mapped_column(Integer, nullable=True)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    token_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    enrolled_at: Mapped[dt.datetime] = mapped_column(DateTime)
    platform: Mapped[str | None] = mapped_column(String(16), nullable=True)
    hostname: Mapped[str | None] = mapped_column(String(256), nullable=True)
    os_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    os_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    os_build: Mapped[str | None] = mapped_column(String(64), nullable=True)
    serial: Mapped[str | None] = mapped_column(String(128), nullable=True)
    hardware_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model: Mapped[str | None] = mapped_column(String(256), nullable=True)
    agent_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    failing: Mapped[str] = mapped_column(String(1024), default="")  # "firewall,os_version"
    last_checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_report_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # migration 0004: the identity as one key each (normalised serial, UUID in either byte
    # order), so "does an enrolled device already hold this identity" is one indexed lookup
    serial_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    uuid_key: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # revoked by IT: its secret is dead (secret_hash is overwritten), its history is kept
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_by: Mapped[str] = mapped_column(String(128), default="")
    # Ownership (DESIGN "Ownership", migration 0006): an email and where it came from,
    # strongest first "it" > "claim" > "mdm"; a weaker source never replaces a stronger one.
    owner: Mapped[str | None] = mapped_column(String(320), nullable=True)
    owner_source: Mapped[str | None] = mapped_column(String(8), nullable=True)
    owner_set_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    owner_set_by: Mapped[str] = mapped_column(String(320), default="")

    __table_args__ = (
        Index("ix_devices_status", "status"),
        Index("ix_devices_owner", "owner"),                      # migration 0006
        Index("ix_devices_platform_os", "platform", "os_name"),  # migration 0003
        Index("ix_devices_last_seen_at", "last_seen_at"),
        Index("ix_devices_serial", "serial"),
        Index("ix_devices_serial_key", "serial_key"),            # migration 0004
        Index("ix_devices_uuid_key", "uuid_key"),
        Index("ix_devices_token_id", "token_id"),
    )


class EnrollRequest(Base):
    """An enrollment of an identity an enrolled device already holds, without that
    device's secret (a reinstalled laptop, or someone with the token pretending to be it):
    it waits here until IT approves or rejects it. ``secret_hash`` is the request's own
    secret, which only the computer that asked holds; an approved request gives that
    computer the device's new secret once (status ``done``)."""
    __tablename__ = "enroll_requests"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(32), ForeignKey("devices.id", ondelete="CASCADE"))
    token_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|approved|rejected|done
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    decided_by: Mapped[str] = mapped_column(String(128), default="")
    platform: Mapped[str | None] = mapped_column(String(16), nullable=True)
    hostname: Mapped[str | None] = mapped_column(String(256), nullable=True)
    os_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    os_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    os_build: Mapped[str | None] = mapped_column(String(64), nullable=True)
    serial: Mapped[str | None] = mapped_column(String(128), nullable=True)
    hardware_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model: Mapped[str | None] = mapped_column(String(256), nullable=True)
    __table_args__ = (Index("ix_enroll_requests_device_status", "device_id", "status"),
                      Index("ix_enroll_requests_status", "status"))


class DeviceCheck(Base):
    __tablename__ = "device_checks"
    device_id: Mapped[str] = mapped_column(String(32), ForeignKey("devices.id", ondelete="CASCADE"),
                                           primary_key=True)
    check_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    __table_args__ = (Index("ix_device_checks_check_status", "check_id", "status"),)


class Report(Base):
    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[str] = mapped_column(String(36), unique=True)
    device_id: Mapped[str] = mapped_column(String(32), ForeignKey("devices.id", ondelete="CASCADE"))
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    __table_args__ = (
        Index("ix_reports_device_checked", "device_id", "checked_at"),
        Index("ix_reports_received_at", "received_at"),
    )


class DeviceDay(Base):
    __tablename__ = "device_days"
    device_id: Mapped[str] = mapped_column(String(32), ForeignKey("devices.id", ondelete="CASCADE"),
                                           primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    failing: Mapped[str] = mapped_column(String(1024), default="")
    checks: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON {check_id: status}; NULL before 0009
    __table_args__ = (Index("ix_device_days_day", "day"), {"sqlite_with_rowid": False})


class Change(Base):
    __tablename__ = "changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(32), ForeignKey("devices.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    check_id: Mapped[str] = mapped_column(String(64), default="")  # "" = the device's status
    old_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    new_status: Mapped[str] = mapped_column(String(16))
    worse: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (
        Index("ix_changes_at", "at"),
        Index("ix_changes_device_at", "device_id", "at"),
    )


class OrgPolicy(Base):
    __tablename__ = "org_policy"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    text: Mapped[str] = mapped_column(Text)
    etag: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(128), default="")


class TrendDay(Base):
    """A finished day's trend counts (server/trends.py), kept once computed; a late report
    for that day deletes them (server/ingest.py). See migration 0012 for the special rows."""
    __tablename__ = "trend_days"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    check_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    devices: Mapped[int] = mapped_column(Integer)


class PolicyVersion(Base):
    """Every saved organisation policy, in force from ``saved_at`` until the next row (empty
    text = cleared: agents use their own policy). Written with each change to ``org_policy``."""
    __tablename__ = "policy_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    text: Mapped[str] = mapped_column(Text)
    etag: Mapped[str] = mapped_column(String(80))
    saved_at: Mapped[dt.datetime] = mapped_column(DateTime)
    saved_by: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(String(256), default="", server_default="")
    __table_args__ = (Index("ix_policy_versions_saved_at", "saved_at"),)


class Exemption(Base):
    """IT excuses one device (``device_id``) or every device of one owner (``owner``) from
    one check until ``ends_on`` (a UTC day, inclusive), with a reason (migration 0010)."""
    __tablename__ = "exemptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("devices.id", ondelete="CASCADE"), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(320), nullable=True)
    check_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    ends_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(320), default="", server_default="")
    __table_args__ = (Index("ix_exemptions_device", "device_id"),
                      Index("ix_exemptions_owner", "owner"))


class MdmRecordRow(Base):
    """One device as one MDM last reported it (server/mdm/records.MdmRecord as JSON in ``data``).

    A sync upserts every record it reads with its own ``sync_id`` and, only when it
    finished, deletes the source's rows it did not see; an interrupted sync leaves
    the previous inventory in place and the rerun completes it.
    """
    __tablename__ = "mdm_records"
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    serial: Mapped[str | None] = mapped_column(String(128), nullable=True)
    hardware_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hostname: Mapped[str | None] = mapped_column(String(256), nullable=True)
    platform: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_seen: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    data: Mapped[str] = mapped_column(Text)
    sync_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # the assigned user's email, lower-case (MdmRecord.user_email), for a person's page
    user_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    __table_args__ = (
        Index("ix_mdm_records_serial", "serial"),
        Index("ix_mdm_records_uuid", "hardware_uuid"),
        Index("ix_mdm_records_source_sync", "source", "sync_id"),
        Index("ix_mdm_records_user_email", "user_email"),
    )


class MdmSync(Base):
    __tablename__ = "mdm_syncs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16))          # running | ok | failed
    records: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (Index("ix_mdm_syncs_source_started", "source", "started_at"),)


class WebSession(Base):
    """One sign-in to the web pages (DESIGN "Sign-in and roles": server-side sessions).

    The cookie holds a random token; only its SHA-256 is stored, so a copy of the database
    gives no session. ``subject`` is who signed in (a local admin's user name; an email for
    single sign-on), ``auth`` how (``local``), ``role`` what they may do (``admin``). Logout,
    a password change and ``checkup-server admin logout`` set ``revoked_at``; the prune loop
    drops ended rows.
    """
    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(320))
    auth: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    __table_args__ = (
        Index("ix_web_sessions_subject", "auth", "subject"),
        Index("ix_web_sessions_expires_at", "expires_at"),
    )


class LoginFailure(Base):
    """Failed sign-ins per account name (typed, so unknown names are counted alike), shared
    by every server process: after 5 failures the account waits 1 minute, doubling to 1 hour."""
    __tablename__ = "login_failures"
    auth: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(DateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    __table_args__ = (Index("ix_login_failures_last_failure_at", "last_failure_at"),)


class AuditEvent(Base):
    """One change made by a person or an API token, or one sign-in (DESIGN "Audit log").

    Rows are only ever inserted (server/audit.py); no route or command edits or deletes
    them. ``actor`` is who (a local account name, an email, ``api-token:<id>``, or
    ``cli:<os user>`` for checkup-server commands), ``role`` their role then, ``action``
    a dotted name from server.audit.ACTIONS, ``target`` what it was done to, ``address``
    where the request came from, ``detail`` a short plain-text note (a refusal's reason).
    """
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16), default="")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(320), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
    )


class ApiToken(Base):
    """An API token for IT's read API (DESIGN "API for IT"): ``<id>.<random>``, only its
    SHA-256 kept; a role (viewer | admin), an optional expiry, revocable."""
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class ClaimCode(Base):
    """A laptop's claim (DESIGN "Claim"): the agent asks with its device secret, the person
    opens <public_url>/claim/<code> and signs in. Only the code's SHA-256 is kept; single
    use, valid 15 minutes."""
    __tablename__ = "claim_codes"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(32), ForeignKey("devices.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    used_by: Mapped[str] = mapped_column(String(320), default="")
    __table_args__ = (Index("ix_claim_codes_device", "device_id"),)


class OidcLogin(Base):
    """One OpenID Connect sign-in attempt (server/oidc_store.py): made by
    ``/auth/oidc/start``, used once by ``/auth/oidc/callback``. Only the ``state``'s
    SHA-256 is kept, and the SHA-256 of the browser cookie that started it (a callback
    from another browser is refused); ``used_at`` set = a replayed callback is refused.
    Rows live minutes; older ones are deleted when the next attempt starts."""
    __tablename__ = "oidc_logins"
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    next: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    __table_args__ = (Index("ix_oidc_logins_created_at", "created_at"),)


class Webhook(Base):
    """An outgoing webhook (server/webhooks.py). ``secret`` signs every delivery, so it is
    kept as it is (a hash could not sign); deleting the webhook revokes it."""
    __tablename__ = "webhooks"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))
    format: Mapped[str] = mapped_column(String(16))          # generic | slack
    events: Mapped[str] = mapped_column(String(200))         # comma-separated event names
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(320), default="")


class WebhookOutbox(Base):
    """One event for one webhook, written in the transaction of the change that caused it;
    the delivery worker sends it (state pending -> delivered | failed)."""
    __tablename__ = "webhook_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)                  # the generic event JSON
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    next_at: Mapped[dt.datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    __table_args__ = (Index("ix_webhook_outbox_due", "state", "next_at"),
                      Index("ix_webhook_outbox_webhook", "webhook_id"))


class WebhookAttempt(Base):
    """The delivery log: every attempt, with the receiver's status code or the error."""
    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(Integer)
    webhook_id: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str] = mapped_column(String(500), default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (Index("ix_webhook_attempts_webhook_at", "webhook_id", "at"),)


class MdmFindingSeen(Base):
    """MDM findings already announced (``mdm.finding`` fires for a key not in here)."""
    __tablename__ = "mdm_findings_seen"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    first_at: Mapped[dt.datetime] = mapped_column(DateTime)


class DigestSent(Base):
    """One row per person per day a digest email went out (server/digest.py): written
    before sending, so two processes or a restart never send a second one that day."""
    __tablename__ = "digest_sent"
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime)
