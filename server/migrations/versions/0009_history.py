"""History for evidence, trends and the policy editor: each device-day's per-check statuses
(device_days.checks, JSON {check_id: status}; NULL for days stored before this revision, which
only know their failing checks) and every version of the organisation policy (policy_versions:
the text in force from saved_at until the next row; empty text = cleared, agents' own policy).

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_days") as batch:
        batch.add_column(sa.Column("checks", sa.Text, nullable=True))
    op.create_table("policy_versions",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("text", sa.Text, nullable=False),
                    sa.Column("etag", sa.String(80), nullable=False),
                    sa.Column("saved_at", sa.DateTime, nullable=False),
                    sa.Column("saved_by", sa.String(128), nullable=False),
                    sa.Column("note", sa.String(256), nullable=False, server_default=""))
    op.create_index("ix_policy_versions_saved_at", "policy_versions", ["saved_at"])
    # The policy in force now becomes the first version (its own save time and author).
    conn = op.get_bind()
    org = sa.table("org_policy", sa.column("text", sa.Text), sa.column("etag", sa.String),
                   sa.column("updated_at", sa.DateTime), sa.column("updated_by", sa.String))
    row = conn.execute(sa.select(org.c.text, org.c.etag, org.c.updated_at, org.c.updated_by)).first()
    if row is not None:
        pv = sa.table("policy_versions", sa.column("text", sa.Text), sa.column("etag", sa.String),
                      sa.column("saved_at", sa.DateTime), sa.column("saved_by", sa.String),
                      sa.column("note", sa.String))
        conn.execute(pv.insert().values(text=row.text, etag=row.etag, saved_at=row.updated_at,
                                        saved_by=row.updated_by or "", note="in force at upgrade"))


def downgrade() -> None:
    op.drop_index("ix_policy_versions_saved_at", table_name="policy_versions")
    op.drop_table("policy_versions")
    with op.batch_alter_table("device_days") as batch:
        batch.drop_column("checks")
