"""dashboards/prometheus: promtool checks the config and the rules and runs the rule tests."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.dashboards.conftest import DASHBOARDS, names_in, unknown
from tests.requirements import need

PROMETHEUS = DASHBOARDS / "prometheus"
PROMTOOL = shutil.which("promtool")


@pytest.fixture
def promtool():
    need(PROMTOOL is not None, "promtool is not installed (Debian package prometheus)")
    return PROMTOOL


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def deployed(folder: Path, controller: str, gateways: list[str], token: str) -> Path:
    """The shipped config as installed: a copy with the token and target files next to it."""
    shutil.copytree(PROMETHEUS, folder, dirs_exist_ok=True)
    (folder / "telecentre-controller.token").write_text(token + "\n")
    for job, targets in (
        ("telecentre-controller", [controller]),
        ("telecentre-gateways", gateways),
    ):
        (folder / job).mkdir(exist_ok=True)
        entry = {"targets": targets, "labels": {"__scheme__": "http"}}
        (folder / job / "targets.yml").write_text(yaml.safe_dump([entry]))
    return folder / "prometheus.yml"


def test_the_config_passes_promtool(promtool, tmp_path):
    config = deployed(tmp_path, "controller.example:443", ["10.44.0.1:9469"], "tm_x")
    done = _run(promtool, "check", "config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr
    assert "1 rule files found" in done.stdout


def test_the_config_has_the_jobs_the_deployment_relies_on():
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    controller, gateways = jobs["telecentre-controller"], jobs["telecentre-gateways"]
    assert controller["metrics_path"] == "/metrics"
    assert controller["authorization"]["credentials_file"] == "telecentre-controller.token"
    assert gateways["metrics_path"] == "/metrics"
    assert config["rule_files"] == ["rules/*.yml"]


def test_the_rules_pass_promtool_and_their_unit_tests(promtool):
    checked = _run(promtool, "check", "rules", str(PROMETHEUS / "rules" / "telecentre.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _run(promtool, "test", "rules", str(PROMETHEUS / "tests" / "telecentre_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_the_rule_tests_can_fail(promtool, tmp_path):
    """With the disk threshold moved to 99 %, the disk test must fail."""
    shutil.copytree(PROMETHEUS, tmp_path / "p")
    rules = tmp_path / "p" / "rules" / "telecentre.yml"
    rules.write_text(rules.read_text().replace("> 0.9\n", "> 0.99\n"))
    tested = _run(promtool, "test", "rules", str(tmp_path / "p" / "tests" / "telecentre_test.yml"))
    assert tested.returncode != 0 and "TelecentreDiskAlmostFull" in tested.stdout + tested.stderr


def test_every_alert_the_issue_asks_for_is_there():
    groups = yaml.safe_load((PROMETHEUS / "rules" / "telecentre.yml").read_text())["groups"]
    alerts = {rule["alert"]: rule for group in groups for rule in group["rules"]}
    assert {"TelecentreDeviceOffline", "TelecentreGatewayDown", "TelecentreDiskAlmostFull",
            "TelecentreStaleHeartbeats", "TelecentreNoPortalLogins"} <= set(alerts)  # fmt: skip
    assert alerts["TelecentreDeviceOffline"]["expr"].endswith(">= 600")  # 10 minutes silent
    assert "> 0.9" in alerts["TelecentreDiskAlmostFull"]["expr"]
    tested = (PROMETHEUS / "tests" / "telecentre_test.yml").read_text()
    assert all(f"alertname: {name}" in tested for name in alerts)


def test_the_rules_use_only_metrics_that_exist(exposed):
    groups = yaml.safe_load((PROMETHEUS / "rules" / "telecentre.yml").read_text())["groups"]
    used = set().union(*(names_in(rule["expr"]) for g in groups for rule in g["rules"]))
    assert "telecentre_device_down_seconds" in used
    assert unknown(used, exposed) == set()
