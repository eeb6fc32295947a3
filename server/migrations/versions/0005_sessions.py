"""Server-side web sessions and per-account login backoff: web_sessions, login_failures.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("web_sessions",
                    sa.Column("token_hash", sa.String(64), primary_key=True),
                    sa.Column("subject", sa.String(320), nullable=False),
                    sa.Column("auth", sa.String(16), nullable=False),
                    sa.Column("role", sa.String(16), nullable=False),
                    sa.Column("csrf", sa.String(64), nullable=False),
                    sa.Column("created_at", sa.DateTime, nullable=False),
                    sa.Column("expires_at", sa.DateTime, nullable=False),
                    sa.Column("last_seen_at", sa.DateTime, nullable=False),
                    sa.Column("revoked_at", sa.DateTime, nullable=True),
                    sa.Column("address", sa.String(64), nullable=False))
    op.create_index("ix_web_sessions_subject", "web_sessions", ["auth", "subject"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])
    op.create_table("login_failures",
                    sa.Column("auth", sa.String(16), primary_key=True),
                    sa.Column("subject", sa.String(320), primary_key=True),
                    sa.Column("failures", sa.Integer, nullable=False),
                    sa.Column("last_failure_at", sa.DateTime, nullable=False),
                    sa.Column("locked_until", sa.DateTime, nullable=True))
    op.create_index("ix_login_failures_last_failure_at", "login_failures", ["last_failure_at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_last_failure_at", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_web_sessions_expires_at", table_name="web_sessions")
    op.drop_index("ix_web_sessions_subject", table_name="web_sessions")
    op.drop_table("web_sessions")
