"""The real thing: `telecentre run` (gunicorn, two workers) scraped by a real Prometheus.

The controller is set up through its CLI (schema, demo offices, a metrics token written where
Prometheus reads it), served by gunicorn in multiprocess mode, and scraped by Debian's
`prometheus` with the shipped dashboards/prometheus config and rules.
"""

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.dashboards.test_grafana import FILES as DASHBOARD_FILES
from tests.dashboards.test_grafana import expressions
from tests.dashboards.test_prometheus_files import deployed
from tests.metrics.helpers import samples, value
from tests.requirements import need

TELECENTRE = str(Path(sys.executable).with_name("telecentre"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, headers: dict | None = None, timeout: float = 5) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post(url: str) -> int:
    request = urllib.request.Request(url, data=b"email=x%40example.org", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            result = check()
        except OSError:
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The controller under gunicorn with two workers; yields (url, token, instance, folder)."""
    base = tmp_path_factory.mktemp("served")
    instance, prom = base / "instance", base / "prometheus"
    env = {**os.environ, "TELECENTRE_INSTANCE_PATH": str(instance),
           "TELECENTRE_LOGIN_RATE_LIMIT": "1000 per minute"}  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)

    def cli(*args) -> str:
        done = subprocess.run([TELECENTRE, *args], env=env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    cli("db", "upgrade")
    cli("demo-data")
    prom.mkdir()
    token = cli("metrics", "token", "--output", str(prom / "telecentre-controller.token"))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (base / "gunicorn.log").open("wb")
    server = subprocess.Popen([TELECENTRE, "run", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait(lambda: _get(url + "/healthz")[0] == 200, 30, "the controller")
        yield url, token, instance, prom
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _scrape(url: str, token: str) -> dict:
    status, body = _get(url + "/metrics", {"Authorization": f"Bearer {token}"})
    assert status == 200, body[:300]
    return samples(body.decode())


def test_counters_of_both_workers_are_summed(served):
    url, token, instance, _prom = served
    folder = instance / "prometheus-multiproc"
    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _round in range(10):  # until both workers have answered some of them
            statuses = list(pool.map(lambda _n: _get(url + "/login")[0], range(40)))
            assert set(statuses) == {200}
            sent += len(statuses)
            pids = {path.stem.rsplit("_", 1)[-1] for path in folder.glob("counter_*.db")}
            if len(pids) >= 2:
                break
        assert len(pids) >= 2, f"one worker answered everything: {pids}"
        invalid = list(pool.map(lambda _n: _post(url + "/login"), range(12)))
    assert set(invalid) == {400}  # no CSRF token: refused, counted as "invalid"
    found = _scrape(url, token)  # answered by one worker, counting for both
    labels = {"endpoint": "auth.login", "method": "GET", "status": "200"}
    assert value(found, "telecentre_http_requests_total", **labels) == sent
    assert value(found, "telecentre_http_request_duration_seconds_count",
                 endpoint="auth.login", method="GET") == sent  # fmt: skip
    assert value(found, "telecentre_logins_total", result="invalid") == 12
    assert _get(url + "/metrics")[0] == 401  # and never without the token


def _query(prom_url: str, expr: str) -> dict:
    status, body = _get(f"{prom_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "success", (expr, answer)
    return answer["data"]


def _dashboard_query(prom_url: str, expr: str) -> None:
    """Run a dashboard's query as Grafana would, with the variables set to every office."""
    expr = expr.replace("$__range", "5m").replace("$office_id", ".*").replace("$office", ".*")
    if expr.startswith("label_values("):  # Grafana's variable query: the labels must be there
        selector, _comma, label = expr.removeprefix("label_values(").rpartition(",")
        found = _query(prom_url, f"count by ({label.strip(' )')}) ({selector})")["result"]
        assert found, expr
    else:
        _query(prom_url, expr)


def test_prometheus_scrapes_the_controller(served, tmp_path):
    binary = shutil.which("prometheus")
    need(binary is not None, "prometheus is not installed (Debian package prometheus)")
    url, _token, instance, prom = served
    dead_gateway = f"127.0.0.1:{_free_port()}"
    config = deployed(prom, url.removeprefix("http://"), [dead_gateway],
                      (prom / "telecentre-controller.token").read_text().strip())  # fmt: skip
    text = config.read_text()  # scrape every second instead of every 30 s; nothing else changes
    for name, seconds in (("scrape_interval", 30), ("scrape_timeout", 10),
                          ("evaluation_interval", 30)):  # fmt: skip
        text = text.replace(f"{name}: {seconds}s", f"{name}: 1s")
    config.write_text(text)
    prom_url = f"http://127.0.0.1:{_free_port()}"
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address={prom_url.removeprefix('http://')}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        time.sleep(0.5)
        assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
        found = _wait(lambda: _query(prom_url, "sum(telecentre_devices)")["result"], 20,
                      "a controller metric in Prometheus")  # fmt: skip
        with sqlite3.connect(instance / "telecentre.sqlite3") as db_file:
            (devices,) = db_file.execute("SELECT count(*) FROM devices").fetchone()
        assert devices > 0 and float(found[0]["value"][1]) == devices
        up = _wait(lambda: _query(prom_url, 'up{job="telecentre-gateways"}')["result"], 10,
                   "the gateway target")  # fmt: skip
        assert [r["value"][1] for r in up] == ["0"]  # nothing listens there
        controller = _query(prom_url, 'up{job="telecentre-controller"}')["result"]
        assert [r["value"][1] for r in controller] == ["1"]  # the token was accepted
        _status, body = _get(prom_url + "/api/v1/rules")
        rules = {r["name"] for g in json.loads(body)["data"]["groups"] for r in g["rules"]}
        assert {"TelecentreDeviceOffline", "TelecentreNoPortalLogins"} <= rules
        for path in DASHBOARD_FILES:  # every dashboard query is valid PromQL for this server
            for expr in expressions(json.loads(path.read_text())):
                _dashboard_query(prom_url, expr)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
