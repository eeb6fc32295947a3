"""OpenID Connect sign-in attempts: oidc_logins (state hash, nonce, PKCE verifier, next).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("oidc_logins",
                    sa.Column("state_hash", sa.String(64), primary_key=True),
                    sa.Column("browser_hash", sa.String(64), nullable=False),
                    sa.Column("nonce", sa.String(128), nullable=False),
                    sa.Column("code_verifier", sa.String(128), nullable=False),
                    sa.Column("redirect_uri", sa.String(2000), nullable=False),
                    sa.Column("next", sa.String(2000), nullable=False),
                    sa.Column("created_at", sa.DateTime, nullable=False),
                    sa.Column("used_at", sa.DateTime, nullable=True))
    op.create_index("ix_oidc_logins_created_at", "oidc_logins", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_oidc_logins_created_at", table_name="oidc_logins")
    op.drop_table("oidc_logins")
