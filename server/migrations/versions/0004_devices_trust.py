"""Devices: identity keys, revocation, enrollments waiting for IT.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as b:
        b.add_column(sa.Column("serial_key", sa.String(128), nullable=True))
        b.add_column(sa.Column("uuid_key", sa.String(36), nullable=True))
        b.add_column(sa.Column("revoked_at", sa.DateTime, nullable=True))
        b.add_column(sa.Column("revoked_by", sa.String(128), nullable=False, server_default=""))
    op.create_index("ix_devices_serial_key", "devices", ["serial_key"])
    op.create_index("ix_devices_uuid_key", "devices", ["uuid_key"])
    op.create_index("ix_devices_token_id", "devices", ["token_id"])
    _backfill_keys()
    op.create_table("enroll_requests",
                    sa.Column("id", sa.String(32), primary_key=True),
                    sa.Column("secret_hash", sa.String(64), nullable=False),
                    sa.Column("device_id", sa.String(32),
                              sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
                    sa.Column("token_id", sa.String(32), nullable=True),
                    sa.Column("created_at", sa.DateTime, nullable=False),
                    sa.Column("last_seen_at", sa.DateTime, nullable=False),
                    sa.Column("status", sa.String(16), nullable=False),
                    sa.Column("decided_at", sa.DateTime, nullable=True),
                    sa.Column("decided_by", sa.String(128), nullable=False),
                    sa.Column("platform", sa.String(16), nullable=True),
                    sa.Column("hostname", sa.String(256), nullable=True),
                    sa.Column("os_name", sa.String(256), nullable=True),
                    sa.Column("os_version", sa.String(64), nullable=True),
                    sa.Column("os_build", sa.String(64), nullable=True),
                    sa.Column("serial", sa.String(128), nullable=True),
                    sa.Column("hardware_uuid", sa.String(64), nullable=True),
                    sa.Column("model", sa.String(256), nullable=True))
    op.create_index("ix_enroll_requests_device_status", "enroll_requests", ["device_id", "status"])
    op.create_index("ix_enroll_requests_status", "enroll_requests", ["status"])


def _backfill_keys() -> None:
    from server.mdm.records import normalise_serial, normalise_uuid, uuid_key
    conn = op.get_bind()
    devices = sa.table("devices", sa.column("id"), sa.column("serial"), sa.column("hardware_uuid"),
                       sa.column("serial_key"), sa.column("uuid_key"))
    rows = conn.execute(sa.select(devices.c.id, devices.c.serial, devices.c.hardware_uuid).where(
        sa.or_(devices.c.serial.is_not(None), devices.c.hardware_uuid.is_not(None)))).all()
    updates = [{"b_id": r.id, "sk": normalise_serial(r.serial),
                "uk": uuid_key(normalise_uuid(r.hardware_uuid))} for r in rows]
    if updates:
        conn.execute(sa.update(devices).where(devices.c.id == sa.bindparam("b_id"))
                     .values(serial_key=sa.bindparam("sk"), uuid_key=sa.bindparam("uk")), updates)


def downgrade() -> None:
    op.drop_table("enroll_requests")
    op.drop_index("ix_devices_token_id", table_name="devices")
    op.drop_index("ix_devices_uuid_key", table_name="devices")
    op.drop_index("ix_devices_serial_key", table_name="devices")
    with op.batch_alter_table("devices") as b:
        b.drop_column("revoked_by")
        b.drop_column("revoked_at")
        b.drop_column("uuid_key")
        b.drop_column("serial_key")
