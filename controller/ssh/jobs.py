"""Bulk SSH jobs: targets resolved in scope, fan-out with bounded concurrency, rows per host.

Each host's row is written in its own short transaction (its result together with what the
result changes, such as collected facts or a host key alert), so nothing is half-recorded.
"""

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import timedelta

from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from controller.audit.service import Actor, record
from controller.auth.scope import in_scope
from controller.devices.models import Device, DeviceKind, DeviceTag, Management
from controller.errors import Invalid, NotFound
from controller.extensions import db
from controller.offices.models import Office
from controller.ssh import keys, service
from controller.ssh.client import Connection, Timeouts
from controller.ssh.errors import SshError
from controller.ssh.models import FINAL_HOST_STATES, HostState, Job, JobHost, JobState, SshSettings
from controller.ssh.schemas import JobCreate
from controller.ssh.templates import STORED_OUTPUT, TEMPLATES, execute
from controller.types import utcnow
from controller.validation import parse_id

STALE = timedelta(seconds=60)  # a running job whose runner has not pulsed for this long died
_PULSE = 5.0
_RUNTIME: dict[int, dict] = {}  # per job: secrets that live only in memory (enrolment tokens)
# The pool's threads take turns for their tiny writes: SQLite's busy handler would otherwise
# put a hundred threads to sleep with growing back-offs while one of them holds the lock.
_WRITE_LOCK = threading.Lock()


log = logging.getLogger(__name__)


def resolve(actor: Actor, targets: list[str]) -> list[Device]:
    """The SSH-managed devices of the targets (a union) inside the actor's offices."""
    user = actor.user
    scope = in_scope(user, Device.office_id) if user is not None else None
    conditions = []
    for item in targets:
        kind, _sep, value = item.partition(":")
        value = value.strip()
        if kind == "device":
            device_id = parse_id(value)
            device = db.session.get(Device, device_id) if device_id else None
            if device is None or (user is not None and not _visible(user, device)):
                raise NotFound(_("No device %(id)s in your offices.", id=value))
            if device.management != Management.SSH:
                raise Invalid(_("Device “%(name)s” is not managed over SSH.", name=device.name),
                              {"target": item})  # fmt: skip
            conditions.append(Device.id == device.id)
        elif kind == "office":
            conditions.append(Device.office_id == _office(user, value))
        elif kind == "kind":
            if value not in {k.value for k in DeviceKind}:
                raise Invalid(_("Unknown kind of device “%(kind)s”.", kind=value),
                              {"target": item})  # fmt: skip
            conditions.append(Device.kind == DeviceKind(value))
        else:  # tag
            tagged = select(DeviceTag.device_id).where(DeviceTag.name == value.lower())
            conditions.append(Device.id.in_(tagged))
    stmt = select(Device).where(Device.management == Management.SSH, or_(*conditions))
    if scope is not None:
        stmt = stmt.where(scope)
    devices = list(db.session.scalars(stmt.order_by(Device.id)))
    if not devices:
        raise Invalid(_("No device managed over SSH matches the target in your offices."),
                      {"target": _("Nothing to run the job on.")})  # fmt: skip
    return devices


def _visible(user, device: Device) -> bool:
    scope = user.office_scope()
    return scope is None or device.office_id in scope


def _office(user, value: str) -> int:
    office_id = parse_id(value)
    stmt = select(Office.id).where(
        Office.id == office_id if office_id else func.lower(Office.name) == value.lower()
    )
    if user is not None:
        stmt = stmt.where(in_scope(user, Office.id))
    office_id = db.session.scalar(stmt)
    if office_id is None:
        raise NotFound(_("No office “%(name)s” in your offices.", name=value))
    return office_id


def create(actor: Actor, data: JobCreate) -> Job:
    """Record a job and its hosts (queued) and the audit entry; nothing runs yet."""
    devices = resolve(actor, data.target)
    template = TEMPLATES.get(data.template) if data.template else None
    shown = data.command or template.command(template.params(**data.params), "…")
    job = Job(template=data.template, command=shown, params=data.params,
              target=" ".join(data.target)[:500], concurrency=data.concurrency,
              timeout_s=data.timeout_s, created_by=actor.label, via=actor.via)  # fmt: skip
    settings = {s.device_id: s for s in db.session.scalars(
        select(SshSettings).where(SshSettings.device_id.in_([d.id for d in devices])))}  # fmt: skip
    for device in devices:
        s = settings.get(device.id)
        address = f"{s.username}@{service.host_of(device, s)}:{s.port}" if s else ""
        job.hosts.append(JobHost(device_id=device.id, office_id=device.office_id,
                                 device_name=device.name, address=address))  # fmt: skip
    db.session.add(job)
    db.session.flush()
    shown_params = {k: v for k, v in data.params.items() if k != "content"}
    for office_id, ids in _per_office(devices).items():  # each office sees its own entry
        record(actor, "ssh.job.create", job, office_id=office_id, label=f"#{job.id} {shown[:150]}",
               after={"target": job.target, "template": job.template, "command": shown[:1000],
                      "params": shown_params, "hosts": ids})  # fmt: skip
    # The job, its hosts and the enrolment tokens it hands out are written together, or none.
    tokens = _tokens(actor, devices) if template is not None and template.needs_token else None
    db.session.commit()
    if tokens is not None:
        _RUNTIME[job.id] = {"tokens": tokens}
    return job


