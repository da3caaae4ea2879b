"""The `telecentre-scheduler` process: APScheduler on the database job store, run by a lease.

Every process runs a (paused) APScheduler on the shared job store and tries to take the lease
every tick; the holder resumes its scheduler, keeps the jobs in step with the schedules, and
runs them. A run is claimed by inserting its row, so even two processes overlapping at a
hand-over run each trigger once. Web workers never come here.
"""

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import traceback
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import inspect, select, update
from sqlalchemy.exc import SQLAlchemyError

from controller.extensions import db
from controller.scheduler import jobs, lease
from controller.scheduler.models import Outcome, Schedule, ScheduleRun
from controller.scheduler.service import job_id, timezone_of, trigger_of
from controller.types import utcnow

log = logging.getLogger("telecentre.scheduler")
FIRE = "controller.scheduler.runner:fire"
_PROCESS: dict = {}  # the app and holder id of this process, for jobs run by APScheduler


class ClaimingExecutor(ThreadPoolExecutor):
    """A thread pool that hands each job its scheduled time, so the run is claimed once."""

    def _do_submit_job(self, job, run_times):
        def done(future):
            exc = future.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        self._pool.submit(_run_job, job, run_times).add_done_callback(done)


def _run_job(job, run_times) -> list[JobExecutionEvent]:
    events = []
    for run_time in run_times:  # one, as jobs coalesce
        late = (datetime.now(UTC) - run_time).total_seconds()
        grace = job.misfire_grace_time
        skip = None if grace is None or late <= grace else (
            f"missed by {late:.0f} s while no scheduler was running")  # fmt: skip
        try:
            job.func(*job.args, scheduled_for=run_time, skip_reason=skip, **job.kwargs)
            events.append(JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, job._jobstore_alias,
                                            run_time))  # fmt: skip
        except Exception as exc:
            log.exception("schedule job %s failed", job.id)
            events.append(JobExecutionEvent(EVENT_JOB_ERROR, job.id, job._jobstore_alias,
                                            run_time, exception=exc,
                                            traceback=traceback.format_exc()))  # fmt: skip
    return events


def fire(schedule_id: int, *, scheduled_for: datetime | None = None, skip_reason: str | None = None,
         manual: bool = False) -> None:  # fmt: skip
    """Run one trigger of a schedule in this process's app (called by APScheduler)."""
    with _PROCESS["app"].app_context():
        try:
            at = (scheduled_for or datetime.now(UTC)).astimezone(UTC)
            missed = 0 if manual else missed_before(schedule_id, at)
            db.session.commit()
            jobs.execute(schedule_id, at, _PROCESS["holder"], manual=manual, missed=missed,
                         skip_reason=skip_reason)  # fmt: skip
        finally:
            db.session.remove()


def missed_before(schedule_id: int, at: datetime, cap: int = 10_000) -> int:
    """How many triggers fell between the previous run and this one (coalesced into it)."""
    previous = db.session.scalar(
        select(ScheduleRun.scheduled_for)
        .where(ScheduleRun.schedule_id == schedule_id, ScheduleRun.manual.is_(False),
               ScheduleRun.scheduled_for < at)
        .order_by(ScheduleRun.scheduled_for.desc()).limit(1)
    )  # fmt: skip
    schedule = db.session.get(Schedule, schedule_id)
    if previous is None or schedule is None:
        return 0
    trigger, count, t = trigger_of(schedule, timezone_of(schedule)), 0, previous
    while count < cap:
        t = trigger.get_next_fire_time(t, t)
        if t is None or t >= at - timedelta(milliseconds=1):
            break
        count += 1
    return count


def sync_jobs(scheduler: BackgroundScheduler, grace_s: int | None) -> None:
    """Make the job store match the schedules: add, replace, drop; queue "run now" requests."""
    existing = {job.id: job for job in scheduler.get_jobs()}
    wanted = set()
    for schedule in db.session.scalars(select(Schedule)).all():
        if schedule.run_requested_at is not None and f"{job_id(schedule.id)}-now" not in existing:
            scheduler.add_job(FIRE, "date", run_date=schedule.run_requested_at,
                              id=f"{job_id(schedule.id)}-now", args=[schedule.id],
                              kwargs={"manual": True}, misfire_grace_time=None,
                              replace_existing=True)  # fmt: skip
        if schedule.paused:
            continue
        key, tz = job_id(schedule.id), timezone_of(schedule)
        wanted.add(key)
        signature = f"{schedule.kind.value}|{schedule.cron}|{schedule.interval_s}|{tz}"
        if key not in existing or existing[key].name != signature:
            scheduler.add_job(FIRE, trigger_of(schedule, tz), id=key, name=signature,
                              args=[schedule.id], coalesce=True, max_instances=1,
                              misfire_grace_time=grace_s, replace_existing=True)  # fmt: skip
    for key in existing:
        if not key.endswith("-now") and key not in wanted:
            scheduler.remove_job(key)
    db.session.commit()


