"""Sign-in, audit and people: audit_log, api_tokens, claim_codes, devices.owner*.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("audit_log",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("at", sa.DateTime, nullable=False),
                    sa.Column("actor", sa.String(320), nullable=False),
                    sa.Column("role", sa.String(16), nullable=False),
                    sa.Column("action", sa.String(64), nullable=False),
                    sa.Column("target", sa.String(320), nullable=False),
                    sa.Column("address", sa.String(64), nullable=False),
                    sa.Column("ok", sa.Boolean, nullable=False),
                    sa.Column("detail", sa.Text, nullable=False))
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"])
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor", "at"])
    op.create_table("api_tokens",
                    sa.Column("id", sa.String(32), primary_key=True),
                    sa.Column("secret_hash", sa.String(64), nullable=False),
                    sa.Column("role", sa.String(16), nullable=False),
                    sa.Column("label", sa.String(200), nullable=False),
                    sa.Column("created_at", sa.DateTime, nullable=False),
                    sa.Column("created_by", sa.String(320), nullable=False),
                    sa.Column("expires_at", sa.DateTime, nullable=True),
                    sa.Column("revoked_at", sa.DateTime, nullable=True),
                    sa.Column("last_used_at", sa.DateTime, nullable=True))
    op.create_table("claim_codes",
                    sa.Column("code_hash", sa.String(64), primary_key=True),
                    sa.Column("device_id", sa.String(32),
                              sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
                    sa.Column("created_at", sa.DateTime, nullable=False),
                    sa.Column("expires_at", sa.DateTime, nullable=False),
                    sa.Column("used_at", sa.DateTime, nullable=True),
                    sa.Column("used_by", sa.String(320), nullable=False))
    op.create_index("ix_claim_codes_device", "claim_codes", ["device_id"])
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("owner", sa.String(320), nullable=True))
        batch.add_column(sa.Column("owner_source", sa.String(8), nullable=True))
        batch.add_column(sa.Column("owner_set_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("owner_set_by", sa.String(320), nullable=False,
                                   server_default=""))
    op.create_index("ix_devices_owner", "devices", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_devices_owner", table_name="devices")
    with op.batch_alter_table("devices") as batch:
        for name in ("owner_set_by", "owner_set_at", "owner_source", "owner"):
            batch.drop_column(name)
    op.drop_index("ix_claim_codes_device", table_name="claim_codes")
    op.drop_table("claim_codes")
    op.drop_table("api_tokens")
    for ix in ("ix_audit_log_actor_at", "ix_audit_log_action_at", "ix_audit_log_at"):
        op.drop_index(ix, table_name="audit_log")
    op.drop_table("audit_log")
