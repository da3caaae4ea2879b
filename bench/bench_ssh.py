"""One command on 100 SSH hosts: the controller's fan-out vs Ansible ad-hoc vs sequential.

The hosts are 100 loopback ports of 10 real sshd processes (10 ports each, a host key each).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._figures import BenchError, Figure

HOSTS = 100
SERVERS = 10  # sshd listens on at most 16 ports
COMMAND = "uname -n"
TARGET_RATIO = 0.3
ROOT = Path(__file__).resolve().parent.parent


def _servers(tmp: Path, public_line: str):
    from tests.ssh.sshd import Sshd, available

    ok, reason = available()
    if not ok:
        raise BenchError(reason)
    return [Sshd(tmp / f"sshd{i}", [public_line], ports=HOSTS // SERVERS) for i in range(SERVERS)]


def _controller(tmp: Path):
    """A controller app on a migrated SQLite database in its own instance folder."""
    from flask_migrate import upgrade

    from controller import create_app

    instance = tmp / "instance"
    os.environ["TELECENTRE_INSTANCE_PATH"] = str(instance)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'bench.sqlite3'}"})
    finally:
        del os.environ["TELECENTRE_INSTANCE_PATH"]
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
    return app


def _devices(app, servers) -> None:
    from controller.devices.models import Device, DeviceKind, Management
    from controller.extensions import db
    from controller.offices.models import Office, OfficeType
    from controller.ssh import keys
    from controller.ssh.hostkeys import parse_key_line
    from controller.ssh.models import SshSettings

    with app.app_context():
        office = Office(name="Bench", type=OfficeType.URZAD_GMINY)
        db.session.add(office)
        db.session.flush()
        n = 0
        for server in servers:
            fingerprint = keys.fingerprint(parse_key_line(server.key_line))
            for port in server.ports:
                n += 1
                device = Device(office_id=office.id, kind=DeviceKind.HOTSPOT, name=f"AP-{n:03d}",
                                management=Management.SSH, ip="127.0.0.1")  # fmt: skip
                db.session.add(device)
                db.session.flush()
                db.session.add(SshSettings(device_id=device.id, port=port, username="root",
                                           host_key=server.key_line,
                                           host_key_fingerprint=fingerprint))  # fmt: skip
        db.session.commit()


def _job(app, concurrency: int) -> float:
    """Wall time of one job over every host; fails unless every host succeeded."""
    from controller.audit.service import Actor
    from controller.extensions import db
    from controller.ssh import jobs
    from controller.ssh.models import Job
    from controller.ssh.schemas import JobCreate

    with app.app_context():
        spec = JobCreate(target=["kind:hotspot"], command=COMMAND, concurrency=concurrency)
        started = time.perf_counter()
        job_id = jobs.create(Actor(None, "cli"), spec).id
        db.session.rollback()  # no snapshot held while the runner writes
        jobs.run(app, job_id)
        seconds = time.perf_counter() - started
        hosts = db.session.get(Job, job_id).hosts
        states = {h.state.value for h in hosts}
        if states != {"ok"}:
            bad = [(h.device_name, h.error, h.output[:200]) for h in hosts
                   if h.state.value != "ok"][:3]  # fmt: skip
            raise BenchError(f"controller job: host states {states}: {bad}")
        return seconds


def _ansible(tmp: Path, servers, key_file: Path) -> float:
    """Wall time of `ansible all -m ansible.builtin.command -f 100` on the same hosts."""
    ansible = Path(sys.executable).parent / "ansible"
    if not ansible.exists():
        raise BenchError("ansible-core is not installed in the virtualenv (pip install -e .[dev])")
    known = tmp / "known_hosts"
    inventory = tmp / "inventory.ini"
    lines, hosts = [], ["[all]"]
    n = 0
    for server in servers:
        for port in server.ports:
            n += 1
            lines.append(f"[127.0.0.1]:{port} {server.key_line}")
            hosts.append(f"ap{n:03d} ansible_host=127.0.0.1 ansible_port={port}")
    known.write_text("\n".join(lines) + "\n")
    inventory.write_text("\n".join(hosts) + "\n")
    env = dict(
        os.environ,
        ANSIBLE_HOST_KEY_CHECKING="True",
        ANSIBLE_SSH_ARGS=f"-o UserKnownHostsFile={known} -o ControlMaster=no",
        ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3",
        ANSIBLE_REMOTE_USER="root",
        ANSIBLE_PRIVATE_KEY_FILE=str(key_file),
        ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-local"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_STDOUT_CALLBACK="oneline",
    )
    args = [str(ansible), "all", "-i", str(inventory), "-m", "ansible.builtin.command",
            "-a", COMMAND, "-f", str(HOSTS)]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    changed = done.stdout.count("| CHANGED |")
    if done.returncode != 0 or changed != HOSTS:
        raise BenchError(f"ansible: exit {done.returncode}, {changed}/{HOSTS} hosts ran\n"
                         f"{(done.stdout + done.stderr)[-1500:]}")  # fmt: skip
    return seconds


def run() -> list[Figure]:
    """Measure the three ways of running one command on 100 hosts, in the same run."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from controller.ssh import keys

    tmp = Path(tempfile.mkdtemp(prefix="bench-ssh-"))
    servers = []
    try:
        app = _controller(tmp)
        key_file = keys.ensure_controller_key(app.instance_path)
        servers = _servers(tmp, keys.public_line(keys.controller_key(app.instance_path)))
        _devices(app, servers)
        fanout = _job(app, concurrency=HOSTS)
        ansible = _ansible(tmp, servers, key_file)
        sequential = _job(app, concurrency=1)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = fanout / ansible
    print(f"  100 hosts: controller {fanout:.2f} s, ansible -f 100 {ansible:.2f} s, "
          f"sequential {sequential:.2f} s", file=sys.stderr)  # fmt: skip
    return [
        Figure("ssh.fanout100.controller_s", fanout, "s", "lower", "ansible_f100_s", ansible,
               f"ratio <= {TARGET_RATIO}", ratio <= TARGET_RATIO),
        Figure("ssh.fanout100.vs_sequential", fanout, "s", "lower", "sequential_s", sequential),
    ]  # fmt: skip
