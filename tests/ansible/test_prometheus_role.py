"""A real run of the prometheus role on this machine (local connection, files in a temp folder).

Its gateway targets come from the controller's inventory; promtool checks the rules before
they are installed and the whole configuration in the handler, as on a real host.
"""

import json
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from controller.auth.roles import Role
from controller.devices.models import DeviceKind
from tests.ansible.conftest import ANSIBLE, INVENTORY_SCRIPT, ROOT, ansible_env, recap, run
from tests.conftest import make_device, make_office, make_token, make_user
from tests.requirements import need

SHIPPED = ROOT / "dashboards" / "prometheus"
# The dashboards' layout, for a tree that does not have dashboards/ yet.
_CONFIG = """
rule_files:
  - rules/*.yml
scrape_configs:
  - job_name: telecentre-controller
    scheme: https
    authorization:
      type: Bearer
      credentials_file: telecentre-controller.token
    file_sd_configs:
      - files: [telecentre-controller/*.yml]
  - job_name: telecentre-gateways
    file_sd_configs:
      - files: [telecentre-gateways/*.yml]
"""
_RULES = """
groups:
  - name: telecentre
    rules:
      - alert: GatewayDown
        expr: up{job="telecentre-gateways"} == 0
        for: 5m
"""


@pytest.fixture
def backend():
    """Deployment does not depend on the database; SQLite is enough."""
    return "sqlite"


@pytest.fixture
def source(tmp_path) -> Path:
    """The dashboards' Prometheus files: the repository's, or the same layout made here."""
    if SHIPPED.joinpath("prometheus.yml").exists():
        return SHIPPED
    folder = tmp_path / "dashboards-prometheus"
    (folder / "rules").mkdir(parents=True)
    (folder / "prometheus.yml").write_text(_CONFIG)
    (folder / "rules" / "telecentre.yml").write_text(_RULES)
    return folder


def _playbook(tmp_path, live_server, source, config_dir):
    need(shutil.which("promtool") is not None, "promtool is not installed (Debian: prometheus)")
    (tmp_path / "local.yml").write_text(yaml.safe_dump({"telecentre_prometheus": {"hosts": {
        "monitoring": {"ansible_connection": "local", "ansible_become": False,
                       "ansible_python_interpreter": "/usr/bin/python3"}}}}))  # fmt: skip
    extra = {
        "prometheus_source_dir": str(source),
        "prometheus_config_dir": str(config_dir),
        "prometheus_system_packages": [],
        "prometheus_service_manager": "none",
        "prometheus_user": "root",
        "prometheus_controller_token": "tcm_metrics-token",
        "prometheus_controller_targets": ["controller.powiat.example:443"],
    }
    (tmp_path / "vars.json").write_text(json.dumps(extra))
    token = make_token(make_user(Role.VIEWER))
    env = ansible_env(tmp_path, TELECENTRE_URL=live_server, TELECENTRE_API_TOKEN=token)
    argv = ["ansible-playbook", "-i", INVENTORY_SCRIPT, "-i", tmp_path / "local.yml",
            "-e", f"@{tmp_path / 'vars.json'}", ANSIBLE / "prometheus.yml"]  # fmt: skip
    return argv, env


def test_targets_per_office_from_the_inventory_and_a_second_run_changes_nothing(
    live_server, source, tmp_path
):
    cycow, leczna = make_office(name="Urząd Gminy Cyców"), make_office(name="Urząd Gminy Ludwin")
    make_device(cycow, name="GW-A", kind=DeviceKind.GATEWAY, ip="10.1.0.1")
    make_device(cycow, name="GW-B", kind=DeviceKind.GATEWAY, ip="10.1.0.2")
    make_device(leczna, name="GW", kind=DeviceKind.GATEWAY, ip="10.2.0.1")
    make_device(leczna, name="PC", ip="10.2.0.50")  # not a gateway: not scraped
    config_dir = tmp_path / "etc-prometheus"
    argv, env = _playbook(tmp_path, live_server, source, config_dir)

    first = run(argv, env, timeout=240)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert recap(first.stdout)["monitoring"]["changed"] > 0
    assert "RUNNING HANDLER [prometheus : Check the Prometheus configuration]" in first.stdout
    targets = {
        path.name: yaml.safe_load(path.read_text())
        for path in (config_dir / "telecentre-gateways").glob("*.yml")
    }
    assert targets[f"office-{cycow.id}.yml"] == [{
        "targets": ["10.1.0.1:9469", "10.1.0.2:9469"],
        "labels": {"office_id": str(cycow.id), "office": "Urząd Gminy Cyców"},
    }]  # fmt: skip
    assert targets[f"office-{leczna.id}.yml"][0]["targets"] == ["10.2.0.1:9469"]
    assert len(targets) == 2
    token = config_dir / "telecentre-controller.token"
    assert token.read_text() == "tcm_metrics-token\n"
    assert stat.S_IMODE(token.stat().st_mode) == 0o640
    assert (config_dir / "prometheus.yml").read_text() == (source / "prometheus.yml").read_text()
    assert sorted(p.name for p in (config_dir / "rules").iterdir()) == sorted(
        p.name for p in (source / "rules").glob("*.yml")
    )

    second = run(argv, env, timeout=240)
    assert second.returncode == 0, second.stdout[-3000:]
    assert recap(second.stdout)["monitoring"]["changed"] == 0, second.stdout[-3000:]


def test_a_broken_rule_is_refused_before_it_is_installed(live_server, source, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(source, broken)
    (broken / "rules" / "zz-broken.yml").write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: Bad\n        expr: up ==\n"
    )
    config_dir = tmp_path / "etc-prometheus"
    argv, env = _playbook(tmp_path, live_server, broken, config_dir)
    done = run(argv, env, timeout=240)
    assert done.returncode != 0
    assert "failed to validate" in done.stdout
    assert not (config_dir / "rules" / "zz-broken.yml").exists()
    assert not (config_dir / "prometheus.yml").exists()
