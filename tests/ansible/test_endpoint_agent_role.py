"""A real run of the endpoint_agent role over SSH, with the controller as the inventory.

    [ctl netns] 10.88.0.1: the controller (this test's app), ansible-playbook
        │ veth
    [host netns] 10.88.0.2: its own sshd; the agent is installed, enrolled and heartbeats

The host shares this machine's filesystem and has no systemd: the role runs with
endpoint_agent_service_manager=none and everything it writes goes under a temporary folder.
"""

import functools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from controller.auth.roles import Role
from controller.devices.models import Device
from controller.extensions import db
from tests.ansible.conftest import ANSIBLE, ansible_env, recap, run
from tests.conftest import make_device, make_office, make_token, make_user, serving
from tests.gateway.netlab import in_ns, require_netns, sh
from tests.requirements import need
from tests.ssh.sshd import Sshd
from tests.ssh.sshd import available as sshd_available

CTL_IP, HOST_IP, HOST_MAC = "10.88.0.1", "10.88.0.2", "02:00:00:88:00:02"


@pytest.fixture
def testhost(tmp_path):
    """Two namespaces joined by a veth pair, an sshd in the host one: (ctl, sshd, key, control)."""
    require_netns()
    ok, reason = sshd_available()
    need(ok, reason)
    tag = f"{os.getpid() % 100000}x{int(time.monotonic() * 1000) % 100000}"
    ctl, host = f"tcactl{tag}", f"tcahost{tag}"
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    sshd = None
    # ssh's control sockets need a short path (108 bytes at most): not under pytest's tmp.
    control = Path(tempfile.mkdtemp(prefix="tca-"))
    try:
        for ns in (ctl, host):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ctl, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
           "netns", host)  # fmt: skip
        sh("ip", "-n", host, "link", "set", "eth0", "address", HOST_MAC)
        for ns, ip in ((ctl, CTL_IP), (host, HOST_IP)):
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        line = " ".join(key.with_suffix(".pub").read_text().split()[:2])
        sshd = Sshd(tmp_path / "sshd", [line], address=HOST_IP, netns=host)
        yield ctl, sshd, key, control
    finally:
        shutil.rmtree(control, ignore_errors=True)
        if sshd is not None:
            sshd.stop()
        for ns in (ctl, host):
            sh("ip", "netns", "del", ns, check=False)


@pytest.fixture
def controller_in(app, testhost):
    """The test's app served over HTTP inside the controller namespace; its base URL."""
    in_ctl = functools.partial(in_ns, testhost[0], make_server)
    with serving(app, CTL_IP, in_ctl) as server:
        yield f"http://{CTL_IP}:{server.server_port}"


@pytest.mark.parametrize("backend", ["sqlite"])  # deployment does not depend on the database
def test_the_role_installs_enrols_and_a_second_run_changes_nothing(
    testhost, controller_in, agent_wheel, tmp_path
):
    ctl, sshd, key, control = testhost
    office = make_office(name="Urząd Gminy Puchaczów")
    device = make_device(office, name="PC-07", ip=HOST_IP, mac=HOST_MAC)
    token = make_token(make_user(Role.IT_ADMIN, offices=[office]))
    (tmp_path / "known_hosts").write_text(f"[{HOST_IP}]:{sshd.port} {sshd.key_line}\n")
    root = tmp_path / "root"  # the role's paths on the shared filesystem
    (root / "etc/systemd/system").mkdir(parents=True)  # there on every Debian host
    extra = {
        # The controller's URL and the API token: the role's defaults take the inventory's.
        "endpoint_agent_package": str(agent_wheel),
        "endpoint_agent_prefix": str(root / "opt/telecentre-agent"),
        "endpoint_agent_state_dir": str(root / "var/lib/telecentre-agent"),
        "endpoint_agent_config_file": str(root / "etc/telecentre-agent.conf"),
        "endpoint_agent_unit_dir": str(root / "etc/systemd/system"),
        "endpoint_agent_system_packages": [],
        "endpoint_agent_service_manager": "none",
        "ansible_user": "root",
        "ansible_port": sshd.port,
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={tmp_path / 'known_hosts'}",
    }
    (tmp_path / "vars.json").write_text(json.dumps(extra))
    env = ansible_env(tmp_path, TELECENTRE_URL=controller_in, TELECENTRE_API_TOKEN=token,
                      ANSIBLE_SSH_CONTROL_PATH_DIR=str(control))  # fmt: skip
    playbook = ["ip", "netns", "exec", ctl, "ansible-playbook", "-e", f"@{tmp_path / 'vars.json'}",
                ANSIBLE / "endpoint_agent.yml"]  # fmt: skip

    (tmp_path / "no-token.json").write_text('{"endpoint_agent_api_token": ""}')
    refused = run([*playbook, "-e", f"@{tmp_path / 'no-token.json'}"], env, timeout=240)
    assert refused.returncode != 0  # no way to enrol: said so, nothing half done
    assert "is not enrolled yet: set endpoint_agent_enrollment_token" in refused.stdout
    assert not (root / "var/lib/telecentre-agent/identity.json").exists()
    assert not (root / "opt/telecentre-agent").exists()  # checked before anything is installed
    (counts,) = recap(refused.stdout).values()
    assert counts["failed"] == 1 and counts["changed"] == 0  # refused before installing anything

    first = run(playbook, env, timeout=240)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    ((host, counts),) = recap(first.stdout).items()
    assert host == f"pc-07-{device.id}"  # named by the controller's inventory
    assert counts["changed"] >= 2 and counts["failed"] == 0  # enrolled, first heartbeat

    db.session.rollback()  # read what the agent wrote through the server
    enrolled = db.session.get(Device, device.id)
    assert enrolled.enrolled_at is not None  # matched by MAC: the same device, not a new one
    assert enrolled.last_seen is not None and enrolled.health is not None  # it heartbeated
    assert db.session.query(Device).count() == 1
    unit = root / "etc/systemd/system/telecentre-agent.service"
    assert "Description=Telecentre endpoint agent" in unit.read_text()  # the shipped unit
    override = (unit.parent / "telecentre-agent.service.d/override.conf").read_text()
    assert f"ExecStart={root}/opt/telecentre-agent/bin/telecentre-agent run" in override
    identity = root / "var/lib/telecentre-agent/identity.json"
    assert oct(identity.stat().st_mode & 0o777) == "0o600"

    second = run(playbook, env, timeout=240)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    assert [c["changed"] for c in recap(second.stdout).values()] == [0], second.stdout[-3000:]
