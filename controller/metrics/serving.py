"""Gunicorn settings for prometheus-client's multiprocess mode (`telecentre run`).

Every worker writes its counters and histograms to files in PROMETHEUS_MULTIPROC_DIR, and
/metrics sums them. The directory must be set before the workers import prometheus-client and
emptied before they start (left-over files would add an earlier run's counts); a dead worker's
live gauges are dropped with `mark_process_dead`. gunicorn loads this module as its config
(`--config python:controller.metrics.serving`).
"""

import os
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
DIR_NAME = "prometheus-multiproc"


def gunicorn_options(env: dict, instance_path: str) -> tuple[list[str], dict]:
    """Extra gunicorn arguments and the environment that turn multiprocess mode on."""
    env = dict(env)
    env.setdefault(ENV, str(Path(instance_path) / DIR_NAME))
    return ["--config", f"python:{__name__}"], env


def on_starting(server) -> None:
    """In the master before any worker starts: a fresh, private directory for the values."""
    folder = Path(os.environ[ENV])
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server, worker) -> None:
    """In the master when a worker exits: drop that process's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
