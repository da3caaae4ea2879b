"""Bulk jobs against real sshd servers: fan-out, per-host failures, templates, cancel."""

import threading
import time

import pytest
from sqlalchemy import select

from controller.audit.models import AuditLog
from controller.audit.service import Actor
from controller.extensions import db
from controller.ssh import jobs
from controller.ssh.models import HostState, Job, JobState, SshSettings
from controller.ssh.schemas import JobCreate
from tests.conftest import make_office
from tests.ssh.conftest import ssh_device
from tests.ssh.sshd import free_ports

CLI = Actor(None, "cli")


@pytest.fixture(autouse=True)
def _short_timeouts(app):
    app.config["SSH_CONNECT_TIMEOUT"] = 2


def _run(app, **spec) -> Job:
    spec.setdefault("timeout_s", 10)
    job = jobs.create(CLI, JobCreate(**spec))
    jobs.run(app, job.id)
    db.session.commit()  # end the test's read transaction: see what the runner wrote
    return db.session.get(Job, job.id)


def _by_name(job: Job) -> dict:
    return {h.device_name: h for h in job.hosts}


def test_job_across_hosts_carries_on_past_every_kind_of_failure(
    app, controller_key, sshd, other_sshd, silent
):
    office = make_office()
    for i, port in enumerate(sshd.ports):
        ssh_device(office, port, sshd.key_line, name=f"AP-{i}", tags=["ap"])
    ssh_device(office, other_sshd.port, sshd.key_line, name="LIAR", tags=["ap"])
    ssh_device(office, silent.port, sshd.key_line, name="SILENT", tags=["ap"])
    ssh_device(office, free_ports(1)[0], sshd.key_line, name="REFUSES", tags=["ap"])
    ssh_device(office, sshd.port, None, name="UNPINNED", tags=["ap"])

    started = time.monotonic()
    job = _run(app, target=["tag:ap"], command="echo hello from $(hostname)", concurrency=10)
    assert time.monotonic() - started < 8, [(h.device_name, h.duration_s) for h in job.hosts]

    hosts = _by_name(job)
    assert job.state == JobState.FINISHED
    for i in range(3):
        assert hosts[f"AP-{i}"].state == HostState.OK
        assert hosts[f"AP-{i}"].exit_code == 0
        assert "hello from" in hosts[f"AP-{i}"].output
        assert hosts[f"AP-{i}"].duration_s > 0
    assert (hosts["LIAR"].state, hosts["LIAR"].error) == (HostState.FAILED, "host_key_changed")
    assert (hosts["SILENT"].state, hosts["SILENT"].error) == (HostState.TIMEOUT, "banner_timeout")
    assert (hosts["REFUSES"].state, hosts["REFUSES"].error) == (HostState.FAILED, "unreachable")
    assert hosts["UNPINNED"].error == "not_pinned"
    # The changed key is an alert, never accepted: the pinned key stays.
    liar = db.session.get(SshSettings, hosts["LIAR"].device_id)
    assert liar.mismatch_fingerprint == hosts["LIAR"].output
    assert liar.host_key == sshd.key_line
    actions = db.session.scalars(select(AuditLog.action)).all()
    assert "ssh.job.create" in actions and "ssh.host_key_changed" in actions


def test_a_hanging_command_times_out(app, controller_key, sshd):
    device = ssh_device(make_office(), sshd.port, sshd.key_line)
    started = time.monotonic()
    job = _run(app, target=[f"device:{device.id}"], command="echo start; sleep 30", timeout_s=2)
    host = job.hosts[0]
    assert (host.state, host.error) == (HostState.TIMEOUT, "command_timeout")
    assert "start" in host.output
    assert time.monotonic() - started < 6


def test_output_that_never_ends_is_cut(app, controller_key, sshd):
    device = ssh_device(make_office(), sshd.port, sshd.key_line)
    job = _run(app, target=[f"device:{device.id}"], command="yes")
    assert (job.hosts[0].state, job.hosts[0].error) == (HostState.FAILED, "output_limit")


def test_nonzero_exit_is_a_failed_host(app, controller_key, sshd):
    device = ssh_device(make_office(), sshd.port, sshd.key_line)
    job = _run(app, target=[f"device:{device.id}"], command="echo oops >&2; exit 3")
    host = job.hosts[0]
    assert (host.state, host.exit_code, host.output) == (HostState.FAILED, 3, "oops\n")


def test_push_file_is_verified_by_checksum(app, controller_key, sshd, tmp_path):
    import hashlib

    device = ssh_device(make_office(), sshd.port, sshd.key_line)
    target = tmp_path / "pushed.conf"
    content = "option x 1\n" * 500
    job = _run(app, target=[f"device:{device.id}"], template="push_file",
               params={"path": str(target), "content": content, "mode": "0600"})  # fmt: skip
    host = job.hosts[0]
    assert host.state == HostState.OK, host.output
    assert target.read_text() == content
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert hashlib.sha256(content.encode()).hexdigest() in host.output
    assert not list(tmp_path.glob("pushed.conf.telecentre-*"))  # no temp file left


