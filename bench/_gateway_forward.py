"""Forwarding throughput through the gateway: 0 versus 10,000 authorised clients, fairly.

Each nft arm runs the real daemon (`agents.gateway.main run`) in the gateway namespace on a
state dir holding the live sessions (none or 10,000 others, and the measured client's in
both): the table it loads and the periodic work it does meanwhile (counter polls, idle, cap
and expiry checks, IPv6 learning) are the product's own, and its CPU time during the
measured run is read from /proc/PID/stat. The iptables baseline has no daemon: its arms are
loaded by `bench._gateway_probe`.

The arms alternate (0, 10k, 10k, 0, 0, 10k, …) so a drift in the machine's load hits both
alike. BENCH_GATEWAY_PIN=1 pins iperf3's client and server to different CPUs; by default
the scheduler places them (on two cores that gave more throughput and less spread).
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench._figures import BenchError
from bench._gateway_probe import client
from bench._login import POLICY

TICKS = os.sysconf("SC_CLK_TCK")


def _sh(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode:
        raise BenchError(f"{' '.join(argv[:6])}…: {done.stderr.strip()[:300]}")
    return done.stdout


PIN = os.environ.get("BENCH_GATEWAY_PIN") == "1"  # iperf3 client on CPU 0, server on CPU 1


def _pin(cpu: str) -> list[str]:
    return ["taskset", "-c", cpu] if PIN else []


def throughput(ns: dict, server_ip: str, seconds: int) -> float:
    """Mbit/s client → server through the gateway (iperf3, one TCP stream)."""
    server = subprocess.Popen(["ip", "netns", "exec", ns["srv"], *_pin("1"),
                               "iperf3", "-s", "-1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(0.3)
        # -O 1: the first second (TCP slow start) is left out of the figure
        out = _sh("ip", "netns", "exec", ns["cl"], *_pin("0"), "iperf3", "-c",
                  server_ip, "-t", str(seconds), "-O", "1", "--connect-timeout", "3000",
                  "-J")  # fmt: skip
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6
    finally:
        server.kill()
        server.wait()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its waited-for children (`ip neigh`), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICKS


def state_dir(folder: Path, count: int, mac: str, ip: str) -> Path:
    """A gateway state dir with `count` live sessions (rate-limited, idle timeout) and ours."""
    from agents.gateway.sessions import Session, Store

    folder.mkdir(parents=True)
    (folder / "policy.json").write_text(json.dumps({"policy": POLICY,
                                                    "pseudonym_salt": "00" * 16}))  # fmt: skip
    now = time.time()
    sessions = [Session("measured", mac, ip, [], "click", None, "p0", now, now + 4 * 3600,
                        None, None, None, None, last_activity=now)]  # fmt: skip
    for i in range(count):
        c = client(i)
        sessions.append(Session(f"s{i}", c.mac, c.ipv4, [], "click", None, f"p{i}", now,
                                now + 4 * 3600, None, 3600, c.rate_down_kbit, c.rate_up_kbit,
                                last_activity=now))  # fmt: skip
    Store(folder / "sessions.db").save_many(sessions)
    return folder


def daemon_arm(ns: dict, folder: Path, server_ip: str, seconds: int) -> tuple[float, float]:
    """Start the daemon on a state dir, measure throughput; (Mbit/s, daemon CPU % of a core)."""
    env = {**os.environ, "TELECENTRE_GATEWAY_CONFIG": "/nonexistent",
           "TELECENTRE_GATEWAY_SOCKET": str(folder / "gw.sock")}  # fmt: skip
    log = open(folder / "gateway.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(["ip", "netns", "exec", ns["gw"], sys.executable, "-m",
                             "agents.gateway.main", "run", "--state-dir", str(folder),
                             "--lan-if", "lan0", "--wan-if", "wan0", "--portal-port", "8080"],
                            stdout=subprocess.PIPE, stderr=log, env=env)  # fmt: skip
    log.close()
    try:
        if "ready" not in proc.stdout.readline().decode():
            tail = (folder / "gateway.log").read_text()[-500:]
            raise BenchError(f"gateway did not start: {tail}")
        time.sleep(1.0)  # the table is in before "ready"; let the start's own work settle
        cpu0, wall0 = cpu_seconds(proc.pid), time.monotonic()
        mbit = throughput(ns, server_ip, seconds)
        cpu = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - wall0)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        proc.stdout.close()
    return mbit, 100 * cpu


def order(pairs: int) -> list[bool]:
    """ABBA: whether each run is the loaded arm; each pair holds one of each."""
    return [loaded for i in range(pairs) for loaded in ((False, True) if i % 2 == 0 else
                                                        (True, False))]  # fmt: skip


def summary(empty: list[float], loaded: list[float]) -> dict:
    """Medians of both arms, the median of the pairs' ratios and its spread."""
    ratios = sorted(b / a for a, b in zip(empty, loaded, strict=True) if a > 0)
    if not ratios:
        raise BenchError("no throughput measured")
    return {"tput_0": statistics.median(empty), "tput_10k": statistics.median(loaded),
            "ratio": statistics.median(ratios), "ratio_min": ratios[0], "ratio_max": ratios[-1],
            "ratio_of_medians": statistics.median(loaded) / statistics.median(empty),
            "tput_all": (empty, loaded)}  # fmt: skip
