"""scheduler: schedules, runs, lease, APScheduler job store; default sweep and purge

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-21 05:45:00.000000

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

KINDS = ("sweep", "maintenance", "rollout", "purge", "report_snapshot")
OUTCOMES = ("running", "ok", "failed", "halted", "skipped")


def upgrade():
    schedules = op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.Enum(*KINDS, name="schedulekind", native_enum=False,
                                  create_constraint=True, length=20), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=True),
        sa.Column("cron", sa.String(length=100), nullable=True),
        sa.Column("interval_s", sa.Integer(), nullable=True),
        sa.Column("window_minutes", sa.Integer(), nullable=True),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("run_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["office_id"], ["offices.id"],
                                name=op.f("fk_schedules_office_id_offices"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )  # fmt: skip
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedules_office_id"), ["office_id"], unique=False)

    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Enum(*OUTCOMES, name="outcome", native_enum=False,
                                     create_constraint=True, length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("runner", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"],
                                name=op.f("fk_schedule_runs_schedule_id_schedules"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_runs")),
        sa.UniqueConstraint("schedule_id", "scheduled_for",
                            name=op.f("uq_schedule_runs_schedule_id")),
    )  # fmt: skip
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_runs_finished_at"), ["finished_at"])
        batch_op.create_index(batch_op.f("ix_schedule_runs_schedule_id"), ["schedule_id"])

    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )
    # The table of APScheduler's SQLAlchemyJobStore, with its own column types.
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apscheduler_jobs_next_run_time"), ["next_run_time"])

    # Every deployment starts with the offline sweep (every minute) and the nightly purge.
    now = datetime.now(UTC)
    common = {"office_id": None, "window_minutes": None, "args": {}, "paused": False,
              "run_requested_at": None, "created_by": "system (migration)", "created_at": now,
              "updated_at": now}  # fmt: skip
    op.bulk_insert(schedules, [
        {**common, "name": "Offline detection", "kind": "sweep", "cron": None, "interval_s": 60},
        {**common, "name": "Retention purge", "kind": "purge", "cron": "30 3 * * *",
         "interval_s": None},
    ])  # fmt: skip


def downgrade():
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apscheduler_jobs_next_run_time"))
    op.drop_table("apscheduler_jobs")
    op.drop_table("scheduler_leases")
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_runs_schedule_id"))
        batch_op.drop_index(batch_op.f("ix_schedule_runs_finished_at"))
    op.drop_table("schedule_runs")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedules_office_id"))
    op.drop_table("schedules")
