"""Outgoing alerts: webhooks, their outbox (events written with the change that caused
them) and delivery log, the MDM findings already announced, and the email digests sent
(one per person per day).

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("webhooks",
                    sa.Column("id", sa.String(32), primary_key=True),
                    sa.Column("name", sa.String(200), nullable=False),
                    sa.Column("url", sa.String(2000), nullable=False),
                    sa.Column("format", sa.String(16), nullable=False),
                    sa.Column("events", sa.String(200), nullable=False),
                    sa.Column("secret", sa.String(128), nullable=False),
                    sa.Column("created_at", sa.DateTime, nullable=False),
                    sa.Column("created_by", sa.String(320), nullable=False))
    op.create_table("webhook_outbox",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("webhook_id", sa.String(32), nullable=False),
                    sa.Column("event", sa.String(32), nullable=False),
                    sa.Column("body", sa.Text, nullable=False),
                    sa.Column("created_at", sa.DateTime, nullable=False),
                    sa.Column("next_at", sa.DateTime, nullable=False),
                    sa.Column("attempts", sa.Integer, nullable=False),
                    sa.Column("state", sa.String(12), nullable=False))
    op.create_index("ix_webhook_outbox_due", "webhook_outbox", ["state", "next_at"])
    op.create_index("ix_webhook_outbox_webhook", "webhook_outbox", ["webhook_id"])
    op.create_table("webhook_attempts",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("outbox_id", sa.Integer, nullable=False),
                    sa.Column("webhook_id", sa.String(32), nullable=False),
                    sa.Column("event", sa.String(32), nullable=False),
                    sa.Column("at", sa.DateTime, nullable=False),
                    sa.Column("attempt", sa.Integer, nullable=False),
                    sa.Column("status_code", sa.Integer, nullable=True),
                    sa.Column("error", sa.String(500), nullable=False),
                    sa.Column("duration_ms", sa.Integer, nullable=False))
    op.create_index("ix_webhook_attempts_webhook_at", "webhook_attempts", ["webhook_id", "at"])
    op.create_table("mdm_findings_seen",
                    sa.Column("key", sa.String(400), primary_key=True),
                    sa.Column("first_at", sa.DateTime, nullable=False))
    op.create_table("digest_sent",
                    sa.Column("email", sa.String(320), primary_key=True),
                    sa.Column("day", sa.Date, primary_key=True),
                    sa.Column("sent_at", sa.DateTime, nullable=False))


def downgrade() -> None:
    op.drop_table("digest_sent")
    op.drop_table("mdm_findings_seen")
    op.drop_index("ix_webhook_attempts_webhook_at", table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhook_outbox_webhook", table_name="webhook_outbox")
    op.drop_index("ix_webhook_outbox_due", table_name="webhook_outbox")
    op.drop_table("webhook_outbox")
    op.drop_table("webhooks")
