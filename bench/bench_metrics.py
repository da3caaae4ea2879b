"""Time of a /metrics scrape with 10,000 devices, versus prometheus-client's own exposition.

The controller's SQLite database is filled directly (16 offices, 10,000 agent devices with two
disks each, 300 live visitor sessions, 500 vouchers), then served by gunicorn in multiprocess
mode and scraped over HTTP one request at a time, as Prometheus does. The baseline, measured
in the same run, is prometheus-client's standard custom-collector path for the same samples:
`generate_latest` of a registry whose collector yields `GaugeMetricFamily` objects holding
them (built beforehand, so the baseline is the exposition alone, without any database read).
"""

import os
import statistics
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import _controller, _serve
from bench._figures import BenchError, Figure

DEVICES = 10_000
OFFICES = 16
SCRAPES = 30
TOKEN = "tm_bench-metrics-token-0123456789abcdef"  # noqa: S105 - a throw-away bench token
TARGET_MS = 100.0


def fill(instance: Path) -> None:
    """Create the schema and the dataset in the instance's SQLite file."""
    from sqlalchemy import insert

    from controller import create_app
    from controller.devices.models import Device
    from controller.extensions import db
    from controller.offices.models import Office
    from controller.portal.models import PortalSession, Voucher, VoucherBatch

    _controller.cli(instance, "db", "upgrade")
    os.environ["TELECENTRE_INSTANCE_PATH"] = str(instance)
    try:
        app = create_app()
    finally:
        del os.environ["TELECENTRE_INSTANCE_PATH"]
    now = datetime.now(UTC)
    states = ["online"] * 8 + ["offline", "unknown"]
    with app.app_context():
        db.session.execute(insert(Office), [
            {"id": o, "name": f"Urząd Gminy {o:02d}", "type": "urzad_gminy"}
            for o in range(1, OFFICES + 1)])  # fmt: skip
        db.session.execute(insert(Device), [
            {"id": i, "office_id": i % OFFICES + 1, "kind": "pc" if i % 10 else "gateway",
             "name": f"PC-{i:05d}", "management": "agent", "state": states[i % 10],
             "last_seen": now - timedelta(seconds=i % 90), "mac": None,
             "health": {"cpu_percent": 12.5, "load": [0.1, 0.2, 0.3],
                        "memory": {"total_bytes": 8 << 30, "available_bytes": 5 << 30},
                        "disks": [{"mount": "/", "total_bytes": 256 << 30,
                                   "used_bytes": (i % 97) << 30},
                                  {"mount": "/home", "total_bytes": 512 << 30,
                                   "used_bytes": 100 << 30}]}}
            for i in range(1, DEVICES + 1)])  # fmt: skip
        db.session.execute(insert(PortalSession), [
            {"session_id": f"{n:036d}", "office_id": n % OFFICES + 1, "pseudonym": "0" * 32,
             "method": "click", "started_at": now} for n in range(300)])  # fmt: skip
        db.session.execute(insert(VoucherBatch), [
            {"id": o, "office_id": o, "count": 500 // OFFICES, "seconds": 3600,
             "valid_until": now + timedelta(days=30), "created_by": "bench"}
            for o in range(1, OFFICES + 1)])  # fmt: skip
        db.session.execute(insert(Voucher), [
            {"batch_id": n % OFFICES + 1, "office_id": n % OFFICES + 1,
             "code_hash": f"{n:064x}"} for n in range(500)])  # fmt: skip
        db.session.commit()
        db.engine.dispose()


def _scrape(url: str) -> bytes:
    request = urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback only
        return answer.read()


def measure_scrapes(instance: Path, multiproc: Path) -> tuple[list[float], bytes]:
    """Serve the controller with gunicorn (multiprocess mode) and time SCRAPES scrapes."""
    env = {**_controller.instance_env(instance), "TELECENTRE_METRICS_TOKEN": TOKEN,
           "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}  # fmt: skip
    with _serve.gunicorn(_controller.WSGI_APP, env, probe="/healthz") as url:
        body = _scrape(url)  # warm-up: imports, statement compilation, connection
        _scrape(url)
        times = []
        for _ in range(SCRAPES):
            started = time.perf_counter()
            body = _scrape(url)
            times.append((time.perf_counter() - started) * 1000)
    return times, body


def measure_baseline(body: bytes) -> tuple[list[float], int]:
    """prometheus-client's generate_latest over the same fleet samples (exposition only)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.parser import text_string_to_metric_families

    fleet = [f for f in text_string_to_metric_families(body.decode()) if f.type == "gauge"]
    families = []
    for parsed in fleet:
        labelnames = sorted({name for s in parsed.samples for name in s.labels})
        family = GaugeMetricFamily(parsed.name, parsed.documentation, labels=labelnames)
        for sample in parsed.samples:
            family.add_metric([sample.labels.get(n, "") for n in labelnames], sample.value)
        families.append(family)

    class Fleet:
        def collect(self):
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fleet())
    times = []
    for _ in range(SCRAPES // 3):
        started = time.perf_counter()
        generate_latest(registry)
        times.append((time.perf_counter() - started) * 1000)
    return times, sum(len(f.samples) for f in families)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def run() -> list[Figure]:
    """Measure the scrape and the baseline; the target is a scrape under 100 ms."""
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmpdir:
        instance, multiproc = Path(tmpdir) / "instance", Path(tmpdir) / "multiproc"
        instance.mkdir()
        multiproc.mkdir()
        fill(instance)
        scrapes, body = measure_scrapes(instance, multiproc)
    if b'telecentre_device_up{device_id="10000"' not in body:
        raise BenchError("the scrape did not hold the 10,000th device")
    base, samples = measure_baseline(body)
    median, base_median = statistics.median(scrapes), statistics.median(base)
    return [
        Figure("metrics.scrape_10k_devices_median", median, "ms", "lower",
               "prometheus_client_generate_latest_median", base_median,
               f"< {TARGET_MS:g} ms", median < TARGET_MS),
        Figure("metrics.scrape_10k_devices_p95", _p95(scrapes), "ms", "lower",
               "prometheus_client_generate_latest_p95", _p95(base),
               f"< {TARGET_MS:g} ms", _p95(scrapes) < TARGET_MS),
        Figure("metrics.scrape_10k_devices_samples", samples, "samples", "lower"),
        Figure("metrics.scrape_10k_devices_size", len(body) / 1024, "KiB", "lower"),
    ]  # fmt: skip
