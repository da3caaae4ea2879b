"""agent nonces: one b-tree (SQLite WITHOUT ROWID), no index on seen_at

Every signed agent request writes one nonce inside the write lock. With a rowid table, its
primary-key index and an index on seen_at, that was three b-trees — three more pages for each
commit to write. Nonces are looked up and purged by (device_id, nonce) and device_id; the
hourly purge of all devices reads the whole (small) table instead.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-21 10:40:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade():
    op.drop_index("ix_agent_nonces_seen_at", table_name="agent_nonces")
    if _sqlite():  # copies the rows into a new table: nonces inside the window stay known
        with op.batch_alter_table("agent_nonces", recreate="always",
                                  table_kwargs={"sqlite_with_rowid": False}):  # fmt: skip
            pass


def downgrade():
    if _sqlite():
        with op.batch_alter_table("agent_nonces", recreate="always"):
            pass
    op.create_index("ix_agent_nonces_seen_at", "agent_nonces", ["seen_at"], unique=False)