def _per_office(devices: list[Device]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for device in devices:
        out.setdefault(device.office_id, []).append(device.id)
    return out


def _tokens(actor: Actor, devices: list[Device]) -> dict[int, str]:
    """One short-lived enrolment token per office, for as many agents as the job installs."""
    from controller.fleet.enrollment import create_token
    from controller.fleet.schemas import TokenCreate

    return {office_id: create_token(actor, db.session.get(Office, office_id),
                                    TokenCreate(ttl_hours=2, uses=len(ids)), commit=False)[1]
            for office_id, ids in _per_office(devices).items()}  # fmt: skip


def start_background(app: Flask, job_id: int) -> threading.Thread:
    """Run the job in a thread of this process; the request returns at once."""
    thread = threading.Thread(target=run, args=(app, job_id), name=f"ssh-job-{job_id}",
                              daemon=True)  # fmt: skip
    thread.start()
    return thread


@contextmanager
def _write(app: Flask):
    """A short write transaction of its own (SQLite's write lock taken up front)."""
    with _WRITE_LOCK, app.app_context():
        db.session.connection(execution_options={"sqlite_immediate": True})
        try:
            yield
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


def run(app: Flask, job_id: int, on_host: Callable[[JobHost], None] | None = None) -> None:
    """Run a queued job to the end: bounded fan-out, cancel checked while waiting."""
    runtime = _RUNTIME.pop(job_id, {})
    with _write(app):
        job = db.session.get(Job, job_id)
        if job is None or job.state != JobState.QUEUED:
            return
        job.state, job.started_at = JobState.RUNNING, utcnow()
        job.alive_at = job.started_at
        concurrency, timeout_s = job.concurrency, job.timeout_s
        plan = _Plan(app, job.template, job.command, dict(job.params), timeout_s,
                     runtime.get("tokens", {}))  # fmt: skip
        hosts = plan.prepare(job_id)
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(hosts))),
                            thread_name_prefix=f"ssh-job-{job_id}") as pool:  # fmt: skip
        pending = {pool.submit(plan.host, host_id) for host_id in hosts}
        pulse = time.monotonic()
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                if on_host is not None:
                    on_host(future.result())
            if not plan.cancel.is_set() and _cancel_requested(app, job_id):
                plan.cancel.set()
            if time.monotonic() - pulse > _PULSE:
                pulse = time.monotonic()
                with _write(app):
                    db.session.get(Job, job_id).alive_at = utcnow()
    with _write(app):
        job = db.session.get(Job, job_id)
        job.state = JobState.CANCELLED if plan.cancel.is_set() else JobState.FINISHED
        job.finished_at = job.alive_at = utcnow()


def _cancel_requested(app: Flask, job_id: int) -> bool:
    with app.app_context():
        try:
            return bool(db.session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))
        finally:
            db.session.remove()


