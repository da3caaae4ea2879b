"""Time of a /metrics scrape with 10,000 devices, versus the straightforward collector.

The controller's SQLite database is filled directly (16 offices, 10,000 agent devices with two
disks each — 1 % of them over 90 % full, 10 % offline — 300 live visitor sessions, 500
vouchers), then served by gunicorn in multiprocess mode and scraped over HTTP one request at a
time, as Prometheus does. The baseline, measured in the same run and process, is the obvious
implementation with prometheus-client: a custom collector that reads every device through the
ORM and yields `GaugeMetricFamily` objects with an up, a heartbeat-age and a disk series per
device, exposed with `generate_latest`.
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
                                   "used_bytes": (250 if i % 100 == 0 else i % 97) << 30},
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


def _app(instance: Path):
    from controller import create_app

    os.environ["TELECENTRE_INSTANCE_PATH"] = str(instance)
    try:
        return create_app()
    finally:
        del os.environ["TELECENTRE_INSTANCE_PATH"]


class NaiveCollector:
    """The baseline: every device read through the ORM, three kinds of series per device."""

    def __init__(self, session) -> None:
        self.session = session

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import select

        from controller.devices.models import Device

        names = ["device_id", "device", "office_id", "office", "kind"]
        up = GaugeMetricFamily("telecentre_device_up", "Device online.", labels=names)
        age = GaugeMetricFamily("telecentre_device_heartbeat_age_seconds", "Age.", labels=names)
        disk = GaugeMetricFamily("telecentre_device_disk_used_ratio", "Disk.",
                                 labels=[*names, "mount"])  # fmt: skip
        now = datetime.now(UTC)
        for device in self.session.scalars(select(Device)):
            values = [str(device.id), device.name, str(device.office_id), device.office.name,
                      device.kind.value]  # fmt: skip
            up.add_metric(values, 1 if device.state == "online" else 0)
            if device.last_seen is not None:
                age.add_metric(values, (now - device.last_seen).total_seconds())
            for entry in (device.health or {}).get("disks", []):
                disk.add_metric([*values, entry["mount"]],
                                entry["used_bytes"] / entry["total_bytes"])  # fmt: skip
        return [up, age, disk]


def measure_in_process(instance: Path) -> tuple[list[float], list[float], list[float], int]:
    """Ours (collect + render) and the baseline (collect + generate_latest), in one process.

    Also returns our CPU time per scrape (SQLite runs in this process, so it is included),
    which a loaded machine inflates less than the wall-clock time.
    """
    from prometheus_client import CollectorRegistry, generate_latest

    from controller.extensions import db
    from controller.metrics.collector import collect
    from controller.metrics.exposition import render

    app = _app(instance)
    ours, naive, cpu = [], [], []
    with app.app_context():
        registry = CollectorRegistry(auto_describe=False)
        registry.register(NaiveCollector(db.session))
        size = len(generate_latest(registry))  # warm-up of both
        render(collect(db.session))
        for _ in range(SCRAPES // 3):
            started, cpu_started = time.perf_counter(), time.process_time()
            render(collect(db.session))
            ours.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
            db.session.rollback()
            started = time.perf_counter()
            generate_latest(registry)
            naive.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
        db.engine.dispose()
    return ours, naive, cpu, size


_HOOK_COST = """
import sys, time
from controller.metrics.instruments import AGENT_DURATION, AGENT_REQUESTS
n = int(sys.argv[1])
started = time.perf_counter()
for _ in range(n):
    AGENT_REQUESTS.labels("agent.heartbeat", "200").inc()
    AGENT_DURATION.labels("agent.heartbeat").observe(0.004)
print((time.perf_counter() - started) / n * 1e6)
"""


def measure_hook_cost(multiproc: Path, calls: int = 20_000) -> float:
    """Microseconds the devices app's hook adds to each heartbeat, in multiprocess mode."""
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    done = subprocess.run([sys.executable, "-c", _HOOK_COST, str(calls)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"the hook cost probe failed:\n{done.stderr}")
    return float(done.stdout)


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
        ours, naive, cpu, naive_size = measure_in_process(instance)
        hook_us = measure_hook_cost(multiproc)
    if b'telecentre_device_down_seconds{device_id="8"' not in body:
        raise BenchError("the scrape did not hold the offline device 8")
    median, naive_median = statistics.median(scrapes), statistics.median(naive)
    return [
        Figure("metrics.scrape_10k_devices_median", median, "ms", "lower",
               "naive_per_device_collector_median", naive_median,
               f"< {TARGET_MS:g} ms", median < TARGET_MS),
        Figure("metrics.scrape_10k_devices_p95", _p95(scrapes), "ms", "lower",
               target=f"< {TARGET_MS:g} ms", target_met=_p95(scrapes) < TARGET_MS),
        Figure("metrics.collect_10k_devices_median", statistics.median(ours), "ms", "lower",
               "naive_per_device_collector_median", naive_median),
        Figure("metrics.collect_10k_devices_cpu_median", statistics.median(cpu), "ms", "lower"),
        Figure("metrics.agent_call_hook_cost", hook_us, "µs", "lower"),
        Figure("metrics.scrape_10k_devices_size", len(body) / 1024, "KiB", "lower",
               "naive_per_device_collector_size", naive_size / 1024),
    ]  # fmt: skip
