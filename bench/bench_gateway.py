"""The hotspot gateway: nftables sets versus an iptables one-rule-per-client baseline.

In network namespaces (client ── gateway ── server), each side in a fresh gateway namespace:
- restore: loading 10,000 live sessions into the kernel (one nft transaction; the baseline
  loads 10,000 rules with iptables-restore);
- authorise / deauthorise p99 of one more client with 10,000 in;
- the daemon's bookkeeping at 10,000 sessions without the kernel: status lookup, a poll with
  1 % of the sessions moving, a spool append with 10,000 records pending;
- forwarding throughput (iperf3, client → server, the measured client listed last) with 0 and
  with 10,000 other clients authorised: interleaved short runs, median of the pairs' ratios
  with its spread (the machine is shared and iperf3 alone is noisy).
Needs root, nft, iptables and iperf3 (scripts/system-deps.sh bench).
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench import _gateway_scale, _login
from bench._figures import BenchError, Figure
from bench._wrk import bench_seconds

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 10_000
ROUNDS = 200
PAIRS = 7  # interleaved 0-client / 10k-client throughput runs
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


def _throughput(ns: dict, seconds: int) -> float:
    """Mbit/s client → server through the gateway (iperf3, one TCP stream)."""
    server = subprocess.Popen(["ip", "netns", "exec", ns["srv"], "iperf3", "-s", "-1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(0.3)
        # -O 1: the first second (TCP slow start) is left out of the figure
        out = _sh("ip", "netns", "exec", ns["cl"], "iperf3", "-c", SERVER, "-t", str(seconds),
                  "-O", "1", "--connect-timeout", "3000", "-J")  # fmt: skip
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6
    finally:
        server.kill()
        server.wait()


def _side(mode: str, seconds: int, pairs: int = PAIRS) -> dict:
    """Interleaved short runs with 0 and with 10,000 clients; medians and the spread.

    The machine is shared: iperf3 alone varies by tens of per cent between runs. Each pair
    measures both sides back to back (alternating which goes first, so a drift in the
    machine's load hits both alike); the figure is the median of the pairs' ratios, and the
    spread is reported with it. The authorise/deauthorise timings run once, on the last load.
    """
    empty, loaded, full = [], [], {}
    with topology(mode[:2]) as ns:
        for i in range(pairs):
            for count in (0, CLIENTS) if i % 2 == 0 else (CLIENTS, 0):
                last = i == pairs - 1 and count == CLIENTS
                probed = _probe(ns, mode, count, ROUNDS if last else 0)
                full = probed if count else full
                (loaded if count else empty).append(_throughput(ns, seconds))
    ratios = sorted(b / a for a, b in zip(empty, loaded, strict=True) if a > 0)
    return {**full, "tput_0": statistics.median(empty), "tput_10k": statistics.median(loaded),
            "ratio": statistics.median(ratios), "ratio_min": ratios[0],
            "ratio_of_medians": statistics.median(loaded) / statistics.median(empty),
            "ratio_max": ratios[-1], "tput_all": (empty, loaded)}  # fmt: skip


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
    seconds = max(2, bench_seconds() // 5)
    figures: list[Figure] = []
    try:
        n = _side("nft", seconds)
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
        ]  # fmt: skip
        b = _side("iptables", seconds)
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
