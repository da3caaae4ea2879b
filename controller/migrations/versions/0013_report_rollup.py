"""report roll-up: daily hotspot figures, month visitors, the nightly report_rollup schedule;
devices indexed by office, kind and state for /metrics

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-21 10:40:00

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_KINDS = ["sweep", "maintenance", "rollout", "purge", "report_snapshot"]


def _schedule_kinds(kinds: list[str]) -> None:
    # SQLite rebuilds the table to change its CHECK, and dropping the old one cascades into
    # schedule_runs (foreign keys are on, and cannot be turned off inside the migration's
    # transaction): the runs are kept aside and put back.
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TEMP TABLE kept_schedule_runs AS SELECT * FROM schedule_runs")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_schedules_schedulekind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_schedules_schedulekind"), sa.column("kind").in_(kinds)
        )
    if sqlite:
        op.execute("INSERT INTO schedule_runs SELECT * FROM kept_schedule_runs"
                   " WHERE id NOT IN (SELECT id FROM schedule_runs)")  # fmt: skip
        op.execute("DROP TABLE kept_schedule_runs")


def upgrade():
    _schedule_kinds([*_KINDS, "report_rollup"])
    op.create_table(
        "report_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("office_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("device_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("peak", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "office_id", "device_id", name=op.f("pk_report_days")),
    )
    op.create_table(
        "report_rollup_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("rolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details_purged", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_report_rollup_days")),
    )
    op.create_table(
        "report_month_visitors",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("office_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("device_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pseudonym", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("month", "office_id", "device_id", "pseudonym",
                                name=op.f("pk_report_month_visitors")),
    )  # fmt: skip
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index("ix_devices_office_id_kind_state", ["office_id", "kind", "state"],
                              unique=False)  # fmt: skip
    # Every deployment rolls up yesterday (and any day changed since) at 01:15 Europe/Warsaw.
    now = datetime.now(UTC)
    schedules = sa.table(
        "schedules", *(sa.column(name) for name in (
            "name", "kind", "cron", "interval_s", "office_id", "window_minutes", "paused",
            "run_requested_at", "created_by")),
        sa.column("args", sa.JSON), sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )  # fmt: skip
    op.bulk_insert(schedules, [{
        "name": "Daily report roll-up", "kind": "report_rollup", "cron": "15 1 * * *",
        "interval_s": None, "office_id": None, "window_minutes": None, "args": {},
        "paused": False, "run_requested_at": None, "created_by": "system (migration)",
        "created_at": now, "updated_at": now,
    }])  # fmt: skip


def downgrade():
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_office_id_kind_state")
    op.execute("DELETE FROM schedules WHERE kind = 'report_rollup'")
    _schedule_kinds(_KINDS)
    op.drop_table("report_month_visitors")
    op.drop_table("report_rollup_days")
    op.drop_table("report_days")
