"""Agent load for the benchmarks: enrolled devices, precomputed signed heartbeats, the agent.

wrk cannot compute HMACs, so every request is signed beforehand and written to a file that a
wrk Lua script loads at start-up; each wrk thread sends its own share, once, in file order.
"""

import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from agents.common import signing
from bench import _controller, _serve, _wrk
from bench._figures import BenchError

HEARTBEAT_PATH = "/api/agent/v1/heartbeat"
NAME_PREFIX = "BENCH-HB-"
BATCH = 1000  # device rows per INSERT and commit
INVENTORY_HASH = "6f1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100ff"
_GENERATED = re.compile(r"^bench-heartbeat thread (\d+) generated (\d+) of (\d+)$", re.M)
_COMPLETED = re.compile(r"^\s*(\d+) requests in ", re.M)

# Each wrk thread keeps every THREADS-th line of the request file (its own share) as ready
# HTTP requests and hands them out in order; past the end it starts over, which the controller
# refuses as replays (401) and which done() reports, so running out can never pass unnoticed.
LUA_SCRIPT = r"""
local path = os.getenv("BENCH_HB_REQUESTS")
local nthreads = tonumber(os.getenv("BENCH_HB_THREADS"))
local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   pool, generated, n = {}, 0, 0
   for line in io.lines(path) do
      if n % nthreads == tid then
         local dev, ts, nonce, sig, body =
            line:match("^(%d+)\t(%d+)\t(%x+)\t(%x+)\t(.*)$")
         pool[#pool + 1] = wrk.format("POST", wrk.path, {
            ["Content-Type"] = "application/json",
            ["User-Agent"] = "telecentre-agent",
            ["X-Telecentre-Device"] = dev,
            ["X-Telecentre-Timestamp"] = ts,
            ["X-Telecentre-Nonce"] = nonce,
            ["X-Telecentre-Signature"] = sig,
         }, body)
      end
      n = n + 1
   end
   size = #pool
end

function request()
   generated = generated + 1
   return pool[(generated - 1) % size + 1]
end

function done(summary, latency, requests)
   for _, thread in ipairs(threads) do
      io.write(string.format("bench-heartbeat thread %d generated %d of %d\n",
                             thread:get("tid"), thread:get("generated"), thread:get("size")))
   end
end
"""


@dataclass(frozen=True)
class RequestFile:
    """Signed heartbeats for the global request indices first .. first + count - 1."""

    path: Path
    first: int
    count: int


@dataclass
class ScriptRun:
    """One wrk run over a request file: its figures and how many requests each thread sent."""

    result: _wrk.WrkResult
    requests: RequestFile
    completed: int  # responses wrk counted
    generated: list[int]  # requests handed out, per wrk thread

    def slack(self) -> int:
        """Return how many of a thread's last requests may not have reached the server."""
        return _wrk.CONNECTIONS // _wrk.THREADS + self.result.socket_errors


@contextmanager
def controller_app(instance: Path) -> Iterator:
    """Yield the controller app of `instance` inside an app context; release its engine after."""
    from controller import create_app
    from controller.extensions import db

    env = _controller.instance_env(instance)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        app = create_app()  # reads the instance folder from the environment
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def _device_row(i: int, office_id: int, now) -> dict:
    """Return the devices row of the i-th benchmark agent: an enrolled PC, online."""
    from controller.devices.models import DeviceKind, DeviceState, Management

    return {
        "office_id": office_id,
        "kind": DeviceKind.PC,
        "name": f"{NAME_PREFIX}{i:05d}",
        "hostname": f"bench-hb-{i:05d}",
        "mac": f"02:be:48:{i >> 16 & 0xFF:02x}:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}",
        "ip": f"10.{240 + (i >> 16)}.{i >> 8 & 0xFF}.{i & 0xFF}",
        "management": Management.AGENT,
        "state": DeviceState.ONLINE,
        "last_seen": now,
        "agent_salt": secrets.token_hex(16),
        "agent_seq": 0,
        "enrolled_at": now,
    }


def add_agent_devices(instance: Path, count: int) -> list[tuple[int, str]]:
    """Insert `count` enrolled agent PCs spread over the offices; return their (id, secret)."""
    from sqlalchemy import insert, select

    from controller.devices.models import Device
    from controller.extensions import db
    from controller.fleet.enrollment import device_secret
    from controller.offices.models import Office
    from controller.types import utcnow

    with controller_app(instance) as app:
        offices = db.session.scalars(select(Office.id).order_by(Office.id)).all()
        if not offices:
            raise BenchError("the controller has no offices after `telecentre demo-data`")
        now = utcnow()
        for start in range(0, count, BATCH):
            rows = [_device_row(i, offices[i % len(offices)], now)
                    for i in range(start, min(start + BATCH, count))]  # fmt: skip
            db.session.execute(insert(Device.__table__), rows)
            db.session.commit()
        stmt = select(Device.id, Device.agent_salt).where(Device.name.startswith(NAME_PREFIX))
        devices = db.session.execute(stmt.order_by(Device.id)).all()
        key = app.config["SECRET_KEY"]
        return [(row.id, device_secret(key, row)) for row in devices]


