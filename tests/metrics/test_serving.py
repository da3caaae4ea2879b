"""The gunicorn hooks of multiprocess mode, called as gunicorn's master calls them."""

import os
import subprocess
import sys
from types import SimpleNamespace

from controller.metrics import serving


def test_options_turn_multiprocess_mode_on_under_the_instance(tmp_path):
    args, env = serving.gunicorn_options({"PATH": "/usr/bin"}, str(tmp_path))
    assert args == ["--config", "python:controller.metrics.serving"]
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "prometheus-multiproc")
    _args, kept = serving.gunicorn_options({"PROMETHEUS_MULTIPROC_DIR": "/run/x"}, str(tmp_path))
    assert kept["PROMETHEUS_MULTIPROC_DIR"] == "/run/x"  # an operator's choice wins


def test_the_master_starts_from_an_empty_folder_and_forgets_dead_workers(tmp_path, monkeypatch):
    folder = tmp_path / "multiproc"
    folder.mkdir()
    (folder / "counter_4242.db").write_bytes(b"stale")  # left by an earlier run
    (folder / "notes.txt").write_text("kept")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    serving.on_starting(SimpleNamespace())
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    # A worker that wrote a live gauge, then exits: its live file goes, its counters stay.
    script = (
        "from prometheus_client import Counter, Gauge\n"
        "Counter('t_requests', 'x').inc()\n"
        "Gauge('t_workers', 'x', multiprocess_mode='livesum').set(1)\n"
        "import os; print(os.getpid())\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    pid = int(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, check=True).stdout)  # fmt: skip
    assert (folder / f"gauge_livesum_{pid}.db").exists()
    serving.child_exit(SimpleNamespace(), SimpleNamespace(pid=pid))
    assert not (folder / f"gauge_livesum_{pid}.db").exists()
    assert (folder / f"counter_{pid}.db").exists()