class Runner:
    """One scheduler process: stands by, or leads and runs the jobs."""

    def __init__(self, app, holder: str) -> None:
        self.app, self.holder, self.leading = app, holder, False
        config = app.config
        self.ttl, self.tick_s = config["SCHEDULER_LEASE_SECONDS"], config["SCHEDULER_TICK_SECONDS"]
        self.grace = config["SCHEDULER_MISFIRE_GRACE_SECONDS"]
        with app.app_context():
            engine = db.engine
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine)},
            executors={"default": ClaimingExecutor(config["SCHEDULER_WORKERS"])},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": self.grace},
            timezone=UTC,
        )
        _PROCESS.update(app=app, holder=holder)

    def tick(self) -> None:
        """Take or renew the lease; lead (resume, sync) or stand by (pause)."""
        try:
            leader = lease.acquire(self.holder, self.ttl)
        except SQLAlchemyError:
            log.exception("cannot reach the database; standing by")
            db.session.rollback()
            leader = False
        if leader and not self.leading:
            log.info("%s took the lease and runs the jobs", self.holder)
            self._recover()
            self.scheduler.resume()
        elif not leader and self.leading:
            log.info("%s lost the lease and stands by", self.holder)
            self.scheduler.pause()
        self.leading = leader
        if leader:
            try:
                sync_jobs(self.scheduler, self.grace)
            except Exception:  # one bad row must not stop every other schedule
                log.exception("could not bring the jobs in step with the schedules")
                db.session.rollback()

    def _recover(self) -> None:
        """Runs left "running" by a scheduler that stopped are marked as interrupted."""
        _interrupt(ScheduleRun.runner != self.holder)

    def run(self, stop: threading.Event) -> None:
        """Tick until stopped, then give the lease up for a standby to take."""
        self.scheduler.start(paused=True)
        try:
            while not stop.is_set():
                with self.app.app_context():
                    try:
                        self.tick()
                    finally:
                        db.session.remove()
                stop.wait(self.tick_s)
        finally:
            self.scheduler.shutdown(wait=False)
            if self.leading:
                with self.app.app_context():
                    _interrupt(ScheduleRun.runner == self.holder)  # its jobs are abandoned
                    lease.release(self.holder)


def _interrupt(whose) -> None:
    """Mark the runs still "running" of the runners whose (a condition) as interrupted."""
    db.session.execute(
        update(ScheduleRun)
        .where(ScheduleRun.outcome == Outcome.RUNNING, whose)
        .values(outcome=Outcome.FAILED, finished_at=utcnow(),
                message="interrupted: the scheduler running it stopped")
    )  # fmt: skip
    db.session.commit()


def main(argv: list[str] | None = None) -> int:
    """Entry point of `telecentre-scheduler`."""
    summary = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="telecentre-scheduler", description=summary)
    parser.add_argument(
        "--id",
        default=f"{socket.gethostname()}:{os.getpid()}",
        help="Name of this process in the lease and the runs (host:pid).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="Log every job run.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    logging.getLogger("apscheduler").setLevel(logging.INFO if args.verbose else logging.WARNING)
    from controller import create_app

    app = create_app()
    with app.app_context():
        if not inspect(db.engine).has_table("alembic_version"):
            print("Error: the database has no schema yet; run `telecentre db upgrade` first",
                  file=sys.stderr)  # fmt: skip
            return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    Runner(app, args.id[:100]).run(stop)
    log.info("%s stopped", args.id)
    logging.shutdown()
    # Jobs still running are abandoned rather than waited for: their transactions roll back
    # with the connection; their runs were marked as interrupted before the lease was given up.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
