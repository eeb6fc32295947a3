"""Fleet overview: covering index for "by operating system".

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_devices_platform_os", "devices", ["platform", "os_name"])
    op.drop_index("ix_devices_platform", table_name="devices")


def downgrade() -> None:
    op.create_index("ix_devices_platform", "devices", ["platform"])
    op.drop_index("ix_devices_platform_os", table_name="devices")
