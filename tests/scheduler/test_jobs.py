"""The jobs: claimed once per trigger; maintenance windows, staged rollouts, purge, hooks."""

import threading
from datetime import timedelta

from sqlalchemy import func, select

from controller.audit.models import AuditLog
from controller.devices.models import Device, DeviceKind, DeviceState
from controller.extensions import db
from controller.fleet import commands
from controller.fleet.models import AgentNonce, Command, CommandState, DeviceEvent
from controller.fleet.schemas import CommandResult
from controller.scheduler import hooks, jobs, lease, rollout
from controller.scheduler.models import Outcome, Schedule, ScheduleRun
from controller.types import utcnow
from tests.conftest import make_device, make_office


def _schedule(**kw) -> Schedule:
    kw.setdefault("name", "Test schedule")
    kw.setdefault("interval_s", None if kw.get("cron") else 60)
    schedule = Schedule(created_by="test", args=kw.pop("args", {}), **kw)
    db.session.add(schedule)
    db.session.commit()
    return schedule


def _pcs(office, n, **kw):
    return [make_device(office, agent_salt="0" * 32, **kw) for _ in range(n)]


def test_a_trigger_is_claimed_once(app):
    schedule = _schedule(kind="sweep")
    at = utcnow().replace(microsecond=123456)
    assert jobs.execute(schedule.id, at, "one") is not None
    assert jobs.execute(schedule.id, at, "two") is None
    runs = db.session.scalars(select(ScheduleRun).where(ScheduleRun.schedule_id == schedule.id))
    assert [(r.runner, r.outcome) for r in runs] == [("one", Outcome.OK)]


def test_sweep_marks_silent_agents_offline(app):
    office = make_office()
    silent = make_device(office, agent_salt="0" * 32, state=DeviceState.ONLINE,
                         last_seen=utcnow() - timedelta(hours=1))  # fmt: skip
    run = jobs.execute(_schedule(kind="sweep").id, utcnow(), "t")
    db.session.refresh(silent)
    assert silent.state == DeviceState.OFFLINE
    assert db.session.get(ScheduleRun, run.id).message == "1 devices marked offline"


def test_maintenance_queues_commands_that_expire_when_the_window_closes(app):
    office, elsewhere = make_office(), make_office()
    pcs = _pcs(office, 2)
    make_device(office, agent_salt="0" * 32, kind=DeviceKind.INFOMAT)
    _pcs(elsewhere, 1)
    schedule = _schedule(kind="maintenance", office_id=office.id, cron="0 2 * * *",
                         window_minutes=120, args={"command": "update_packages",
                                                   "device_kind": "pc"})  # fmt: skip
    started = utcnow() - timedelta(minutes=10)
    run = db.session.get(ScheduleRun, jobs.execute(schedule.id, started, "t").id)
    assert run.outcome == Outcome.OK, run.message
    queued = db.session.scalars(select(Command).where(Command.batch == run.details["batches"][0]))
    queued = list(queued)
    assert sorted(c.device_id for c in queued) == sorted(d.id for d in pcs)
    assert {c.kind.value for c in queued} == {"update_packages"}
    assert all(c.expires_at == started + timedelta(minutes=120) for c in queued)
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "command.queue")).all()
    assert {a.actor for a in audit} == {"scheduler: Test schedule"}
    assert {a.via for a in audit} == {"scheduler"}
    late = jobs.execute(schedule.id, utcnow() - timedelta(minutes=121), "t")
    run = db.session.get(ScheduleRun, late.id)
    assert run.outcome == Outcome.SKIPPED and "window closed" in run.message


