"""Signed heartbeat ingestion (10,000 enrolled agents) versus bare Flask + sqlite3; the agent."""

import os
import sys
import tempfile
from pathlib import Path

from bench import _agents, _controller, _serve, _wrk
from bench._figures import BenchError, Figure
from bench.baseline_heartbeat import DB_ENV, create_db

DEVICES = 10_000
PATH = _agents.HEARTBEAT_PATH
# A signed request is accepted for 300 s after signing: warm-up and run must fit well inside.
MAX_SECONDS = 240
TARGET_RATIO = 0.6
TARGET_RPS = 1500.0
TARGET_P99_MS = 100.0
AGENT_SECONDS = 15.0
AGENT_INTERVAL = 1.0  # seconds between the measured agent's heartbeats
SCALE_TO = 30.0  # the default interval, which the CPU figure is scaled to
TARGET_RSS_MB = 25.0
TARGET_CPU_PERCENT = 0.5

Devices = list[tuple[int, str]]


def max_rps() -> int:
    """Return the rate requests are signed for, from BENCH_HEARTBEAT_MAX_RPS (default 3000).

    A controller faster than this runs out of requests, which fails the run (replays, 401).
    """
    value = os.environ.get("BENCH_HEARTBEAT_MAX_RPS", "3000")
    if not value.isdigit() or int(value) < 1:
        raise BenchError("BENCH_HEARTBEAT_MAX_RPS must be a whole number of requests/s >= 1")
    return int(value)


def _request_files(
    folder: Path, devices: Devices, seconds: int
) -> tuple[_agents.RequestFile, _agents.RequestFile]:
    """Sign the warm-up's and the measured run's heartbeats now, each run's own, in order."""
    folder.mkdir()
    warmup = max_rps() * _wrk.WARMUP_SECONDS + _wrk.CONNECTIONS
    measured = max_rps() * seconds + _wrk.CONNECTIONS
    return (
        _agents.write_requests(folder / "warmup.tsv", devices, 0, warmup),
        _agents.write_requests(folder / "measured.tsv", devices, warmup, measured),
    )


def measure_baseline(tmp: Path, devices: Devices, script: Path) -> _wrk.WrkResult:
    """Serve the bare-Flask baseline over its own SQLite file and send it the heartbeats."""
    warmup, measured = _request_files(tmp / "baseline", devices, _wrk.bench_seconds())
    db = create_db(tmp / "baseline.sqlite3", [device_id for device_id, _secret in devices])
    with _serve.gunicorn("bench.baseline_heartbeat:create_app()", {DB_ENV: str(db)}) as url:
        # It checks no signatures, so if it outruns the requests it may have them again.
        _warm, run = _agents.load(url + PATH, script, warmup, measured, "baseline", True)
    return run.result


def measure_controller(
    tmp: Path, instance: Path, devices: Devices, script: Path
) -> list[_agents.ScriptRun]:
    """Serve the controller (default configuration) and send it freshly signed heartbeats."""
    warmup, measured = _request_files(tmp / "controller", devices, _wrk.bench_seconds())
    with _serve.gunicorn(_controller.WSGI_APP, _controller.instance_env(instance)) as url:
        return list(_agents.load(url + PATH, script, warmup, measured, "controller"))


def check_ingestion(instance: Path, runs: list[_agents.ScriptRun]) -> tuple[Figure, str]:
    """Compare every device's agent_seq with what was sent; return the figure and any problem."""
    low, high = _agents.expected_seqs(DEVICES, runs)
    seqs, nonces = _agents.agent_state(instance)
    if len(seqs) != DEVICES:
        missing = f"{DEVICES - len(seqs)} benchmark devices missing"
        return Figure("heartbeat.devices_advanced", 0, "devices", "higher", None, None,
                      f"= {DEVICES:,}", False), missing  # fmt: skip
    advanced = sum(1 for seq in seqs if seq > 0)
    want_low, want_high = sum(1 for s in low if s > 0), sum(1 for s in high if s > 0)
    behind = sum(1 for seq, want in zip(seqs, low, strict=True) if seq < want)
    ahead = sum(1 for seq, most in zip(seqs, high, strict=True) if seq > most)
    answered = sum(run.completed for run in runs)
    sent = sum(sum(run.generated) for run in runs)
    problems = []
    if behind or ahead:
        problems.append(f"{behind} devices' agent_seq behind and {ahead} ahead of what was sent")
    if not want_low <= advanced <= want_high:
        problems.append(f"{advanced} devices advanced, expected {want_low}-{want_high}")
    if not answered <= nonces <= sent:
        problems.append(f"{nonces} requests stored, {answered} answered, {sent} sent")
    target = f"= {want_low:,} sent" if want_low == want_high else f"{want_low:,}-{want_high:,} sent"
    print(f"   ingestion: {advanced:,} devices advanced, {nonces:,} signed requests stored"
          f" ({answered:,} answered, {sent:,} sent)", file=sys.stderr, flush=True)  # fmt: skip
    figure = Figure("heartbeat.devices_advanced", advanced, "devices", "higher",
                    target=target, target_met=not problems)  # fmt: skip
    return figure, "; ".join(problems)


