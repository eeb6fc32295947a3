"""Exemptions (DESIGN "Exemptions"): IT excuses one device, or every device of one owner,
from one check until an end day, with a reason. Exactly one of device_id / owner is set.
An exemption is active while ``ends_on`` >= today (UTC); expired rows stay for the record.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("exemptions",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("device_id", sa.String(32),
                              sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=True),
                    sa.Column("owner", sa.String(320), nullable=True),
                    sa.Column("check_id", sa.String(64), nullable=False),
                    sa.Column("reason", sa.String(500), nullable=False),
                    sa.Column("ends_on", sa.Date, nullable=False),
                    sa.Column("created_at", sa.DateTime, nullable=False),
                    sa.Column("created_by", sa.String(320), nullable=False, server_default=""))
    op.create_index("ix_exemptions_device", "exemptions", ["device_id"])
    op.create_index("ix_exemptions_owner", "exemptions", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_exemptions_owner", table_name="exemptions")
    op.drop_index("ix_exemptions_device", table_name="exemptions")
    op.drop_table("exemptions")