def test_purge_keeps_what_is_still_needed(app):
    office = make_office()
    device = make_device(office)
    old, now = utcnow() - timedelta(days=400), utcnow()
    db.session.add_all([
        AgentNonce(device_id=device.id, nonce="old", seen_at=now - timedelta(hours=1)),
        AgentNonce(device_id=device.id, nonce="new", seen_at=now),
        Command(uid="a" * 32, device_id=device.id, kind="lock", args={}, created_by="t",
                created_at=old, expires_at=old, state=CommandState.DONE),
        Command(uid="b" * 32, device_id=device.id, kind="lock", args={}, created_by="t",
                created_at=old, expires_at=old, state=CommandState.QUEUED),
        DeviceEvent(device_id=device.id, office_id=office.id, at=old, from_state="unknown",
                    to_state="online"),
    ])  # fmt: skip
    db.session.commit()
    run = db.session.get(ScheduleRun, jobs.execute(_schedule(kind="purge").id, now, "t").id)
    assert run.outcome == Outcome.OK
    assert run.details == {"nonces": 1, "commands": 1, "device_events": 0, "schedule_runs": 0,
                           "portal_sessions": 0, "office_months_frozen": 0,
                           "snapshots_marked": 0, "days_rolled_up": 0}  # fmt: skip
    assert db.session.scalars(select(AgentNonce.nonce)).all() == ["new"]
    assert db.session.scalars(select(Command.uid)).all() == ["b" * 32]
    assert db.session.scalar(select(func.count()).select_from(DeviceEvent)) == 1


def test_report_snapshot_calls_the_registered_hook(app, monkeypatch):
    monkeypatch.setattr(hooks, "_SNAPSHOT_HOOKS", [])  # without the reports' own hook
    schedule = _schedule(kind="report_snapshot", cron="0 1 1 * *")
    run = jobs.execute(schedule.id, utcnow(), "t")
    assert db.session.get(ScheduleRun, run.id).message == "no report hook registered"
    seen = []

    def hook(at, office_id):
        seen.append((at, office_id))
        return "stored 3 offices"

    hooks.register_snapshot_hook(hook)
    try:
        at = utcnow() + timedelta(seconds=1)
        run = db.session.get(ScheduleRun, jobs.execute(schedule.id, at, "t").id)
    finally:
        hooks._SNAPSHOT_HOOKS.remove(hook)
    assert run.outcome == Outcome.OK and run.message == "stored 3 offices"
    assert seen == [(at, None)]


class Agents:
    """Stands in for the agents' result records: writes results as the heartbeat ingest does."""

    def __init__(self, app, failing: set[int]) -> None:
        self.app, self.failing, self.stop = app, failing, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.app.app_context():
            while not self.stop.is_set():
                jobs.write_transaction()
                for command in db.session.scalars(
                    select(Command).where(Command.state.in_(("queued", "sent")))
                ).all():
                    code = 1 if command.device_id in self.failing else 0
                    commands.apply_result(
                        db.session.get(Device, command.device_id),
                        CommandResult(uid=command.uid, exit_code=code),
                    )
                db.session.commit()
                self.stop.wait(0.02)
            db.session.remove()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


def _rollout(app, failing_positions: list[int]):
    app.config["SCHEDULER_POLL_SECONDS"] = 0.05
    office = make_office()
    pcs = _pcs(office, 6)
    schedule = _schedule(kind="rollout", office_id=office.id, args={
        "command": "update_packages", "canary_count": 2, "wave_size": 2,
        "max_failure_percent": 30, "wait_minutes": 1})  # fmt: skip
    with Agents(app, {pcs[i].id for i in failing_positions}):
        run = jobs.execute(schedule.id, utcnow(), "t")
    db.session.rollback()
    run = db.session.get(ScheduleRun, run.id)
    sent = db.session.scalars(select(Command.device_id).join(Device)
                              .where(Device.office_id == office.id)).all()  # fmt: skip
    return run, sorted(sent), [d.id for d in pcs]


def test_a_staged_rollout_halts_when_its_canaries_fail(app):
    run, sent, pcs = _rollout(app, failing_positions=[1])
    assert run.outcome == Outcome.HALTED, run.message
    assert "canary" in run.message and sent == pcs[:2]


