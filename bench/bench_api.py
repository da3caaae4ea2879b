"""Throughput and latency of GET /api/v1/devices (1,000 devices) versus bare Flask + sqlite3."""

import tempfile
from pathlib import Path

from bench import _controller, _serve, _wrk
from bench._figures import BenchError, Figure
from bench._http import JsonClient
from bench.baseline_app import DB_ENV, create_db

DEVICES = 1000
PATH = "/api/v1/devices?page=1&per_page=50"
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0


def _check_page(base_url: str, token: str | None) -> None:
    """Fail unless one request answers 200 with a full page out of DEVICES devices."""
    client = JsonClient(base_url, token)
    try:
        page = client.json("GET", PATH)
    finally:
        client.close()
    if len(page["items"]) != 50 or page["total"] != DEVICES:
        raise BenchError(f"{PATH} gave {len(page['items'])} items of {page['total']}")


def measure_baseline(tmp: Path) -> _wrk.WrkResult:
    """Serve the bare-Flask baseline over its own SQLite file and load it with wrk."""
    db = create_db(tmp / "baseline.sqlite3", DEVICES)
    with _serve.gunicorn("bench.baseline_app:create_app()", {DB_ENV: str(db)}) as url:
        _check_page(url, None)
        return _wrk.load(url + PATH, label="baseline")


def measure_controller(tmp: Path) -> tuple[_wrk.WrkResult, _wrk.WrkResult]:
    """Set up a controller with DEVICES devices, serve it with gunicorn and load it.

    Also loads the same server's /healthz (constant JSON through the whole middleware
    stack), which tells the framework's share of the cost from the endpoint's own.
    """
    instance = tmp / "instance"
    instance.mkdir()
    token = _controller.prepare(instance)
    env = _controller.instance_env(instance)
    setup_env = {**env, "TELECENTRE_RATELIMIT_ENABLED": "false"}  # only while filling it
    with _serve.gunicorn(_controller.WSGI_APP, setup_env) as url:
        _controller.top_up(url, token, DEVICES)
    with _serve.gunicorn(_controller.WSGI_APP, env) as url:
        _check_page(url, token)
        devices = _wrk.load(url + PATH, token, label="controller")
        return devices, _wrk.load(url + "/healthz", label="controller /healthz")


def _figures(
    ctl: _wrk.WrkResult | None, base: _wrk.WrkResult, health: _wrk.WrkResult | None = None
) -> list[Figure]:
    """Turn the two wrk results into figures (baseline-only if the controller failed)."""
    figs = [Figure("api.devices.baseline_p99", base.p99_ms, "ms", "lower")]
    if ctl is None:
        return [Figure("api.devices.baseline_rps", base.rps, "req/s", "higher"), *figs]
    ratio = ctl.rps / base.rps
    return [
        Figure("api.devices.controller_rps", ctl.rps, "req/s", "higher", "bare_flask_rps",
               base.rps, f"ratio >= {TARGET_RATIO}", ratio >= TARGET_RATIO),
        Figure("api.devices.controller_p99", ctl.p99_ms, "ms", "lower",
               target=f"< {TARGET_P99_MS:g} ms", target_met=ctl.p99_ms < TARGET_P99_MS),
        *figs,
        Figure("api.devices.controller_p50", ctl.p50_ms, "ms", "lower"),
        Figure("api.healthz.controller_rps", health.rps, "req/s", "higher", "bare_flask_rps",
               base.rps, None, None),
    ]  # fmt: skip


def run() -> list[Figure]:
    """Measure the controller's device list against the bare-Flask floor."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmpdir:
        tmp = Path(tmpdir)
        base = measure_baseline(tmp)
        try:
            ctl, health = measure_controller(tmp)
        except Exception as exc:
            raise BenchError(f"controller half failed: {exc}", _figures(None, base)) from exc
    return _figures(ctl, base, health)
