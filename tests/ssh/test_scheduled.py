"""Scheduled maintenance reaches the devices managed over SSH (real sshd), not only agents."""

from datetime import timedelta

from sqlalchemy import select

from controller.devices.models import Device, DeviceKind
from controller.extensions import db
from controller.fleet.models import Command
from controller.scheduler import jobs
from controller.scheduler.models import Outcome, Schedule, ScheduleRun
from controller.ssh.models import Job, JobState
from controller.types import utcnow
from tests.conftest import make_device, make_office
from tests.ssh.conftest import ssh_device


def test_a_maintenance_window_runs_the_command_over_ssh_on_agentless_devices(
    app, controller_key, sshd, monkeypatch
):
    # The real template would upgrade this machine's packages: collect facts instead, which
    # leaves a trace in the inventory that only a real SSH run can leave.
    monkeypatch.setitem(jobs.SSH_TEMPLATES, "update_packages", "collect_facts")
    office = make_office()
    agent_pc = make_device(office, agent_salt="0" * 32)
    routers = [ssh_device(office, port, sshd.key_line, kind=DeviceKind.OTHER)
               for port in sshd.ports[:2]]  # fmt: skip
    unpinned = ssh_device(office, sshd.ports[2], None)
    make_device(make_office())  # another office's device stays out of it
    schedule = Schedule(name="Nocne aktualizacje", kind="maintenance", office_id=office.id,
                        cron="0 2 * * *", window_minutes=120, created_by="test",
                        args={"command": "update_packages"})  # fmt: skip
    db.session.add(schedule)
    db.session.commit()

    run = jobs.execute(schedule.id, utcnow() - timedelta(minutes=1), "test")
    run = db.session.get(ScheduleRun, run.id)
    queued = db.session.scalars(select(Command.device_id)).all()
    assert queued == [agent_pc.id]  # the agent gets its command as before
    job = db.session.get(Job, run.details["ssh_job"])
    assert job.state == JobState.FINISHED and job.created_by == "scheduler: Nocne aktualizacje"
    hosts = {h.device_id: h for h in job.hosts}
    assert set(hosts) == {routers[0].id, routers[1].id, unpinned.id}
    for router in routers:
        assert hosts[router.id].state.value == "ok"
        assert db.session.get(Device, router.id).inventory  # facts collected over SSH
    assert hosts[unpinned.id].error == "not_pinned"  # never trusted silently
    assert run.outcome == Outcome.FAILED and "SSH job" in run.message
    assert run.details["ssh_hosts"] == {"ok": 2, "failed": 1}


def _rollout(office, **args) -> ScheduleRun:
    schedule = Schedule(name="Firmware", kind="rollout", office_id=office.id, interval_s=3600,
                        created_by="test", args={"command": "update_packages", **args})  # fmt: skip
    db.session.add(schedule)
    db.session.commit()
    run = jobs.execute(schedule.id, utcnow(), "test")
    db.session.rollback()
    return db.session.get(ScheduleRun, run.id)


def test_a_staged_rollout_over_ssh_halts_when_its_canary_fails(
    app, controller_key, sshd, other_sshd, monkeypatch
):
    monkeypatch.setitem(jobs.SSH_TEMPLATES, "update_packages", "collect_facts")
    office = make_office()
    liar = ssh_device(office, other_sshd.port, sshd.key_line)  # its key is not the pinned one
    rest = [ssh_device(office, port, sshd.key_line) for port in sshd.ports]
    run = _rollout(office, canary_ids=[liar.id], wave_size=2)
    assert run.outcome == Outcome.HALTED and "canary" in run.message, run.message
    hosts = db.session.scalars(select(Job)).one().hosts
    assert [h.device_id for h in hosts] == [liar.id]  # nothing more was sent
    assert all(not db.session.get(Device, d.id).inventory for d in rest)


def test_a_staged_rollout_over_ssh_reaches_every_device_in_waves(
    app, controller_key, sshd, monkeypatch
):
    monkeypatch.setitem(jobs.SSH_TEMPLATES, "update_packages", "collect_facts")
    office = make_office()
    devices = [ssh_device(office, port, sshd.key_line) for port in sshd.ports]
    run = _rollout(office, canary_count=1, wave_size=1)
    assert run.outcome == Outcome.OK and run.message == "3 of 3 devices done", run.message
    assert len(db.session.scalars(select(Job)).all()) == 3  # the canary, then two waves
    assert all(db.session.get(Device, d.id).inventory for d in devices)