def measure_agent(tmp: Path, instance: Path) -> _agents.Footprint:
    """Run one real agent against a controller that asks for AGENT_INTERVAL heartbeats."""
    from controller.demo import OFFICES

    # The controller's answer sets the agent's interval, so the controller must ask for 1 s.
    env = {**_controller.instance_env(instance), "TELECENTRE_AGENT_INTERVAL": f"{AGENT_INTERVAL:g}"}
    state = tmp / "agent"
    with _serve.gunicorn(_controller.WSGI_APP, env) as url:
        fp = _agents.agent_footprint(instance, url, state, OFFICES[0][0], AGENT_SECONDS,
                                     AGENT_INTERVAL)  # fmt: skip
    print(f"   agent: {fp.max_rss_mb:.1f} MB max RSS, {fp.cpu_percent:.2f} % of a core at"
          f" {AGENT_INTERVAL:g} s ({fp.heartbeats} heartbeats)",
          file=sys.stderr, flush=True)  # fmt: skip
    return fp


def _figures(ctl: _agents.ScriptRun | None, base: _wrk.WrkResult) -> list[Figure]:
    """Turn the two measured runs into figures (baseline-only if the controller failed)."""
    figs = [Figure("heartbeat.baseline_p99", base.p99_ms, "ms", "lower")]
    if ctl is None:
        return [Figure("heartbeat.baseline_rps", base.rps, "heartbeats/s", "higher"), *figs]
    r, ratio = ctl.result, ctl.result.rps / base.rps
    return [
        Figure("heartbeat.controller_rps", r.rps, "heartbeats/s", "higher", "bare_flask_rps",
               base.rps, f"ratio >= {TARGET_RATIO}, >= {TARGET_RPS:,.0f}/s",
               ratio >= TARGET_RATIO and r.rps >= TARGET_RPS),
        Figure("heartbeat.controller_p99", r.p99_ms, "ms", "lower",
               target=f"< {TARGET_P99_MS:g} ms", target_met=r.p99_ms < TARGET_P99_MS),
        Figure("heartbeat.controller_p50", r.p50_ms, "ms", "lower"),
        *figs,
    ]  # fmt: skip


def _agent_figures(fp: _agents.Footprint) -> list[Figure]:
    """Turn the agent's footprint into figures, its CPU also scaled to the 30 s interval."""
    scaled = fp.cpu_percent * AGENT_INTERVAL / SCALE_TO
    return [
        Figure("agent.max_rss", fp.max_rss_mb, "MB", "lower",
               target=f"< {TARGET_RSS_MB:g} MB", target_met=fp.max_rss_mb < TARGET_RSS_MB),
        Figure("agent.cpu_at_1s_interval", fp.cpu_percent, "% of a core", "lower"),
        Figure("agent.cpu_at_30s_interval_est_1s_div_30", scaled, "% of a core", "lower",
               target=f"< {TARGET_CPU_PERCENT:g} %", target_met=scaled < TARGET_CPU_PERCENT),
    ]  # fmt: skip


def run() -> list[Figure]:
    """Measure heartbeat ingestion against the bare-Flask floor, then the agent's footprint."""
    seconds = _wrk.bench_seconds()
    max_rps()  # a bad setting fails before anything starts
    if seconds + _wrk.WARMUP_SECONDS > MAX_SECONDS:
        raise BenchError(f"BENCH_SECONDS above {MAX_SECONDS - _wrk.WARMUP_SECONDS} cannot be run:"
                         " signed heartbeats expire 300 s after signing")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-heartbeat-") as tmpdir:
        tmp = Path(tmpdir)
        instance = tmp / "instance"
        instance.mkdir()
        _controller.cli(instance, "db", "upgrade")
        _controller.cli(instance, "demo-data")
        devices = _agents.add_agent_devices(instance, DEVICES)
        script = tmp / "heartbeat.lua"
        script.write_text(_agents.LUA_SCRIPT)
        base = measure_baseline(tmp, devices, script)
        try:
            runs = measure_controller(tmp, instance, devices, script)
        except Exception as exc:
            raise BenchError(f"controller half failed: {exc}", _figures(None, base)) from exc
        figures = _figures(runs[-1], base)
        check, problem = check_ingestion(instance, runs)
        figures.append(check)
        if problem:
            raise BenchError(f"heartbeats were answered but not ingested: {problem}", figures)
        try:
            footprint = measure_agent(tmp, instance)
        except Exception as exc:
            raise BenchError(f"agent footprint failed: {exc}", figures) from exc
    return figures + _agent_figures(footprint)
