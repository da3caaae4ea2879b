"""Runs inside the bench's gateway namespace: kernel-side timings, printed as one JSON line.

`python -m bench._gateway_probe nft|iptables LAN WAN CLIENTS ROUNDS`
- nft: load the gateway's table with CLIENTS sessions (the restore path), then time ROUNDS
  authorisations and deauthorisations of one more client (agents.gateway.nft, in-process),
  and the CPU time of reading every element's counters (what each poll does first).
- iptables: the one-rule-per-client baseline: CLIENTS `-m mac --mac-source … -s … -j ACCEPT`
  rules loaded with iptables-restore, then ROUNDS `iptables -I` / `iptables -D` of one more.
Both leave the CLIENTS authorised (the bench's own client is added by `keep`).
"""

import json
import statistics
import subprocess
import sys
import time

from agents.gateway import nft

PORTAL_PORT = 8080


def client(i: int, seconds: int = 3600) -> nft.Client:
    """The i-th synthetic client: 10.128.0.0/9, locally administered MACs."""
    mac = f"02:10:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}:01"
    ip = f"10.{128 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"
    return nft.Client(mac, ip, [], seconds, 100_000, 20_000)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_nft(lan: str, wan: str, count: int, rounds: int, keep: list[nft.Client]) -> dict:
    """Restore time of count sessions, and authorise/deauthorise latencies with them in."""
    kernel = nft.Nft()
    net = nft.Network(lan, wan, PORTAL_PORT)
    clients = [client(i) for i in range(count)] + keep
    started = time.perf_counter()
    kernel.load(net, clients)
    restore = time.perf_counter() - started
    extra = client(count + 1)
    adds, dels = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        kernel.authorise(extra)
        t1 = time.perf_counter()
        kernel.deauthorise(extra)
        adds.append(t1 - t0)
        dels.append(time.perf_counter() - t1)
    reads = []
    for _ in range(5):  # the poll's kernel read: every map's element counters
        started = time.thread_time()
        kernel.counters()
        reads.append(time.thread_time() - started)
    return {"restore_s": restore, "add_p99_ms": 1000 * _percentile(adds, 99),
            "del_p99_ms": 1000 * _percentile(dels, 99),
            "counters_cpu_ms": 1000 * statistics.median(reads)}  # fmt: skip


def _rule(c: nft.Client, lan: str) -> str:
    return f"-i {lan} -m mac --mac-source {c.mac} -s {c.ipv4} -j ACCEPT"


def run_iptables(lan: str, wan: str, count: int, rounds: int, keep: list[nft.Client]) -> dict:
    """The same with one iptables rule per client (the client in `keep` last, the worst case)."""
    subprocess.run(["nft", "flush", "ruleset"], check=True)
    lines = ["*filter", ":FORWARD DROP [0:0]", ":clients - [0:0]",
             f"-A FORWARD -i {wan} -m state --state ESTABLISHED,RELATED -j ACCEPT",
             f"-A FORWARD -i {lan} -j clients"]  # fmt: skip
    lines += [f"-A clients {_rule(c, lan)}" for c in [client(i) for i in range(count)] + keep]
    lines += ["COMMIT", ""]
    started = time.perf_counter()
    subprocess.run(["iptables-restore"], input="\n".join(lines), text=True, check=True)
    restore = time.perf_counter() - started
    extra = client(count + 1)
    adds, dels = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        subprocess.run(["iptables", "-I", "clients", *_rule(extra, lan).split()], check=True)
        t1 = time.perf_counter()
        subprocess.run(["iptables", "-D", "clients", *_rule(extra, lan).split()], check=True)
        adds.append(t1 - t0)
        dels.append(time.perf_counter() - t1)
    return {"restore_s": restore, "add_p99_ms": 1000 * _percentile(adds, 99),
            "del_p99_ms": 1000 * _percentile(dels, 99)}  # fmt: skip


def main(argv: list[str]) -> int:
    """Entry point (inside the namespace)."""
    mode, lan, wan, count, rounds = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4])
    keep = [nft.Client(argv[5], argv[6], [], 3600, None, None)] if len(argv) > 6 else []
    runner = run_nft if mode == "nft" else run_iptables
    print(json.dumps(runner(lan, wan, count, rounds, keep)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
