"""Real `telecentre-scheduler` processes on one database: each trigger runs once, a killed
leader is replaced, and runs missed while no scheduler ran are coalesced into one."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from controller.extensions import db
from controller.fleet.models import Command
from controller.scheduler import lease
from controller.scheduler.models import Outcome, Schedule, ScheduleRun
from controller.types import utcnow
from tests.conftest import make_device, make_office
from tests.scheduler.test_jobs import Agents

SCRIPT = Path(sys.executable).with_name("telecentre-scheduler")
SECOND = timedelta(seconds=1)


@pytest.fixture
def fleet(app, tmp_path):
    """Start and stop scheduler processes on the test's database."""
    env = dict(os.environ, TELECENTRE_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               TELECENTRE_INSTANCE_PATH=str(tmp_path / "instance"),
               TELECENTRE_SCHEDULER_LEASE_SECONDS="1.5", TELECENTRE_SCHEDULER_TICK_SECONDS="0.2",
               TELECENTRE_AGENT_INTERVAL="30", TELECENTRE_SCHEDULER_POLL_SECONDS="0.2")  # fmt: skip
    started: dict[str, subprocess.Popen] = {}
    logs = []

    def start(name: str) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed at the end
        logs.append(log)
        started[name] = subprocess.Popen([str(SCRIPT), "--id", name], env=env, stdout=log,
                                         stderr=subprocess.STDOUT)  # fmt: skip
        return started[name]

    yield start
    for process in started.values():
        if process.poll() is None:
            process.kill()
        process.wait(10)
    for log in logs:
        log.close()
    for path in sorted(tmp_path.glob("*.log")):  # shown when a test fails
        print(path.name, path.read_text()[-3000:], sep="\n")


def _every_second() -> Schedule:
    db.session.execute(delete(Schedule))  # the seeded sweep and purge would only add noise
    schedule = Schedule(name="Every second", kind="sweep", interval_s=1, args={},
                        created_by="test")  # fmt: skip
    db.session.add(schedule)
    db.session.commit()
    return schedule


def _runs(schedule_id: int) -> list[ScheduleRun]:
    db.session.rollback()  # see what the processes wrote since
    stmt = select(ScheduleRun).where(ScheduleRun.schedule_id == schedule_id)
    return list(db.session.scalars(stmt.order_by(ScheduleRun.scheduled_for)))


def _wait(predicate, timeout: float = 90.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _holder() -> str | None:
    db.session.rollback()
    held = lease.current()
    return held.holder if held is not None and held.expires_at > utcnow() else None


def _assert_once_per_trigger(runs: list[ScheduleRun]) -> list[int]:
    """Each trigger ran once; returns the indexes where the one-second grid has a gap."""
    assert len(runs) == len({r.scheduled_for for r in runs})
    gaps = []
    for i, (a, b) in enumerate(zip(runs, runs[1:], strict=False), start=1):
        step = b.scheduled_for - a.scheduled_for
        assert step >= SECOND and step % SECOND == timedelta(0), (a.scheduled_for, b.scheduled_for)
        if step > SECOND:
            gaps.append(i)
    return gaps


def test_two_schedulers_run_each_trigger_once_and_a_killed_leader_is_replaced(fleet):
    schedule = _every_second()
    processes = {name: fleet(name) for name in ("alpha", "beta")}
    first = _wait(_holder, what="a scheduler to take the lease")
    _wait(lambda: len(_runs(schedule.id)) >= 4, what="four runs")
    assert all(p.poll() is None for p in processes.values()), "both schedulers keep running"
    processes[first].kill()  # no clean stop: the lease has to expire
    processes[first].wait(60)
    second = _wait(lambda: (h := _holder()) not in (None, first) and h, what="the take-over")
    _wait(lambda: sum(r.runner == second for r in _runs(schedule.id)) >= 3, what="new runs")
    processes[second].send_signal(signal.SIGTERM)
    assert processes[second].wait(60) == 0
    runs = _runs(schedule.id)
    runners = [r.runner for r in runs]
    # One leader at a time: the first ran everything until it died, then only the second.
    assert runners == sorted(runners, key=lambda r: r != first) and set(runners) == {first, second}
    gaps = _assert_once_per_trigger(runs)
    for i in gaps:  # a gap is the hand-over: its triggers were coalesced into the next run
        assert runs[i].runner == second
        assert runs[i].missed == (runs[i].scheduled_for - runs[i - 1].scheduled_for) // SECOND - 1
    assert all(r.outcome == Outcome.OK or "interrupted" in r.message for r in runs), [
        (r.runner, r.outcome, r.message) for r in runs if r.outcome != Outcome.OK
    ]


def test_runs_missed_while_no_scheduler_ran_are_coalesced_into_one(fleet):
    schedule = _every_second()
    asked = Schedule(name="Paused, run by hand", kind="purge", cron="0 3 * * *", paused=True,
                     args={}, created_by="test")  # fmt: skip
    db.session.add(asked)
    db.session.commit()
    process = fleet("first")
    _wait(lambda: len(_runs(schedule.id)) >= 2, what="two runs")
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    stopped_at = utcnow()
    assert _holder() is None, "a clean stop gives the lease up"
    before = len(_runs(schedule.id))
    time.sleep(3)  # downtime: three triggers or more pass with no scheduler running
    asked.run_requested_at = utcnow()  # "run now", as the page or the API asks it
    db.session.commit()
    process = fleet("second")
    _wait(lambda: len(_runs(schedule.id)) >= before + 3, what="runs after the restart")
    manual = _wait(lambda: [r for r in _runs(asked.id) if r.finished_at], what="the run now")
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    runs = _runs(schedule.id)
    assert _assert_once_per_trigger(runs) == [before]
    late = runs[before]
    assert late.runner == "second" and late.scheduled_for < late.started_at
    gap = (late.scheduled_for - runs[before - 1].scheduled_for) // SECOND
    assert late.missed == gap - 1 >= 2  # the downtime's triggers became this one run
    assert late.scheduled_for > stopped_at
    assert all(r.missed == 0 for r in runs[before + 1 :])
    assert [(r.manual, r.outcome) for r in manual] == [(True, Outcome.OK)]
    db.session.refresh(asked)
    assert asked.run_requested_at is None


def test_a_rollout_asked_for_on_the_page_halts_in_the_scheduler_when_its_canary_fails(fleet, app):
    db.session.execute(delete(Schedule))
    office = make_office()
    pcs = [make_device(office, agent_salt="0" * 32) for _ in range(4)]
    rollout = Schedule(name="Rollout", kind="rollout", office_id=office.id, cron="0 2 * * *",
                       paused=True, run_requested_at=utcnow(), created_by="test", args={
                           "command": "update_packages", "canary_count": 1, "wave_size": 2,
                           "max_failure_percent": 10, "wait_minutes": 1})  # fmt: skip
    db.session.add(rollout)
    db.session.commit()
    with Agents(app, failing={pcs[0].id}):
        process = fleet("solo")
        runs = _wait(lambda: [r for r in _runs(rollout.id) if r.finished_at], what="the rollout")
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    assert [(r.outcome, r.manual) for r in runs] == [(Outcome.HALTED, True)], runs[0].message
    db.session.rollback()
    sent = db.session.scalars(select(Command.device_id)).all()
    assert sent == [pcs[0].id]  # the canary only: nothing went to the other three
