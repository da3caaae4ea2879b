"""Schedules, their runs (claimed once per trigger) and the scheduler lease."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from controller.extensions import db
from controller.offices.models import enum_column
from controller.types import UTCDateTime, utcnow


class ScheduleKind(StrEnum):
    """What a schedule does when it fires."""

    SWEEP = "sweep"
    MAINTENANCE = "maintenance"
    ROLLOUT = "rollout"
    PURGE = "purge"
    REPORT_SNAPSHOT = "report_snapshot"
    REPORT_ROLLUP = "report_rollup"


class Outcome(StrEnum):
    """How a run ended (running while it is under way)."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    HALTED = "halted"
    SKIPPED = "skipped"


class Schedule(db.Model):
    """A job that runs on a crontab or every N seconds, for one office or the whole county."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ScheduleKind] = mapped_column(enum_column(ScheduleKind))
    office_id: Mapped[int | None] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE"), index=True
    )
    cron: Mapped[str | None] = mapped_column(String(100))  # 5-field crontab, office's time zone
    interval_s: Mapped[int | None]
    window_minutes: Mapped[int | None]  # maintenance: commands expire at the window's end
    args: Mapped[dict] = mapped_column(JSON, default=dict)
    paused: Mapped[bool] = mapped_column(default=False)
    run_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # "run now"
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ScheduleRun(db.Model):
    """One run of a schedule; inserting it claims the trigger, so it runs once."""

    __tablename__ = "schedule_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "scheduled_for"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    manual: Mapped[bool] = mapped_column(default=False)  # "run now" rather than the trigger
    missed: Mapped[int] = mapped_column(default=0)  # earlier triggers coalesced into this run
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    outcome: Mapped[Outcome] = mapped_column(enum_column(Outcome), default=Outcome.RUNNING)
    message: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    runner: Mapped[str] = mapped_column(String(100))


class SchedulerLease(db.Model):
    """Who may execute jobs now: renewed by the holder, taken over once it expires."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


# APScheduler's SQLAlchemyJobStore table, declared here so that the migration makes it and
# nothing creates tables at start-up (the store only checks that it exists).
apscheduler_jobs = Table(
    "apscheduler_jobs",
    db.metadata,
    Column("id", String(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
