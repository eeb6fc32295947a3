"""MDM records: an indexed user_email column (the assigned user's email, lower-case), so
a person's page finds their records with an index instead of scanning the JSON.
Rows stored before this revision are filled in here from their JSON.

Revision ID: 0008
Revises: 0007
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

PAGE = 2000


def user_email_of(data: str):
    """The record's user_email as the store now writes it, or None (also for JSON that
    cannot be read: such a row is shown nowhere until its MDM's next sync rewrites it)."""
    try:
        value = json.loads(data).get("user_email")
    except (ValueError, TypeError, AttributeError):
        return None
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    return value if value and len(value) <= 320 else None


def upgrade() -> None:
    with op.batch_alter_table("mdm_records") as batch:
        batch.add_column(sa.Column("user_email", sa.String(320), nullable=True))
    op.create_index("ix_mdm_records_user_email", "mdm_records", ["user_email"])
    conn = op.get_bind()
    t = sa.table("mdm_records", sa.column("source", sa.String), sa.column("source_id", sa.String),
                 sa.column("data", sa.Text), sa.column("user_email", sa.String))
    after = ("", "")
    while True:        # keyset pages: bounded memory on a large inventory
        rows = conn.execute(
            sa.select(t.c.source, t.c.source_id, t.c.data)
            .where(t.c.data.like('%"user_email":"%'),
                   sa.tuple_(t.c.source, t.c.source_id) > sa.tuple_(*after))
            .order_by(t.c.source, t.c.source_id).limit(PAGE)).all()
        if not rows:
            break
        changes = [{"s": r.source, "i": r.source_id, "e": e}
                   for r in rows for e in [user_email_of(r.data)] if e]
        if changes:
            conn.execute(t.update().where(t.c.source == sa.bindparam("s"),
                                          t.c.source_id == sa.bindparam("i"))
                         .values(user_email=sa.bindparam("e")), changes)
        after = (rows[-1].source, rows[-1].source_id)


def downgrade() -> None:
    op.drop_index("ix_mdm_records_user_email", table_name="mdm_records")
    with op.batch_alter_table("mdm_records") as batch:
        batch.drop_column("user_email")
