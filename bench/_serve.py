"""Serve a WSGI app with gunicorn on a free loopback port for the length of a `with` block."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench._figures import BenchError

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# The system under test and every baseline are served identically: these settings.
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
WORKER_CLASS = "sync"
START_TIMEOUT = 30.0


def free_port() -> int:
    """Return a TCP port on the loopback interface that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _answers(port: int, path: str) -> bool:
    """Return True once the server answers an HTTP request with any status."""
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", path)
        conn.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        conn.close()


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a process started in its own session: SIGTERM, then SIGKILL to the whole group."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: the process and its children
        proc.wait(timeout=5)


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str] | None = None, probe: str = "/") -> Iterator[str]:
    """Run `gunicorn app_spec` on a free loopback port and yield its base URL."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"{HOST}:{port}",
        "--workers", str(WORKERS),
        "--worker-class", WORKER_CLASS,
        "--chdir", str(ROOT),
        "--log-level", "warning",
        app_spec,
    ]  # fmt: skip
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(
            cmd,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _answers(port, probe):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = "".join(log.readlines()[-30:])
                    raise BenchError(f"gunicorn {app_spec} did not start:\n{tail}")
                time.sleep(0.2)
            yield f"http://{HOST}:{port}"
        finally:
            stop(proc)
