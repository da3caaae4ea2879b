"""Schedules read and changed within the caller's offices, every change audited.

Web workers only write rows here; the `telecentre-scheduler` process turns them into jobs
and runs them ("run now" is a request it picks up within a few seconds).
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from controller.audit.service import Actor, record
from controller.auth.scope import get_visible, in_scope, office_visible
from controller.devices.models import Device
from controller.errors import Conflict, Invalid
from controller.extensions import db
from controller.offices.models import Office
from controller.pagination import Paged, paginate
from controller.scheduler.models import Schedule, ScheduleKind, ScheduleRun, apscheduler_jobs
from controller.scheduler.schemas import ScheduleCreate, ScheduleQuery
from controller.types import utcnow

COUNTY_ONLY = (ScheduleKind.SWEEP, ScheduleKind.PURGE)
FIELDS = ("name", "kind", "office_id", "cron", "interval_s", "window_minutes", "args", "paused")


def job_id(schedule_id: int) -> str:
    """The APScheduler job id of a schedule."""
    return f"schedule-{schedule_id}"


def timezone_of(schedule: Schedule) -> str:
    """The time zone its crontab is read in: the office's, else the county's default."""
    if schedule.office_id is not None:
        office = db.session.get(Office, schedule.office_id)
        if office is not None:
            return office.timezone
    return current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Europe/Warsaw"


def trigger_of(schedule: Schedule, tz: str):
    """The APScheduler trigger of a schedule."""
    if schedule.cron:
        return CronTrigger.from_crontab(schedule.cron, timezone=ZoneInfo(tz))
    return IntervalTrigger(seconds=schedule.interval_s, timezone=UTC)


def snapshot(schedule: Schedule) -> dict:
    """The audited fields as plain JSON values."""
    out = {f: getattr(schedule, f) for f in FIELDS}
    out["kind"] = schedule.kind.value
    return out


def list_schedules(user, query: ScheduleQuery) -> Paged:
    """A page of the schedules the user may see (county-wide ones only for unscoped staff)."""
    stmt = select(Schedule).where(in_scope(user, Schedule.office_id))
    if query.office_id is not None:
        stmt = stmt.where(Schedule.office_id == query.office_id)
    if query.kind is not None:
        stmt = stmt.where(Schedule.kind == query.kind)
    return paginate(stmt.order_by(Schedule.name, Schedule.id), query.page, query.per_page)


def get_schedule(user, schedule_id: int) -> Schedule:
    """One schedule, or NotFound when missing or outside the user's offices."""
    return get_visible(user, Schedule, schedule_id, _("No such schedule."))


def create_schedule(actor: Actor, data: ScheduleCreate) -> Schedule:
    """Add a schedule for an office of the actor's (or the county) and record it."""
    message = _("The schedule was not saved.")
    if data.office_id is not None:
        if data.kind in COUNTY_ONLY:
            raise Invalid(message, {"office_id": _("This kind runs for the whole county.")})
        office = db.session.get(Office, data.office_id)
        if office is None or not office_visible(actor.user, office.id):
            raise Invalid(message, {"office_id": _("No such office.")})
    elif actor.user is not None and actor.user.office_scope() is not None:
        raise Invalid(message, {"office_id": _("Choose one of your offices.")})
    if data.canary_ids:
        stmt = select(func.count()).where(Device.id.in_(data.canary_ids),
                                          in_scope(actor.user, Device.office_id))  # fmt: skip
        if data.office_id is not None:
            stmt = stmt.where(Device.office_id == data.office_id)
        if db.session.scalar(stmt) != len(set(data.canary_ids)):
            raise Invalid(message, {"canary_ids": _("No such device in this office.")})
    schedule = Schedule(name=data.name, kind=data.kind, office_id=data.office_id, cron=data.cron,
                        interval_s=data.interval_s, window_minutes=data.window_minutes,
                        args=data.args(), created_by=actor.label)  # fmt: skip
    db.session.add(schedule)
    db.session.flush()
    record(actor, "schedule.create", schedule, office_id=schedule.office_id,
           after=snapshot(schedule))  # fmt: skip
    db.session.commit()
    return schedule