def test_collect_facts_updates_the_inventory(app, controller_key, sshd):
    device = ssh_device(make_office(), sshd.port, sshd.key_line)
    job = _run(app, target=[f"device:{device.id}"], template="collect_facts")
    assert job.hosts[0].state == HostState.OK, job.hosts[0].output
    db.session.refresh(device)
    inventory = device.inventory
    assert inventory["source"] == "ssh" and inventory["os"]
    assert inventory["uptime_s"] > 0 and inventory["memory_bytes"] > 0
    assert inventory["disks"][0]["mount"] == "/" and inventory["disks"][0]["total_bytes"] > 0
    assert device.last_seen is not None


def _span(output: str) -> tuple[float, float]:
    line = next(line for line in output.splitlines() if line.startswith("span "))
    _, start, end = line.split()
    return float(start), float(end)


def test_concurrency_is_bounded(app, controller_key, sshd):
    office = make_office()
    for port in sshd.ports:
        ssh_device(office, port, sshd.key_line)
    command = "s=$(date +%s.%N); sleep 0.8; e=$(date +%s.%N); echo span $s $e"
    job = _run(app, target=[f"office:{office.id}"], command=command, concurrency=2)
    assert all(h.state == HostState.OK for h in job.hosts), [h.output for h in job.hosts]
    # The login shell's own start-up files may print too (a CI machine's did): read our line.
    spans = [_span(h.output) for h in job.hosts]
    most = max(sum(1 for s, e in spans if s <= start < e) for start, _end in spans)
    assert most == 2  # two at a time, never three


def test_cancel_stops_the_job(app, controller_key, sshd):
    office = make_office()
    for port in sshd.ports:
        ssh_device(office, port, sshd.key_line)
    job = jobs.create(CLI, JobCreate(target=[f"office:{office.id}"], command="sleep 20",
                                     concurrency=1, timeout_s=60))  # fmt: skip
    runner = threading.Thread(target=jobs.run, args=(app, job.id))
    started = time.monotonic()
    runner.start()
    time.sleep(1)
    db.session.rollback()  # a fresh transaction, as a request would have
    db.session.connection(execution_options={"sqlite_immediate": True})
    jobs.request_cancel(CLI, db.session.get(Job, job.id))
    runner.join(timeout=10)
    assert not runner.is_alive() and time.monotonic() - started < 6
    db.session.commit()
    job = db.session.get(Job, job.id)
    assert job.state == JobState.CANCELLED
    assert [h.state for h in job.hosts] == [HostState.CANCELLED] * 3


def test_a_job_whose_runner_died_is_marked_interrupted(app, controller_key, sshd):
    from datetime import timedelta

    from controller.types import utcnow

    device = ssh_device(make_office(), sshd.port, sshd.key_line)
    job = jobs.create(CLI, JobCreate(target=[f"device:{device.id}"], command="true"))
    job.state, job.alive_at = JobState.RUNNING, utcnow() - timedelta(minutes=5)
    db.session.commit()
    found = jobs.get_job(None, job.id)
    assert (found.state, found.error) == (JobState.FAILED, "interrupted")
    assert found.hosts[0].error == "interrupted"


def test_a_job_and_the_enrolment_tokens_it_hands_out_are_written_together(app, monkeypatch):
    from controller.fleet import enrollment
    from controller.fleet.models import EnrollmentToken
    from tests.conftest import make_device

    offices = [make_office(), make_office()]
    devices = [make_device(office, management="ssh") for office in offices]
    spec = {"target": [f"device:{d.id}" for d in devices], "template": "bootstrap_agent",
            "params": {"controller_url": "https://controller.example"}}  # fmt: skip
    made = enrollment.create_token
    calls = []

    def second_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return made(*args, **kwargs)

    monkeypatch.setattr(enrollment, "create_token", second_fails)
    with pytest.raises(RuntimeError):
        jobs.create(CLI, JobCreate(**spec))
    db.session.rollback()
    assert db.session.scalars(select(Job)).all() == []
    assert db.session.scalars(select(EnrollmentToken)).all() == []

    monkeypatch.setattr(enrollment, "create_token", made)
    job = jobs.create(CLI, JobCreate(**spec))
    db.session.rollback()  # what is visible now was committed
    tokens = db.session.scalars(select(EnrollmentToken)).all()
    assert sorted(t.office_id for t in tokens) == sorted(o.id for o in offices)
    assert db.session.get(Job, job.id) is not None
