"""The hotspot gateway: nftables sets versus an iptables one-rule-per-client baseline.

In network namespaces (client ── gateway ── server), each side in a fresh gateway namespace:
- restore: loading 10,000 live sessions into the kernel (one nft transaction; the baseline
  loads 10,000 rules with iptables-restore);
- authorise / deauthorise p99 of one more client with 10,000 in;
- the daemon's bookkeeping at 10,000 sessions without the kernel: status lookup, a poll with
  1 % of the sessions moving, a spool append with 10,000 records pending;
- forwarding throughput (iperf3, client → server) with 0 and with 10,000 other clients
  authorised, the real daemon running in both arms (bench/_gateway_forward.py): pairs in ABBA
  order, the median of the pairs' ratios with its spread (the machine is shared and iperf3
  alone is noisy), and the daemon's CPU use during each arm.
Needs root, nft, iptables and iperf3 (scripts/system-deps.sh bench).
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from bench import _gateway_forward, _gateway_scale, _login
from bench._figures import BenchError, Figure
from bench._wrk import bench_seconds

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 10_000
ROUNDS = 200
PAIRS = 8  # 0-client / 10k-client throughput pairs, in ABBA order
BASELINE_PAIRS = 4  # the same for the iptables baseline (its gap is not subtle)
MAC, IP, SERVER = "02:00:00:99:00:02", "10.77.0.2", "198.51.100.2"


def _sh(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode:
        raise BenchError(f"{' '.join(argv[:6])}…: {done.stderr.strip()[:300]}")
    return done.stdout


@contextmanager
def topology(tag: str):
    """client (cl) ── lan0 [gateway] wan0 ── server (srv), removed afterwards."""
    ns = {k: f"bgw{k}{os.getpid()}{tag}" for k in ("cl", "gw", "srv")}
    try:
        for name in ns.values():
            _sh("ip", "netns", "add", name)
        _sh("ip", "-n", ns["gw"], "link", "add", "lan0", "type", "veth", "peer", "name", "eth0",
            "netns", ns["cl"])  # fmt: skip
        _sh("ip", "-n", ns["gw"], "link", "add", "wan0", "type", "veth", "peer", "name", "eth0",
            "netns", ns["srv"])  # fmt: skip
        _sh("ip", "-n", ns["cl"], "link", "set", "eth0", "address", MAC)
        for key, dev, addr in (("cl", "eth0", f"{IP}/24"), ("gw", "lan0", "10.77.0.1/24"),
                               ("gw", "wan0", "198.51.100.1/24"),
                               ("srv", "eth0", f"{SERVER}/24")):  # fmt: skip
            _sh("ip", "-n", ns[key], "addr", "add", addr, "dev", dev)
            _sh("ip", "-n", ns[key], "link", "set", dev, "up")
            _sh("ip", "-n", ns[key], "link", "set", "lo", "up")
        _sh("ip", "-n", ns["cl"], "route", "add", "default", "via", "10.77.0.1")
        _sh("ip", "-n", ns["srv"], "route", "add", "10.77.0.0/24", "via", "198.51.100.1")
        _sh("ip", "netns", "exec", ns["gw"], "sysctl", "-qw", "net.ipv4.ip_forward=1")
        yield ns
    finally:
        for name in ns.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def _probe(ns: dict, mode: str, count: int, rounds: int = ROUNDS) -> dict:
    out = _sh("ip", "netns", "exec", ns["gw"], sys.executable, "-m", "bench._gateway_probe",
              mode, "lan0", "wan0", str(count), str(rounds), MAC, IP)  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def _nft_side(seconds: int, pairs: int = PAIRS) -> dict:
    """The kernel timings (probe), then the daemon's arms: 0 and 10,000 sessions, interleaved.

    Each arm starts the real daemon on its own state dir (the same two dirs every time), so
    both arms run the same daemon on the same table; only the sessions differ.
    """
    with topology("nf") as ns, tempfile.TemporaryDirectory() as tmp:
        full = _probe(ns, "nft", CLIENTS, ROUNDS)
        dirs = {n: _gateway_forward.state_dir(Path(tmp) / f"s{n}", n, MAC, IP)
                for n in (0, CLIENTS)}  # fmt: skip
        arms: dict[bool, list] = {False: [], True: []}
        for loaded in _gateway_forward.order(pairs):
            arms[loaded].append(_gateway_forward.daemon_arm(ns, dirs[CLIENTS if loaded else 0],
                                                            SERVER, seconds))  # fmt: skip
    (empty, cpu_0), (loaded, cpu_10k) = (zip(*arms[k], strict=True) for k in (False, True))
    return {**full, **_gateway_forward.summary(list(empty), list(loaded)),
            "cpu_0": statistics.median(cpu_0), "cpu_10k": statistics.median(cpu_10k)}  # fmt: skip


def _iptables_side(seconds: int, pairs: int = BASELINE_PAIRS) -> dict:
    """The baseline: one rule per client, loaded by the probe for each arm (no daemon)."""
    arms: dict[bool, list] = {False: [], True: []}
    full = {}
    with topology("ip") as ns:
        for loaded in _gateway_forward.order(pairs):
            timed = loaded and not full  # the -I/-D timings once, on the first 10k load
            probed = _probe(ns, "iptables", CLIENTS if loaded else 0, ROUNDS if timed else 0)
            full = probed if timed else full
            arms[loaded].append(_gateway_forward.throughput(ns, SERVER, seconds))
    return {**full, **_gateway_forward.summary(arms[False], arms[True])}


_SINK = """
import socket
s = socket.create_server(("", 9), backlog=1024)
print("ready", flush=True)
while True:
    s.accept()[0].close()
