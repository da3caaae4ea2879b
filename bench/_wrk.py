"""Drive load with wrk against a loopback URL and parse its --latency report."""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench._figures import BenchError

THREADS = 2
CONNECTIONS = 16
WARMUP_SECONDS = 2
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}  # to milliseconds
_LATENCY = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass
class WrkResult:
    """Throughput and latency percentiles (milliseconds) from one wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    raw: str


def bench_seconds() -> int:
    """Return the measured duration per run, from BENCH_SECONDS (default 10)."""
    try:
        seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise BenchError("BENCH_SECONDS must be a whole number of seconds >= 1")
    return seconds


def parse(output: str) -> WrkResult:
    """Parse the text wrk --latency prints into a WrkResult."""
    latency = {int(p): float(v) * _UNITS[u] for p, v, u in _LATENCY.findall(output)}
    rps = _RPS.search(output)
    if rps is None or 50 not in latency or 99 not in latency:
        raise BenchError(f"could not parse wrk output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    if non_2xx:
        raise BenchError(
            f"{non_2xx.group(1)} non-2xx/3xx responses under load"
            f" (rate limiting? authentication?):\n{output}"
        )
    sock = _SOCKET.search(output)
    errors = sum(int(n) for n in sock.groups()) if sock else 0
    return WrkResult(float(rps.group(1)), latency[50], latency[99], errors, output)


def _run(url: str, seconds: int, token: str | None) -> str:
    """Run wrk once and return its stdout."""
    exe = shutil.which("wrk")
    if exe is None:
        raise BenchError("wrk is not installed; install it with `apt-get install wrk`")
    if urlsplit(url).hostname != "127.0.0.1":
        raise BenchError(f"refusing to load anything but 127.0.0.1: {url}")
    cmd = [exe, "--threads", str(THREADS), "--connections", str(CONNECTIONS)]
    cmd += ["--duration", f"{seconds}s", "--timeout", "5s", "--latency"]
    if token:
        cmd += ["--header", f"Authorization: Bearer {token}"]
    proc = subprocess.run(cmd + [url], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    return proc.stdout


def load(url: str, token: str | None = None, label: str = "") -> WrkResult:
    """Warm the server up briefly, then measure it for bench_seconds() seconds."""
    seconds = bench_seconds()
    _run(url, WARMUP_SECONDS, token)
    r = parse(_run(url, seconds, token))
    print(f"   {label or url}: {r.rps:,.1f} req/s, p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms",
          file=sys.stderr, flush=True)  # fmt: skip
    if r.socket_errors:
        print(f"   warning: {r.socket_errors} socket errors loading {url}", file=sys.stderr)
    return r
