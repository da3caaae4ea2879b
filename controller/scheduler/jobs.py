"""What schedules do when they fire; each run is claimed once, then runs in its own transactions.

Called by the scheduler process only (never by web workers), inside an app context.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from controller.audit.service import Actor, record
from controller.database import write_transaction
from controller.devices.models import Device, Management
from controller.errors import DomainError
from controller.extensions import db
from controller.fleet import commands, states
from controller.fleet.models import AgentNonce, Command, CommandState, DeviceEvent
from controller.fleet.schemas import CommandCreate, Target
from controller.scheduler import hooks, rollout
from controller.scheduler.models import Outcome, Schedule, ScheduleKind, ScheduleRun
from controller.types import utcnow

log = logging.getLogger(__name__)
FINISHED = (CommandState.DONE, CommandState.FAILED, CommandState.EXPIRED)
NONCE_KEEP = timedelta(seconds=600)  # twice the agents' 300 s replay window


@dataclass(frozen=True)
class SchedulerPrincipal:
    """Who a schedule acts as: no account, limited to the schedule's office."""

    schedule_id: int
    name: str
    office_id: int | None
    id: None = None

    @property
    def email(self) -> str:
        """The name written into the audit log and on the commands it sends."""
        return f"scheduler: {self.name}"[:254]

    def office_scope(self) -> frozenset[int] | None:
        """The schedule's office, or every office for a county-wide schedule."""
        return None if self.office_id is None else frozenset({self.office_id})


@dataclass
class Result:
    """How a run went."""

    outcome: Outcome
    message: str
    details: dict | None = None


def claim(schedule_id: int, scheduled_for: datetime, runner: str, manual: bool = False,
          missed: int = 0) -> ScheduleRun | None:  # fmt: skip
    """Insert the run row of a trigger; None when another process has claimed it already."""
    run = ScheduleRun(schedule_id=schedule_id, scheduled_for=scheduled_for, manual=manual,
                      missed=missed, runner=runner[:100], started_at=utcnow(), message="",
                      details={}, outcome=Outcome.RUNNING)  # fmt: skip
    db.session.add(run)
    try:
        if manual:  # the request is answered by this run, in the same transaction
            db.session.execute(update(Schedule).where(Schedule.id == schedule_id)
                               .values(run_requested_at=None))  # fmt: skip
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return run


def finish(run_id: int, result: Result) -> None:
    """Store the outcome of a run."""
    db.session.rollback()  # whatever the job left open
    db.session.execute(
        update(ScheduleRun).where(ScheduleRun.id == run_id).values(
            outcome=result.outcome, message=result.message[:2000],
            details=result.details or {}, finished_at=utcnow())
    )  # fmt: skip
    db.session.commit()


def execute(schedule_id: int, scheduled_for: datetime, runner: str, *, manual: bool = False,
            missed: int = 0, skip_reason: str | None = None) -> ScheduleRun | None:  # fmt: skip
    """Claim the trigger and run the schedule's job; None when it was not ours to run."""
    write_transaction()
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None or (schedule.paused and not manual):
        db.session.rollback()
        return None
    run = claim(schedule_id, scheduled_for, runner, manual, missed)
    if run is None:
        return None
    if skip_reason is not None:
        finish(run.id, Result(Outcome.SKIPPED, skip_reason))
        return run
    try:
        write_transaction()
        schedule = db.session.get(Schedule, schedule_id)
        result = JOBS[schedule.kind](schedule, scheduled_for)
    except Exception as exc:  # a failed run is recorded, the scheduler carries on
        log.exception("schedule %s run for %s failed", schedule_id, scheduled_for)
        result = Result(Outcome.FAILED, f"{type(exc).__name__}: {exc}")
    finish(run.id, result)
    return run


def _actor(schedule: Schedule) -> Actor:
    return Actor(SchedulerPrincipal(schedule.id, schedule.name, schedule.office_id), "scheduler")


def _command(schedule: Schedule, ttl_minutes: int) -> CommandCreate:
    args = schedule.args
    return CommandCreate(kind=args.get("command", "update_packages"), message=args.get("message"),
                         script=args.get("script"), ttl_minutes=max(1, ttl_minutes))  # fmt: skip


def target_of(schedule: Schedule, device_ids: list[int] | None = None) -> Target:
    """The devices of the schedule's office (or county) and kind; an empty filter is all."""
    return Target.model_construct(device_ids=device_ids, office_id=schedule.office_id,
                                  kind=schedule.args.get("device_kind"))  # fmt: skip


