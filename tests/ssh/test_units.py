"""Key handling, host key parsing, templates and job validation (no network)."""

import os
import shutil
import subprocess

import pytest
from pydantic import ValidationError

from controller.ssh import hostkeys, keys
from controller.ssh.errors import SshError
from controller.ssh.schemas import JobCreate, JobOut
from controller.ssh.templates import TEMPLATES, ServiceParams, parse_facts


def test_controller_key_is_made_once_and_private(tmp_path):
    path = keys.ensure_controller_key(tmp_path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    first = path.read_text()
    assert keys.ensure_controller_key(tmp_path).read_text() == first
    line = keys.public_line(keys.controller_key(tmp_path))
    assert line.startswith("ssh-ed25519 ") and line.endswith(" telecentre-controller")


def test_device_keys_are_encrypted_with_the_instance_secret(tmp_path):
    pem = keys.ensure_controller_key(tmp_path).read_text()
    token = keys.encrypt("s" * 64, pem)
    assert "PRIVATE KEY" not in token and pem not in token
    assert keys.decrypt("s" * 64, token) == pem
    with pytest.raises(keys.BadKey):
        keys.decrypt("another secret", token)
    with pytest.raises(keys.BadKey):
        keys.load_private_key("-----BEGIN NONSENSE-----\nxx\n")


@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="needs ssh-keygen")
def test_fingerprint_is_the_one_openssh_prints(tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")],
                   check=True)  # fmt: skip
    line = (tmp_path / "k.pub").read_text()
    printed = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "k.pub")], check=True,
                             capture_output=True, text=True).stdout.split()[1]  # fmt: skip
    assert keys.fingerprint(hostkeys.parse_key_line(line)) == printed
    for bad in ("", "ssh-ed25519", "ssh-ed25519 !!!notbase64", "ssh-ed25519 AAAA"):
        with pytest.raises(ValueError):
            hostkeys.parse_key_line(bad)
    os.remove(tmp_path / "k")


def test_facts_are_parsed_for_the_inventory():
    output = (
        "os=OpenWrt 23.05.3 r23809\nkernel=5.15.150\narchitecture=mips\nhostname=ap-hall\n"
        "uptime=3600.52\nmemory_kib=124000\ndisk=/ 7000 3500\n"
    )
    facts = parse_facts(output)
    assert facts == {
        "os": "OpenWrt 23.05.3 r23809", "kernel": "5.15.150", "architecture": "mips",
        "hostname": "ap-hall", "uptime_s": 3600, "memory_bytes": 124000 * 1024,
        "disks": [{"mount": "/", "total_bytes": 7000 * 1024, "used_bytes": 3500 * 1024}],
    }  # fmt: skip
    with pytest.raises(SshError):
        parse_facts("garbage")
    with pytest.raises(SshError):
        parse_facts("os=x\nuptime=soon\n")


def test_template_parameters_are_validated_and_quoted():
    with pytest.raises(ValidationError):
        ServiceParams(service="nginx; rm -rf /")
    restart = TEMPLATES["restart_service"].command(ServiceParams(service="hostapd"), "")
    assert "systemctl restart hostapd" in restart and "/etc/init.d/hostapd restart" in restart
    boot = TEMPLATES["bootstrap_agent"]
    params = boot.params(controller_url="https://controller.example")
    command = boot.command(params, "tce_secret'$(x)")
    assert "--token 'tce_secret'\"'\"'$(x)'" in command
    assert "--controller https://controller.example" in command


def test_job_create_needs_one_of_command_and_template():
    with pytest.raises(ValidationError):
        JobCreate(target=["kind:pc"])
    with pytest.raises(ValidationError):
        JobCreate(target=["kind:pc"], command="uptime", template="reboot")
    with pytest.raises(ValidationError):
        JobCreate(target=["kind:pc"], command="uptime", params={"x": 1})
    with pytest.raises(ValidationError):
        JobCreate(target=["planet:mars"], command="uptime")
    with pytest.raises(ValidationError):
        JobCreate(target=["kind:pc"], template="push_file", params={"path": "relative"})
    push = JobCreate(target=["tag:ap"], template="push_file",
                     params={"path": "/etc/x", "content": "  two spaces\n"})  # fmt: skip
    assert push.params == {"path": "/etc/x", "content": "  two spaces\n", "mode": "0644"}


def test_job_output_says_how_big_a_pushed_file_is_not_what_it_holds():
    from datetime import UTC, datetime

    job = dict(id=1, template="push_file", command="sftp", target="tag:ap", concurrency=1,
               timeout_s=1, state="finished", cancel_requested=False, error="",
               created_by="x", created_at=datetime.now(UTC), started_at=None, finished_at=None,
               params={"path": "/etc/x", "content": "secret-ish text"})  # fmt: skip
    assert JobOut.model_validate(job).params["content"] == "15 bytes"