def heartbeat_body(seq: int, rng: random.Random, sent_at: float) -> bytes:
    """Return one heartbeat request body as the agent sends it (compact JSON, ~500 bytes)."""
    beat = {
        "sent_at": round(sent_at, 6),
        "uptime_s": round(rng.uniform(600, 864_000), 2),
        "load": [round(rng.uniform(0, 2), 2) for _ in range(3)],
        "cpu_percent": round(rng.uniform(1, 60), 1),
        "memory": {"total_bytes": 8 << 30, "available_bytes": rng.randint(1 << 30, 6 << 30)},
        "disks": [
            {"mount": "/", "total_bytes": 120 << 30, "used_bytes": rng.randint(20 << 30, 90 << 30)},
            {
                "mount": "/home",
                "total_bytes": 350 << 30,
                "used_bytes": rng.randint(1 << 30, 9 << 30),
            },
        ],
        "os": "Debian GNU/Linux 12",
        "agent_version": "0.1.0",
        "inventory_hash": INVENTORY_HASH,
    }
    payload = {"records": [{"seq": seq, "kind": "heartbeat", "body": beat}]}
    return json.dumps(payload, separators=(",", ":")).encode()


def write_requests(
    path: Path, devices: list[tuple[int, str]], first: int, count: int
) -> RequestFile:
    """Write signed heartbeats for global indices first.. : round-robin, seq = round + 1.

    Request i goes to device i % len(devices) with seq i // len(devices) + 1, so each device's
    sequence numbers are consecutive and rise in the order the requests are sent.
    """
    rng = random.Random(first)  # same bodies for the same indices, whoever they are fed to
    now = time.time()
    n = len(devices)
    with path.open("w", encoding="utf-8") as out:
        for i in range(first, first + count):
            device_id, secret = devices[i % n]
            body = heartbeat_body(i // n + 1, rng, now)
            h = signing.sign_request(secret, device_id, "POST", HEARTBEAT_PATH, body, now=now)
            out.write(f"{device_id}\t{h[signing.TIMESTAMP]}\t{h[signing.NONCE]}"
                      f"\t{h[signing.SIGNATURE]}\t{body.decode()}\n")  # fmt: skip
    return RequestFile(path, first, count)


def _wrk_script(url: str, script: Path, requests: RequestFile, seconds: int) -> str:
    """Run wrk once with the Lua script over a request file and return its stdout."""
    exe = shutil.which("wrk")
    if exe is None:
        raise BenchError("wrk is not installed; install it with `apt-get install wrk`")
    if urlsplit(url).hostname != "127.0.0.1":
        raise BenchError(f"refusing to load anything but 127.0.0.1: {url}")
    cmd = [exe, "--threads", str(_wrk.THREADS), "--connections", str(_wrk.CONNECTIONS)]
    cmd += ["--duration", f"{seconds}s", "--timeout", "5s", "--latency", "--script", str(script)]
    env = {**os.environ, "BENCH_HB_REQUESTS": str(requests.path),
           "BENCH_HB_THREADS": str(_wrk.THREADS)}  # fmt: skip
    proc = subprocess.run(cmd + [url], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0 or proc.stderr.strip():
        raise BenchError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    return proc.stdout


def script_run(
    url: str, script: Path, requests: RequestFile, seconds: int, repeats_ok: bool = False
) -> ScriptRun:
    """Send a request file's heartbeats with wrk for `seconds`; fail if any was sent twice.

    repeats_ok is for the baseline, which checks no signatures: it may go round again.
    """
    out = _wrk_script(url, script, requests, seconds)
    threads = sorted((int(t), int(g), int(n)) for t, g, n in _GENERATED.findall(out))
    if len(threads) != _wrk.THREADS:
        raise BenchError(f"the wrk script did not report its threads:\n{out}")
    over = [g for _t, g, n in threads if g > n]
    if over and not repeats_ok:
        raise BenchError(
            f"wrk ran out of precomputed requests ({requests.count} for {seconds} s): the server "
            f"is faster than the precomputed rate; raise BENCH_HEARTBEAT_MAX_RPS.\n{out}"
        )
    completed = _COMPLETED.search(out)
    if completed is None:
        raise BenchError(f"could not parse wrk output:\n{out}")
    result = _wrk.parse(out)
    return ScriptRun(result, requests, int(completed.group(1)), [g for _t, g, _n in threads])


def load(
    url: str,
    script: Path,
    warmup: RequestFile,
    measured: RequestFile,
    label: str,
    repeats_ok: bool = False,
) -> tuple[ScriptRun, ScriptRun]:
    """Warm the server up with one request file, then measure it with the next."""
    first = script_run(url, script, warmup, _wrk.WARMUP_SECONDS, repeats_ok)
    second = script_run(url, script, measured, _wrk.bench_seconds(), repeats_ok)
    r = second.result
    print(f"   {label}: {r.rps:,.1f} req/s, p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms",
          file=sys.stderr, flush=True)  # fmt: skip
    if r.socket_errors:
        print(f"   warning: {r.socket_errors} socket errors loading {url}", file=sys.stderr)
    return first, second


def expected_seqs(n_devices: int, runs: list[ScriptRun]) -> tuple[list[int], list[int]]:
    """Return, per device index, the lowest and highest agent_seq that the runs can leave.

    Thread t of a run handed out the request file's lines t, t + THREADS, … in that order; all
    but its last `slack()` requests were answered, and those may or may not have reached the
    server. So may a thread's first: wrk calls request() once to check the script, and drops it.
    """
    low, high = [0] * n_devices, [0] * n_devices
    for run in runs:
        for t, sent in enumerate(run.generated):
            certain = max(0, sent - run.slack())
            for k in range(sent):
                i = run.requests.first + t + k * _wrk.THREADS
                d, seq = i % n_devices, i // n_devices + 1
                high[d] = max(high[d], seq)
                if 0 < k < certain:
                    low[d] = max(low[d], seq)
    return low, high


def agent_state(instance: Path) -> tuple[list[int], int]:
    """Return the benchmark devices' agent_seq (in id order) and their stored nonces."""
    from sqlalchemy import func, select

    from controller.devices.models import Device
    from controller.extensions import db
    from controller.fleet.models import AgentNonce

    bench = Device.name.startswith(NAME_PREFIX)
    with controller_app(instance):
        seqs = db.session.scalars(select(Device.agent_seq).where(bench).order_by(Device.id)).all()
        nonces = db.session.scalar(
            select(func.count()).select_from(AgentNonce)
            .join(Device, Device.id == AgentNonce.device_id).where(bench)
        )  # fmt: skip
    return list(seqs), int(nonces or 0)


def device_seq(instance: Path, device_id: int) -> int:
    """Return one device's agent_seq (the records the controller took from its agent)."""
    from controller.devices.models import Device
    from controller.extensions import db

    with controller_app(instance):
        device = db.session.get(Device, device_id)
        return device.agent_seq if device is not None else 0


@dataclass
class Footprint:
    """Resource use of one real agent process."""

    max_rss_mb: float
    cpu_percent: float  # of one core, at the interval it ran with
    heartbeats: int  # records the controller took from it while it ran


def _cpu_seconds(pid: int) -> float:
    """Return the CPU time of a process and its waited-for children (utime+stime+cu+cs), s."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # fields[0] is field 3 (state)
    ticks = sum(int(fields[n]) for n in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _max_rss_mb(pid: int) -> float:
    """Return a process's peak resident set size (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmHWM in /proc/{pid}/status")


def _agent_exe() -> str:
    """Return the path of the `telecentre-agent` console script next to this Python."""
    beside = Path(sys.executable).parent / "telecentre-agent"
    exe = str(beside) if beside.exists() else shutil.which("telecentre-agent")
    if exe is None:
        raise BenchError("the `telecentre-agent` console script is missing; run `pip install -e .`")
    return exe


def _agent_env(state_dir: Path) -> dict[str, str]:
    """Return an environment that keeps the host's agent configuration out of the benchmark."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELECENTRE_AGENT_")}
    env["TELECENTRE_AGENT_CONFIG"] = str(state_dir / "absent.conf")  # defaults only
    env["TELECENTRE_AGENT_START_DELAY"] = "0"
    return env


def agent_footprint(
    instance: Path, url: str, state_dir: Path, office: str, seconds: float, interval: float
) -> Footprint:
    """Enrol a real telecentre-agent, run it at `interval` and measure it for `seconds`."""
    out = _controller.cli(instance, "enrollment-token", "create", "--office", office, "--uses", "1")
    token = out.strip().splitlines()[-1].strip() if out.strip() else ""
    exe, env = _agent_exe(), _agent_env(state_dir)
    enrolled = subprocess.run(
        [exe, "enroll", "--controller", url, "--token", token, "--state-dir", str(state_dir)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if enrolled.returncode != 0:
        raise BenchError(f"telecentre-agent enroll failed:\n{enrolled.stdout}{enrolled.stderr}")
    device_id = int(json.loads((state_dir / "identity.json").read_text())["device_id"])
    cmd = [exe, "run", "--state-dir", str(state_dir), "--interval", f"{interval:g}"]
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        try:
            time.sleep(2 * interval + 1)  # start-up and the first heartbeat (with inventory)
            seq0, cpu0, t0 = device_seq(instance, device_id), _cpu_seconds(proc.pid), time.time()
            time.sleep(seconds)
            cpu1, t1 = _cpu_seconds(proc.pid), time.time()
            rss = _max_rss_mb(proc.pid)
            beats = device_seq(instance, device_id) - seq0
            if proc.poll() is not None or beats < seconds / interval / 2:
                log.seek(0)
                raise BenchError(f"the agent sent {beats} heartbeats in {seconds:g} s:\n"
                                 + "".join(log.readlines()[-20:]))  # fmt: skip
        finally:
            _serve.stop(proc)
    return Footprint(rss, 100.0 * (cpu1 - cpu0) / (t1 - t0), beats)
