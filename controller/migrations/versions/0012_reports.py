"""reports: frozen monthly figures, portal sessions indexed by start

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-21 08:10:00

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "report_snapshots",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("device_name", sa.String(length=100), nullable=False),
        sa.Column("device_kind", sa.String(length=20), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.JSON(), nullable=True),
        sa.Column("details_purged", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["offices.id"],
            name=op.f("fk_report_snapshots_office_id_offices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "month", "office_id", "device_id", name=op.f("pk_report_snapshots")
        ),
    )
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_portal_sessions_started_at", ["started_at"], unique=False)

    # Every deployment freezes last month's figures at 00:30 on the 1st (Europe/Warsaw).
    now = datetime.now(UTC)
    schedules = sa.table(
        "schedules", *(sa.column(name) for name in (
            "name", "kind", "cron", "interval_s", "office_id", "window_minutes", "paused",
            "run_requested_at", "created_by")),
        sa.column("args", sa.JSON), sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )  # fmt: skip
    op.bulk_insert(schedules, [{
        "name": "Monthly report snapshot", "kind": "report_snapshot", "cron": "30 0 1 * *",
        "interval_s": None, "office_id": None, "window_minutes": None, "args": {},
        "paused": False, "run_requested_at": None, "created_by": "system (migration)",
        "created_at": now, "updated_at": now,
    }])  # fmt: skip


def downgrade():
    op.execute("DELETE FROM schedules WHERE kind = 'report_snapshot' "
               "AND created_by = 'system (migration)'")  # fmt: skip
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_portal_sessions_started_at")
    op.drop_table("report_snapshots")