class _Plan:
    """What every host of one job runs; its host() is called from the pool's threads."""

    def __init__(self, app, template, command, params, timeout_s, tokens) -> None:
        self.app, self.command, self.tokens = app, command, tokens
        self.template = TEMPLATES.get(template) if template else None
        self.params = self.template.params(**params) if self.template else None
        self.timeouts = Timeouts(command=timeout_s, **_phase_timeouts(app))
        self.cancel = threading.Event()
        self.targets: dict[int, tuple[int, object]] = {}  # host → (office, Endpoint | SshError)
        self.pkey = keys.controller_key(app.instance_path)
        self.secret_key = app.config["SECRET_KEY"]

    def prepare(self, job_id: int) -> list[int]:
        """Work out every host's endpoint (or why there is none) in one read, before fan-out."""
        rows = db.session.execute(
            select(JobHost.id, JobHost.office_id, Device, SshSettings)
            .outerjoin(Device, Device.id == JobHost.device_id)
            .outerjoin(SshSettings, SshSettings.device_id == JobHost.device_id)
            .where(JobHost.job_id == job_id)
            .order_by(JobHost.id)
        ).all()
        for host_id, office_id, device, settings in rows:
            try:
                if device is None:
                    raise SshError("no_address", "the device was deleted")
                target = service.endpoint(device, settings, self.pkey, self.secret_key)
            except SshError as exc:
                target = exc
            self.targets[host_id] = (office_id, target)
        return list(self.targets)

    def host(self, host_id: int) -> JobHost:
        """Connect, run and record one host; every failure ends as that host's error."""
        started, outcome = time.monotonic(), None
        office_id, target = self.targets[host_id]
        error = target if isinstance(target, SshError) else None
        if self.cancel.is_set():
            error = SshError("cancelled")
        elif error is None:
            with _write(self.app):
                running = {"state": HostState.RUNNING, "started_at": utcnow(),
                           "address": target.address}  # fmt: skip
                db.session.execute(update(JobHost).where(JobHost.id == host_id).values(running))
            try:
                with Connection(target, self.timeouts) as conn:
                    secret = self.tokens.get(office_id, "")
                    outcome = execute(conn, self.template, self.command, self.params, secret,
                                      self.cancel.is_set)  # fmt: skip
            except SshError as exc:
                error = exc
            except Exception as exc:  # the host's row must still end, whatever went wrong
                log.exception("SSH host %s of a job failed unexpectedly", host_id)
                error = SshError("ssh_error", str(exc))
        return self._finish(host_id, outcome, error, time.monotonic() - started)

    def _finish(self, host_id: int, outcome, error: SshError | None, seconds: float) -> JobHost:
        with _write(self.app):
            row = db.session.get(JobHost, host_id)
            row.finished_at, row.duration_s = utcnow(), round(seconds, 3)
            if error is not None:
                row.state, row.error = HostState(error.state), error.code
                row.output = error.detail[-STORED_OUTPUT:]
                if error.code == "host_key_changed" and row.device_id:
                    service.record_mismatch(db.session.get(Device, row.device_id), error.detail)
            else:
                row.exit_code, row.output = outcome.exit_code, outcome.output[-STORED_OUTPUT:]
                row.state = HostState.OK if outcome.exit_code == 0 else HostState.FAILED
                if outcome.facts is not None and row.device_id:
                    _store_facts(db.session.get(Device, row.device_id), outcome.facts)
            db.session.flush()
            db.session.expunge(row)
        return row


def _phase_timeouts(app: Flask) -> dict:
    seconds = float(app.config["SSH_CONNECT_TIMEOUT"])
    return {"connect": seconds, "banner": seconds, "auth": seconds}


def _store_facts(device: Device | None, facts: dict) -> None:
    if device is None:
        return
    device.inventory = {**(device.inventory or {}), **facts, "collected_at": utcnow().isoformat(),
                        "source": "ssh"}  # fmt: skip
    device.last_seen = utcnow()


def request_cancel(actor: Actor, job: Job) -> Job:
    """Ask the runner to stop: hosts not started are cancelled, running commands abandoned."""
    if job.state in (JobState.QUEUED, JobState.RUNNING):
        job.cancel_requested = True
        for office_id in sorted({h.office_id for h in job.hosts}):
            record(actor, "ssh.job.cancel", job, office_id=office_id, label=f"#{job.id}")
        db.session.commit()
    return job


def reap(job: Job) -> Job:
    """A job whose runner died is marked failed ("interrupted"), its open hosts too."""
    pulse = job.alive_at or job.created_at
    if job.state not in (JobState.QUEUED, JobState.RUNNING) or utcnow() - pulse < STALE:
        return job
    now = utcnow()
    job.state, job.error, job.finished_at = JobState.FAILED, "interrupted", now
    for host in job.hosts:
        if host.state not in FINAL_HOST_STATES:
            host.state, host.error, host.finished_at = HostState.FAILED, "interrupted", now
    db.session.commit()
    return job


def get_job(user, job_id: int) -> Job:
    """A job with at least one host in the user's offices (NotFound otherwise)."""
    job = db.session.get(Job, job_id)
    if job is None or (user is not None and not visible_hosts(user, job)):
        raise NotFound(_("No such job."))
    return reap(job)


def visible_hosts(user, job: Job) -> list[JobHost]:
    """The job's hosts the user may see."""
    scope = user.office_scope() if user is not None else None
    return [h for h in job.hosts if scope is None or h.office_id in scope]


def latest(user, limit: int = 50) -> list[Job]:
    """The latest jobs touching the user's offices, newest first."""
    ids = select(JobHost.job_id).where(in_scope(user, JobHost.office_id))
    stmt = select(Job).where(Job.id.in_(ids)).order_by(Job.id.desc()).limit(limit)
    return [reap(j) for j in db.session.scalars(stmt)]


def counts(hosts: list[JobHost]) -> dict[str, int]:
    """Hosts per state."""
    out: dict[str, int] = {}
    for host in hosts:
        out[host.state.value] = out.get(host.state.value, 0) + 1
    return out


def reap_all() -> int:
    """Mark every stale running job interrupted (at start-up and from the CLI)."""
    stale = db.session.scalars(select(Job).where(Job.state.in_((JobState.QUEUED,
                                                                JobState.RUNNING))))  # fmt: skip
    return sum(1 for job in list(stale) if reap(job).state == JobState.FAILED)


def current() -> Flask:
    """The real app object behind current_app, for handing to threads."""
    return current_app._get_current_object()