def set_paused(actor: Actor, schedule: Schedule, paused: bool) -> Schedule:
    """Pause or resume a schedule (the scheduler drops or re-adds its job)."""
    if schedule.paused != paused:
        schedule.paused = paused
        record(actor, "schedule.pause" if paused else "schedule.resume", schedule,
               office_id=schedule.office_id, before={"paused": not paused},
               after={"paused": paused})  # fmt: skip
        db.session.commit()
    return schedule


def run_now(actor: Actor, schedule: Schedule) -> Schedule:
    """Ask the scheduler to run the schedule once, as soon as it can (paused or not)."""
    if schedule.run_requested_at is not None:
        raise Conflict(_("A run has been requested already; the scheduler will start it."))
    schedule.run_requested_at = utcnow()
    record(actor, "schedule.run", schedule, office_id=schedule.office_id,
           after={"run_requested_at": schedule.run_requested_at.isoformat()})  # fmt: skip
    db.session.commit()
    return schedule


def delete_schedule(actor: Actor, schedule: Schedule) -> None:
    """Remove a schedule and its run history."""
    record(actor, "schedule.delete", schedule, office_id=schedule.office_id,
           before=snapshot(schedule))  # fmt: skip
    db.session.delete(schedule)
    db.session.commit()


def runs_of(schedule_id: int, limit: int = 50) -> list[ScheduleRun]:
    """The schedule's latest runs, newest first."""
    stmt = select(ScheduleRun).where(ScheduleRun.schedule_id == schedule_id)
    return list(db.session.scalars(stmt.order_by(ScheduleRun.scheduled_for.desc()).limit(limit)))


def last_runs(schedule_ids: list[int]) -> dict[int, ScheduleRun]:
    """The latest run of each schedule."""
    if not schedule_ids:
        return {}
    latest = (
        select(func.max(ScheduleRun.id))
        .where(ScheduleRun.schedule_id.in_(schedule_ids))
        .group_by(ScheduleRun.schedule_id)
    )
    runs = db.session.scalars(select(ScheduleRun).where(ScheduleRun.id.in_(latest)))
    return {run.schedule_id: run for run in runs}


def next_runs(schedules: list[Schedule]) -> dict[int, datetime | None]:
    """When each schedule fires next: the scheduler's own job store, else the trigger."""
    ids = {job_id(s.id): s for s in schedules}
    stored = dict(db.session.execute(
        select(apscheduler_jobs.c.id, apscheduler_jobs.c.next_run_time)
        .where(apscheduler_jobs.c.id.in_(list(ids)))
    ).all()) if ids else {}  # fmt: skip
    out: dict[int, datetime | None] = {}
    now = utcnow()
    for key, schedule in ids.items():
        if schedule.paused:
            out[schedule.id] = None
        elif stored.get(key) is not None:
            out[schedule.id] = datetime.fromtimestamp(stored[key], UTC)
        elif schedule.cron:
            fires = trigger_of(schedule, timezone_of(schedule)).get_next_fire_time(None, now)
            out[schedule.id] = fires.astimezone(UTC) if fires else None
        else:  # an interval starts counting when the scheduler takes the schedule up
            out[schedule.id] = None
    return out


def describe(schedules: list[Schedule], runs: int = 0) -> list[dict]:
    """Schedules with timezone, next and last run (and the latest runs) for the outputs."""
    nexts, lasts = next_runs(schedules), last_runs([s.id for s in schedules])
    out = []
    for s in schedules:
        item = {f: getattr(s, f) for f in (*FIELDS, "id", "run_requested_at", "created_by",
                                           "created_at")}  # fmt: skip
        item.update(timezone=timezone_of(s), next_run_at=nexts[s.id], last_run=lasts.get(s.id))
        if runs:
            item["runs"] = runs_of(s.id, runs)
        out.append(item)
    return out