"""


def _login_figure() -> Figure:
    """Login POST → first forwarded packet, p95 over 50 click-through logins."""
    with topology("lg") as ns, tempfile.TemporaryDirectory() as tmp:
        sink = subprocess.Popen(["ip", "netns", "exec", ns["srv"], sys.executable, "-c", _SINK],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            sink.stdout.readline()
            took = sorted(_login.measure(ns, Path(tmp), (SERVER, 9)))
        finally:
            sink.kill()
            sink.wait()
            sink.stdout.close()
    p95 = 1000 * took[int(0.95 * (len(took) - 1))]
    return Figure("gateway.login_to_first_packet_p95", p95, "ms", "lower",
                  target="< 50 ms", target_met=p95 < 50)  # fmt: skip


def run() -> list[Figure]:
    """Measure both sides; figures with ratios against the baseline."""
    if os.geteuid() != 0:
        raise BenchError("bench_gateway needs root (network namespaces)")
    for tool in ("nft", "iptables", "iperf3"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is missing: scripts/system-deps.sh bench")
    os.environ["PYTHONPATH"] = str(ROOT)
    # a run spans at least one poll of the 10,000 sessions (every ~20 s, paced to 2 % of a core)
    seconds = max(10, 2 * bench_seconds())
    figures: list[Figure] = []
    try:
        n = _nft_side(seconds)
        spread = f"pairs {PAIRS}, ratio min {n['ratio_min']:.2f} max {n['ratio_max']:.2f}"
        figures += [
            Figure("gateway.restore_10k_sessions", n["restore_s"] * 1000, "ms", "lower",
                   target="< 1000 ms", target_met=n["restore_s"] < 1.0),
            Figure("gateway.throughput_10k_vs_0_clients", n["tput_10k"], "Mbit/s", "higher",
                   "nft, 0 clients", n["tput_0"]),
            Figure("gateway.throughput_ratio_10k_vs_0_median", n["ratio"], "ratio", "higher",
                   target=f"median >= 0.95 ({spread})", target_met=n["ratio"] >= 0.95),
            Figure("gateway.throughput_ratio_10k_vs_0_of_medians", n["ratio_of_medians"],
                   "ratio", "higher"),
            Figure("gateway.throughput_ratio_10k_vs_0_min", n["ratio_min"], "ratio", "higher"),
            Figure("gateway.throughput_ratio_10k_vs_0_max", n["ratio_max"], "ratio", "higher"),
            Figure("gateway.daemon_cpu_during_throughput_10k", n["cpu_10k"], "% of a core",
                   "lower", "daemon with 0 sessions", n["cpu_0"]),
        ]  # fmt: skip
        b = _iptables_side(seconds)
    except (BenchError, subprocess.SubprocessError, ValueError, KeyError) as exc:
        raise BenchError(str(exc), figures) from exc
    figures += [_login_figure()]
    scale = _gateway_scale.measure(CLIENTS)
    figures += [
        Figure("gateway.status_lookup_10k", scale["status_ms"], "ms", "lower",
               target="< 1 ms", target_met=scale["status_ms"] < 1),
        Figure("gateway.poll_10k_1pc_moved", scale["poll_ms"], "ms", "lower",
               target="< 500 ms", target_met=scale["poll_ms"] < 500),
        Figure("gateway.spool_append_10k_pending", scale["append_ms"], "ms", "lower"),
        Figure("gateway.counters_read_10k_cpu", n["counters_cpu_ms"], "ms", "lower"),
    ]  # fmt: skip
    figures += [
        Figure("gateway.authorise_p99_10k", n["add_p99_ms"], "ms", "lower",
               "iptables rule per client", b["add_p99_ms"], "< 10 ms", n["add_p99_ms"] < 10),
        Figure("gateway.deauthorise_p99_10k", n["del_p99_ms"], "ms", "lower",
               "iptables rule per client", b["del_p99_ms"], "< 10 ms", n["del_p99_ms"] < 10),
        Figure("gateway.restore_10k_vs_iptables", n["restore_s"] * 1000, "ms", "lower",
               "iptables-restore 10k rules", b["restore_s"] * 1000),
        Figure("gateway.throughput_10k_vs_iptables", n["tput_10k"], "Mbit/s", "higher",
               "iptables 10k rules", b["tput_10k"]),
        Figure("gateway.iptables_throughput_10k_vs_0", b["tput_10k"], "Mbit/s", "higher",
               "iptables, 0 clients", b["tput_0"]),
    ]  # fmt: skip
    return figures
