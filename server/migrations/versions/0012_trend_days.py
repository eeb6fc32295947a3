"""Trends: each finished day's counts, kept once computed (trend_days), so the trends page
reads a few hundred rows instead of every device-day of 90 days. check_id "" = the devices'
own status, "*" with status "not_recorded" = devices without per-check detail, and a row
("~", "computed", 0) marks a day as computed (a day with no reports has no other rows).

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("trend_days",
                    sa.Column("day", sa.Date, primary_key=True),
                    sa.Column("check_id", sa.String(64), primary_key=True),
                    sa.Column("status", sa.String(16), primary_key=True),
                    sa.Column("devices", sa.Integer, nullable=False))


def downgrade() -> None:
    op.drop_table("trend_days")