def sweep(schedule: Schedule, scheduled_for: datetime) -> Result:
    """Mark agent devices offline whose heartbeats stopped."""
    changed = states.sweep(current_app.config["AGENT_INTERVAL"])
    return Result(Outcome.OK, f"{changed} devices marked offline", {"offline": changed})


def maintenance(schedule: Schedule, scheduled_for: datetime) -> Result:
    """Queue the command for the office's agent devices, expiring when the window closes, and
    run it at once over SSH on its devices managed that way."""
    ends = scheduled_for + timedelta(minutes=schedule.window_minutes or 60)
    now = utcnow()
    if now >= ends:
        return Result(Outcome.SKIPPED, f"the maintenance window closed at {ends.isoformat()}")
    minutes = int((ends - now).total_seconds() // 60) + 1
    notes, details, outcome = [], {}, Outcome.OK
    try:
        batch = commands.queue_many(_actor(schedule), target_of(schedule),
                                    _command(schedule, minutes))  # fmt: skip
    except DomainError as exc:  # no agent device in the target
        db.session.rollback()
        notes.append(exc.message)
    else:
        db.session.execute(update(Command).where(Command.batch == batch).values(expires_at=ends))
        db.session.commit()
        sent = len(commands.batch_commands(SchedulerPrincipal(0, "", schedule.office_id), batch))
        notes.append(f"{sent} commands queued until {ends.isoformat()}")
        details.update(batches=[batch], queued=sent)
    over_ssh = ssh_devices(schedule)
    if over_ssh:  # devices without an agent get the same maintenance over SSH, now
        job_id, by_state, note = ssh_maintenance(schedule, over_ssh, ends - utcnow())
        details.update(ssh_job=job_id, ssh_hosts=by_state)
        notes.append(note)
        if job_id is not None and set(by_state) - {"ok"}:
            outcome = Outcome.FAILED
    elif not details:
        return Result(Outcome.SKIPPED, notes[0])
    return Result(outcome, "; ".join(notes), details)


# The agent command of a schedule → the SSH template that does the same on a device.
SSH_TEMPLATES = {"update_packages": "update_packages", "reboot": "reboot"}


def ssh_devices(schedule: Schedule) -> list[int]:
    """SSH-managed devices of the schedule's office (or county) and kind."""
    query = select(Device.id).where(Device.management == Management.SSH).order_by(Device.id)
    if schedule.office_id:
        query = query.where(Device.office_id == schedule.office_id)
    if schedule.args.get("device_kind"):
        query = query.where(Device.kind == schedule.args["device_kind"])
    return list(db.session.scalars(query))


def ssh_maintenance(schedule: Schedule, device_ids: list[int], window: timedelta):
    """Run the schedule's command as an SSH job on the devices: (job id, hosts by state, note)."""
    from controller.ssh import jobs as ssh_jobs
    from controller.ssh.schemas import JobCreate

    kind = schedule.args.get("command", "update_packages")
    template = SSH_TEMPLATES.get(kind)
    if template is None:
        return None, {}, f"{len(device_ids)} SSH devices skipped: no SSH template for {kind}"
    timeout = max(1, min(3600, int(window.total_seconds())))
    data = JobCreate.model_construct(  # validated ids; a county may have more than 20 of them
        target=[f"device:{i}" for i in device_ids], command=None, template=template, params={},
        concurrency=20, timeout_s=timeout,
    )  # fmt: skip
    write_transaction()
    job = ssh_jobs.create(_actor(schedule), data)
    ssh_jobs.run(current_app._get_current_object(), job.id)
    db.session.rollback()  # end any read that began before the hosts' results were written
    job = db.session.get(type(job), job.id)
    by_state = ssh_jobs.counts(job.hosts)
    db.session.commit()
    summary = ", ".join(f"{n} {state}" for state, n in sorted(by_state.items()))
    return job.id, by_state, f"SSH job #{job.id} on {len(device_ids)} devices: {summary}"


def purge(schedule: Schedule, scheduled_for: datetime) -> Result:
    """Delete what is kept no longer: old nonces, finished commands, events, runs and hotspot
    session details (their months' report figures are frozen first)."""
    config, now = current_app.config, utcnow()
    days = lambda key: now - timedelta(days=config[key])  # noqa: E731
    done = {
        "nonces": delete(AgentNonce).where(AgentNonce.seen_at < now - NONCE_KEEP),
        "commands": delete(Command).where(Command.state.in_(FINISHED),
                                          Command.created_at < days("RETENTION_COMMAND_DAYS")),
        "device_events": delete(DeviceEvent).where(DeviceEvent.at < days("RETENTION_EVENT_DAYS")),
        "schedule_runs": delete(ScheduleRun).where(ScheduleRun.finished_at
                                                   < days("RETENTION_RUN_DAYS")),
    }  # fmt: skip
    counts = {name: db.session.execute(stmt).rowcount for name, stmt in done.items()}
    from controller.reports.retention import purge_details

    counts.update(purge_details(now, config["RETENTION_SESSION_MONTHS"]))
    record(_actor(schedule), "retention.purge", schedule, after=counts)
    db.session.commit()
    return Result(Outcome.OK, ", ".join(f"{k}: {v}" for k, v in counts.items()), counts)


def report_snapshot(schedule: Schedule, scheduled_for: datetime) -> Result:
    """Call the registered report snapshot hooks (the reports feature provides one)."""
    found = hooks.snapshot_hooks()
    if not found:
        return Result(Outcome.SKIPPED, "no report hook registered")
    summaries = [fn(scheduled_for, schedule.office_id) for fn in found]
    db.session.commit()
    return Result(Outcome.OK, "; ".join(summaries))


def report_rollup(schedule: Schedule, scheduled_for: datetime) -> Result:
    """Roll up the days closed when the run was due whose hotspot figures are not rolled up
    yet or changed since (county-wide: the roll-up is per day for every office)."""
    from controller.reports import rollup

    counts = rollup.run(scheduled_for)
    return Result(Outcome.OK, f"{counts['rolled']} days rolled up of {counts['checked']} checked",
                  counts)  # fmt: skip


def staged_rollout(schedule: Schedule, scheduled_for: datetime) -> Result:
    """Canaries first, then waves, halting when the canaries or too many devices fail.

    The devices are those with an agent (which get the command) and, when the command has an
    SSH template, those managed over SSH (which get an SSH job), in one plan by device id.
    """
    agents = list(db.session.scalars(
        select(Device.id).where(Device.agent_salt.is_not(None), Device.approved.is_(True))
        .where(*([Device.office_id == schedule.office_id] if schedule.office_id else []))
        .where(*([Device.kind == schedule.args["device_kind"]]
                 if schedule.args.get("device_kind") else []))
        .order_by(Device.id)
    ))  # fmt: skip
    has_template = schedule.args.get("command", "update_packages") in SSH_TEMPLATES
    over_ssh = set(ssh_devices(schedule)) - set(agents) if has_template else set()
    plan = rollout.Plan.of(schedule.args, sorted({*agents, *over_ssh}))
    wait_minutes = schedule.args.get("wait_minutes", 30)
    poll_s = current_app.config["SCHEDULER_POLL_SECONDS"]

    def send(ids: list[int]) -> dict:
        ref: dict = {}
        by_agent = [i for i in ids if i not in over_ssh]
        if by_agent:
            write_transaction()
            ref["batch"] = commands.queue_many(_actor(schedule), target_of(schedule, by_agent),
                                               _command(schedule, wait_minutes))  # fmt: skip
        by_ssh = [i for i in ids if i in over_ssh]
        if by_ssh:  # runs to the end here, within the wait
            job_id, by_state, _note = ssh_maintenance(schedule, by_ssh,
                                                      timedelta(minutes=wait_minutes))  # fmt: skip
            ref["ssh_job"], ref["ssh_ok"] = job_id, by_state.get("ok", 0)
            ref["ssh_failed"] = sum(by_state.values()) - ref["ssh_ok"]
        return ref

    def wait(ref: dict) -> tuple[int, int]:
        ok, failed = ref.get("ssh_ok", 0), ref.get("ssh_failed", 0)
        if "batch" in ref:
            agent_ok, agent_failed = rollout.wait_for(ref["batch"], wait_minutes * 60, poll_s)
            ok, failed = ok + agent_ok, failed + agent_failed
        return ok, failed

    outcome = rollout.run(plan, send, wait=wait, timeout_s=wait_minutes * 60, poll_s=poll_s,
                          sleep=time.sleep)  # fmt: skip
    return Result(Outcome(outcome.outcome), outcome.message, outcome.details)


JOBS = {
    ScheduleKind.SWEEP: sweep,
    ScheduleKind.MAINTENANCE: maintenance,
    ScheduleKind.ROLLOUT: staged_rollout,
    ScheduleKind.PURGE: purge,
    ScheduleKind.REPORT_SNAPSHOT: report_snapshot,
    ScheduleKind.REPORT_ROLLUP: report_rollup,
}