def test_a_staged_rollout_halts_when_the_failure_rate_crosses_the_threshold(app):
    run, sent, pcs = _rollout(app, failing_positions=[2, 3])
    assert run.outcome == Outcome.HALTED and "2 devices were not sent" in run.message
    assert sent == pcs[:4] and len(run.details["batches"]) == 2


def test_a_staged_rollout_reaches_every_device_when_all_goes_well(app):
    run, sent, pcs = _rollout(app, failing_positions=[])
    assert run.outcome == Outcome.OK and run.message == "6 of 6 devices done"
    assert sent == pcs and len(run.details["batches"]) == 3


def test_a_canary_without_a_result_in_time_counts_as_failed(app):
    office = make_office()
    pcs = _pcs(office, 3)
    sent: list[list[int]] = []

    def send(ids):
        sent.append(ids)
        return commands.queue_many(
            jobs.Actor(jobs.SchedulerPrincipal(1, "t", office.id), "scheduler"),
            jobs.Target(device_ids=ids),
            jobs.CommandCreate(kind="reboot"),
        )

    plan = rollout.Plan.of({"canary_ids": [pcs[1].id]}, [p.id for p in pcs])
    outcome = rollout.run(plan, send, timeout_s=0.2, poll_s=0.05)
    assert outcome.outcome == "halted" and sent == [[pcs[1].id]]


def test_the_lease_is_held_renewed_and_taken_over_once_expired(app):
    t0 = utcnow()
    assert lease.acquire("a", 10, t0)
    assert not lease.acquire("b", 10, t0 + timedelta(seconds=5))
    assert lease.acquire("a", 10, t0 + timedelta(seconds=6))
    assert lease.current().acquired_at == t0
    assert not lease.acquire("b", 10, t0 + timedelta(seconds=15))
    assert lease.acquire("b", 10, t0 + timedelta(seconds=17))
    held = lease.current()
    assert (held.holder, held.acquired_at) == ("b", t0 + timedelta(seconds=17))
    lease.release("b")
    assert lease.acquire("a", 10)


def test_runs_show_in_the_api_with_the_last_outcome(app, client, monkeypatch):
    from controller.auth.roles import Role
    from tests.conftest import bearer, make_token, make_user

    monkeypatch.setattr(hooks, "_SNAPSHOT_HOOKS", [])  # without the reports' own hook
    schedule = _schedule(kind="report_snapshot", cron="0 1 1 * *")
    jobs.execute(schedule.id, utcnow(), "host:1")
    headers = bearer(make_token(make_user(Role.VIEWER)))
    from controller.scheduler.models import ScheduleRun

    db.session.rollback()
    (run,) = db.session.scalars(select(ScheduleRun).where(ScheduleRun.schedule_id == schedule.id))
    shown = client.get(f"/api/v1/schedules/{schedule.id}", headers=headers).json
    assert shown["last_run"]["outcome"] == run.outcome.value and run.runner == "host:1"
    assert shown["last_run"]["runner"] == "host:1"
    assert [r["message"] for r in shown["runs"]] == [run.message]
    listed = client.get("/api/v1/schedules?kind=report_snapshot", headers=headers).json
    mine = [s for s in listed["items"] if s["id"] == schedule.id]  # beside the seeded one
    assert [s["last_run"]["outcome"] for s in mine] == [run.outcome.value]


def test_a_rollout_whose_canaries_cannot_take_the_command_halts_and_sends_nothing(app):
    office = make_office()
    pcs = _pcs(office, 3)
    plan = rollout.Plan.of({"canary_ids": [10**6]}, [p.id for p in pcs])  # not among them
    sent = []
    outcome = rollout.run(plan, sent.append, timeout_s=0.1, poll_s=0.05)
    assert outcome.outcome == "halted" and "canary" in outcome.message and sent == []
