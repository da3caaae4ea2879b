"""The roles' templates rendered by Ansible with their defaults, then checked by the real tools.

nftables and dnsmasq files are what the roles' `validate:` and handlers check on a host;
the units' command lines must match the real programs' options.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ansible.conftest import ANSIBLE, BIN, ansible_env, run
from tests.gateway.netlab import require_netns, sh

ROLES = ANSIBLE / "roles"


def render(tmp_path, role: str, template: str, **extra) -> str:
    """The role's template rendered by ansible's template module with the role's defaults."""
    dest = tmp_path / f"{role}-{template}".removesuffix(".j2")
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    done = run(
        ["ansible", "localhost", "-i", "localhost,", "-c", "local",
         "-e", "ansible_python_interpreter=/usr/bin/python3", "-m", "ansible.builtin.template",
         "-a", f"src={ROLES / role / 'templates' / template} dest={dest}",
         "-e", f"@{ROLES / role / 'defaults' / 'main.yml'}", "-e", f"@{tmp_path / 'extra.json'}"],
        ansible_env(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return dest.read_text()


@pytest.fixture
def netns():
    """A network namespace of the test's own."""
    require_netns()
    name = f"tcatpl{id(object()) % 100000}"
    sh("ip", "netns", "add", name)
    yield name
    sh("ip", "netns", "del", name, check=False)


def test_the_host_firewall_loads_beside_the_daemons_table(tmp_path, netns):
    render(tmp_path, "gateway", "host.nft.j2", gateway_ssh_networks_v4=["192.0.2.0/24"])
    rules = tmp_path / "gateway-host.nft"
    nft = ["ip", "netns", "exec", netns, "nft"]
    sh(*nft, "add", "table", "inet", "telecentre")  # the daemon's sessions live here
    sh(*nft, "add", "set", "inet", "telecentre", "clients", "{ type ether_addr . ipv4_addr; }")
    sh(*nft, "-c", "-f", str(rules))
    for _ in range(2):  # loading again replaces the table, as the handler does on changes
        sh(*nft, "-f", str(rules))
    listed = sh(*nft, "list", "table", "inet", "telecentre_host")
    assert "policy drop" in listed and "192.0.2.0/24" in listed and 'iifname "br0" accept' in listed
    assert "clients" in sh(*nft, "list", "table", "inet", "telecentre")  # untouched


def test_a_bad_network_fails_the_firewall_check(tmp_path, netns):
    render(tmp_path, "gateway", "host.nft.j2", gateway_ssh_networks_v4=["10.0.0.0/33"])
    done = subprocess.run(
        ["ip", "netns", "exec", netns, "nft", "-c", "-f", str(tmp_path / "gateway-host.nft")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0


def _dnsmasq_test(path) -> subprocess.CompletedProcess:
    return subprocess.run(["dnsmasq", "--test", f"--conf-file={path}"], capture_output=True,
                          text=True, check=False)  # fmt: skip


def test_dnsmasq_announces_the_portal_api_and_passes_its_check(tmp_path):
    need_dnsmasq()
    garden = tmp_path / "garden.conf"
    garden.write_text("# no walled-garden hosts\n")
    text = render(tmp_path, "gateway", "dnsmasq.conf.j2", gateway_garden_file=str(garden),
                  gateway_portal_hostname="portal.cycow.example")  # fmt: skip
    assert 'dhcp-option=114,"https://portal.cycow.example:8443/api/captive"' in text
    assert "address=/portal.cycow.example/10.44.0.1" in text
    done = _dnsmasq_test(tmp_path / "gateway-dnsmasq.conf")
    assert done.returncode == 0, done.stderr
    assert "syntax check OK" in done.stderr + done.stdout


def test_a_bad_lease_fails_the_dnsmasq_check(tmp_path):
    need_dnsmasq()
    garden = tmp_path / "garden.conf"
    garden.write_text("")
    render(tmp_path, "gateway", "dnsmasq.conf.j2", gateway_garden_file=str(garden),
           gateway_dhcp_lease="one hour")  # fmt: skip
    assert _dnsmasq_test(tmp_path / "gateway-dnsmasq.conf").returncode != 0


def need_dnsmasq() -> None:
    """Skip (or fail under TELECENTRE_REQUIRE_ALL=1) without dnsmasq."""
    from tests.requirements import need

    need(shutil.which("dnsmasq") is not None, "dnsmasq is not installed")


def _exec_start(text: str) -> list[str]:
    line = [x for x in re.findall(r"^ExecStart=(.*)$", text, re.M) if x][-1]
    return line.split()


def _help(program: str, *sub: str) -> str:
    done = subprocess.run([str(BIN / program), *sub, "--help"], capture_output=True, text=True,
                          check=True, env=ansible_env(Path("/nonexistent")))  # fmt: skip
    return done.stdout


@pytest.mark.parametrize(
    ("role", "template", "program", "sub"),
    [
        ("gateway", "gateway-override.conf.j2", "telecentre-gateway", ["run"]),
        ("gateway", "portal-override.conf.j2", "telecentre-portal", []),
        ("endpoint_agent", "override.conf.j2", "telecentre-agent", ["run"]),
        ("controller", "telecentre-web.service.j2", "telecentre", ["run"]),
    ],
)  # fmt: skip
def test_units_call_the_programs_with_options_they_have(tmp_path, role, template, program, sub):
    argv = _exec_start(render(tmp_path, role, template))
    assert argv[0].endswith(f"/bin/{program}")
    assert argv[1 : 1 + len(sub)] == sub
    options = [a for a in argv if a.startswith("--")]
    assert options
    text = _help(program, *sub)
    for option in options:
        assert option in text, f"{option} is not an option of {program} {' '.join(sub)}"


def test_the_controller_settings_drive_the_schema_upgrade_and_its_change_report(tmp_path):
    instance = tmp_path / "instance"
    text = render(tmp_path, "controller", "environment.j2", controller_instance_path=str(instance),
                  controller_effective_database_url="",
                  controller_settings={"agent_interval": 60})  # fmt: skip
    settings = dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert settings["TELECENTRE_AGENT_INTERVAL"] == "60"
    assert settings["TELECENTRE_PROXY_FIX_X_FOR"] == "1"
    assert "TELECENTRE_DATABASE_URL" not in settings  # SQLite in the instance folder
    env = {"PATH": os.environ["PATH"], **settings}

    def upgrade() -> str:
        done = subprocess.run([str(BIN / "telecentre"), "db", "upgrade"], env=env,
                              capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
        return done.stderr

    assert "Running upgrade" in upgrade()  # what the role's changed_when looks for
    assert (instance / "telecentre.sqlite3").exists()
    assert "Running upgrade" not in upgrade()  # nothing to do: the task reports no change
