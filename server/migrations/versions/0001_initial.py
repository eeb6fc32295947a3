"""Initial schema.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("meta",
                    sa.Column("key", sa.String(64), primary_key=True),
                    sa.Column("value", sa.Text, nullable=False))
    op.create_table("admins",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("username", sa.String(128), nullable=False, unique=True),
                    sa.Column("password_hash", sa.String(256), nullable=False),
                    sa.Column("created_at", sa.DateTime, nullable=False),
                    sa.Column("last_login_at", sa.DateTime, nullable=True))
    op.create_table("enroll_tokens",
                    sa.Column("id", sa.String(32), primary_key=True),
                    sa.Column("secret_hash", sa.String(64), nullable=False),
                    sa.Column("label", sa.String(200), nullable=False),
                    sa.Column("created_at", sa.DateTime, nullable=False),
                    sa.Column("expires_at", sa.DateTime, nullable=True),
                    sa.Column("max_uses", sa.Integer, nullable=True),
                    sa.Column("uses", sa.Integer, nullable=False),
                    sa.Column("revoked_at", sa.DateTime, nullable=True))
    op.create_table("devices",
                    sa.Column("id", sa.String(32), primary_key=True),
                    sa.Column("secret_hash", sa.String(64), nullable=False),
                    sa.Column("token_id", sa.String(32), nullable=True),
                    sa.Column("enrolled_at", sa.DateTime, nullable=False),
                    sa.Column("platform", sa.String(16), nullable=True),
                    sa.Column("hostname", sa.String(256), nullable=True),
                    sa.Column("os_name", sa.String(256), nullable=True),
                    sa.Column("os_version", sa.String(64), nullable=True),
                    sa.Column("os_build", sa.String(64), nullable=True),
                    sa.Column("serial", sa.String(128), nullable=True),
                    sa.Column("hardware_uuid", sa.String(64), nullable=True),
                    sa.Column("model", sa.String(256), nullable=True),
                    sa.Column("agent_version", sa.String(64), nullable=True),
                    sa.Column("status", sa.String(16), nullable=False),
                    sa.Column("failing", sa.String(1024), nullable=False),
                    sa.Column("last_checked_at", sa.DateTime, nullable=True),
                    sa.Column("last_seen_at", sa.DateTime, nullable=True),
                    sa.Column("last_report_id", sa.String(36), nullable=True))
    op.create_index("ix_devices_status", "devices", ["status"])
    op.create_index("ix_devices_platform", "devices", ["platform"])
    op.create_index("ix_devices_last_seen_at", "devices", ["last_seen_at"])
    op.create_index("ix_devices_serial", "devices", ["serial"])
    op.create_table("device_checks",
                    sa.Column("device_id", sa.String(32),
                              sa.ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
                    sa.Column("check_id", sa.String(64), primary_key=True),
                    sa.Column("status", sa.String(16), nullable=False))
    op.create_index("ix_device_checks_check_status", "device_checks", ["check_id", "status"])
    op.create_table("reports",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("report_id", sa.String(36), nullable=False, unique=True),
                    sa.Column("device_id", sa.String(32),
                              sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
                    sa.Column("checked_at", sa.DateTime, nullable=False),
                    sa.Column("received_at", sa.DateTime, nullable=False),
                    sa.Column("status", sa.String(16), nullable=False),
                    sa.Column("body", sa.Text, nullable=False))
    op.create_index("ix_reports_device_checked", "reports", ["device_id", "checked_at"])
    op.create_index("ix_reports_received_at", "reports", ["received_at"])
    op.create_table("device_days",
                    sa.Column("device_id", sa.String(32),
                              sa.ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
                    sa.Column("day", sa.Date, primary_key=True),
                    sa.Column("status", sa.String(16), nullable=False),
                    sa.Column("failing", sa.String(1024), nullable=False),
                    sqlite_with_rowid=False)
    op.create_index("ix_device_days_day", "device_days", ["day"])
    op.create_table("changes",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("device_id", sa.String(32),
                              sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
                    sa.Column("at", sa.DateTime, nullable=False),
                    sa.Column("check_id", sa.String(64), nullable=False),
                    sa.Column("old_status", sa.String(16), nullable=True),
                    sa.Column("new_status", sa.String(16), nullable=False),
                    sa.Column("worse", sa.Boolean, nullable=False))
    op.create_index("ix_changes_at", "changes", ["at"])
    op.create_index("ix_changes_device_at", "changes", ["device_id", "at"])
    op.create_table("org_policy",
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("text", sa.Text, nullable=False),
                    sa.Column("etag", sa.String(80), nullable=False),
                    sa.Column("updated_at", sa.DateTime, nullable=False),
                    sa.Column("updated_by", sa.String(128), nullable=False))


def downgrade() -> None:
    for name in ("org_policy", "changes", "device_days", "reports", "device_checks",
                 "devices", "enroll_tokens", "admins", "meta"):
        op.drop_table(name)
