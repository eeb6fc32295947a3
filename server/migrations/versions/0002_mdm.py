"""MDM inventories: mdm_records, mdm_syncs.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("mdm_records",
                    sa.Column("source", sa.String(16), primary_key=True),
                    sa.Column("source_id", sa.String(200), primary_key=True),
                    sa.Column("serial", sa.String(128), nullable=True),
                    sa.Column("hardware_uuid", sa.String(64), nullable=True),
                    sa.Column("hostname", sa.String(256), nullable=True),
                    sa.Column("platform", sa.String(16), nullable=True),
                    sa.Column("last_seen", sa.DateTime, nullable=True),
                    sa.Column("data", sa.Text, nullable=False),
                    sa.Column("sync_id", sa.Integer, nullable=False),
                    sa.Column("updated_at", sa.DateTime, nullable=False))
    op.create_index("ix_mdm_records_serial", "mdm_records", ["serial"])
    op.create_index("ix_mdm_records_uuid", "mdm_records", ["hardware_uuid"])
    op.create_index("ix_mdm_records_source_sync", "mdm_records", ["source", "sync_id"])
    op.create_table("mdm_syncs",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("source", sa.String(16), nullable=False),
                    sa.Column("started_at", sa.DateTime, nullable=False),
                    sa.Column("finished_at", sa.DateTime, nullable=True),
                    sa.Column("status", sa.String(16), nullable=False),
                    sa.Column("records", sa.Integer, nullable=False),
                    sa.Column("skipped", sa.Integer, nullable=False),
                    sa.Column("message", sa.Text, nullable=False))
    op.create_index("ix_mdm_syncs_source_started", "mdm_syncs", ["source", "started_at"])


def downgrade() -> None:
    op.drop_table("mdm_syncs")
    op.drop_table("mdm_records")
