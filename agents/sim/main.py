"""`telecentre-sim`: a simulated fleet of endpoint agents, for demos and load tests.

Every virtual device runs the real agent's protocol code (enrolment, spool, signed
heartbeats, commands through the same ledger, with harmless commands); only the facts it
reports are invented. Devices are ticked by a small thread pool, so thousands fit in one
process.
"""

import argparse
import configparser
import heapq
import json
import logging
import random
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from agents.common.client import ControllerError, Identity, enroll
from agents.common.spool import write_atomically
from agents.endpoint.main import VERSION, Agent

log = logging.getLogger("telecentre-sim")
# Commands change nothing on this machine: each "runs" /bin/true or echoes its message.
HARMLESS = {"commands": {k: "true" for k in ("lock", "unlock", "reboot", "shutdown",
                                               "restart_kiosk", "update_packages")}
            | {"message": "echo"}}  # fmt: skip


@dataclass(frozen=True)
class VirtualDevice:
    """What a simulated device tells the controller when it enrols."""

    token: str
    hostname: str
    mac: str
    kind: str = "pc"


def fake_facts(device: VirtualDevice, rng: random.Random):
    """A heartbeat collector with plausible, slowly changing numbers."""
    started = time.time() - rng.uniform(600, 86_400)
    inventory = {"hostname": device.hostname, "os": "Debian GNU/Linux 12 (bookworm)",
                 "kernel": "6.1.0-sim", "architecture": "x86_64", "cpu_model": "Simulated CPU",
                 "cpu_count": 4, "memory_bytes": 8 << 30, "packages": 1500,
                 "interfaces": [{"name": "eth0", "mac": device.mac}]}  # fmt: skip
    digest = f"sim-{device.mac}"

    def collect(with_inventory: bool) -> dict:
        beat = {
            "sent_at": time.time(),
            "uptime_s": time.time() - started,
            "load": [round(rng.uniform(0, 1.5), 2) for _ in range(3)],
            "cpu_percent": round(rng.uniform(1, 40), 1),
            "memory": {"total_bytes": 8 << 30, "available_bytes": rng.randint(2 << 30, 6 << 30)},
            "disks": [{"mount": "/", "total_bytes": 120 << 30, "used_bytes": 40 << 30}],
            "os": inventory["os"],
            "agent_version": f"{VERSION}-sim",
            "user": rng.choice([None, "gosc", "gosc"]) if device.kind == "pc" else None,
            "inventory_hash": digest,
        }
        if with_inventory:
            beat["inventory"] = inventory
        return beat

    return collect


def enroll_all(url: str, devices: list[VirtualDevice], state_root: Path) -> list[tuple]:
    """Enrol (or reuse the stored identity of) each virtual device."""
    enrolled = []
    for device in devices:
        state = state_root / device.mac.replace(":", "")
        path = state / "identity.json"
        if path.exists():
            data = json.loads(path.read_text())
            identity = Identity(data["controller_url"], data["controller_id"],
                                int(data["device_id"]), data["secret"])  # fmt: skip
        else:
            about = {"hostname": device.hostname, "mac": device.mac, "kind": device.kind,
                     "os": "Debian GNU/Linux 12 (bookworm)", "agent_version": VERSION}  # fmt: skip
            identity = enroll(url, device.token, about)
            state.mkdir(parents=True, exist_ok=True)
            write_atomically(path, json.dumps(identity._asdict()).encode())
        enrolled.append((device, identity, state))
    return enrolled


def run_fleet(
    enrolled: list[tuple],
    interval: float,
    stop: threading.Event,
    workers: int = 8,
    seed: int = 1,
) -> int:
    """Tick every device once per interval (spread over it) until stop; returns ticks."""
    config = configparser.ConfigParser(interpolation=None)
    config.read_dict(HARMLESS)
    rng = random.Random(seed)  # noqa: S311 - simulation, not crypto
    agents = [Agent(identity, state, interval, config, fake_facts(device, rng))
              for device, identity, state in enrolled]  # fmt: skip
    now = time.monotonic()
    due = [(now + rng.uniform(0, interval), n) for n in range(len(agents))]
    heapq.heapify(due)
    ticks = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while due and not stop.is_set():
            when, n = heapq.heappop(due)
            if stop.wait(max(0.0, when - time.monotonic())):
                break
            pool.submit(_tick, agents[n])
            ticks += 1
            heapq.heappush(due, (when + interval * rng.uniform(0.9, 1.1), n))
    return ticks


def _tick(agent: Agent) -> None:
    try:
        agent.tick()
    except (ControllerError, OSError) as exc:  # the agent logs and keeps its spool
        log.debug("tick failed: %s", exc)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = argparse.ArgumentParser(prog="telecentre-sim", description=__doc__.splitlines()[0])
    parser.add_argument("--controller", required=True, help="controller URL")
    parser.add_argument("--token", required=True, action="append",
                        help="office enrolment token (repeat for several offices)")  # fmt: skip
    parser.add_argument("--devices", type=int, default=5, help="virtual devices per token")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between heartbeats")
    parser.add_argument("--duration", type=float, default=0, help="stop after seconds (0: never)")
    parser.add_argument("--state-dir", default="telecentre-sim", help="identities and spools")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    devices = [
        VirtualDevice(token, f"sim-{t:02d}-{n:04d}", f"02:5e:{t:02x}:{n >> 16 & 255:02x}:"
                      f"{n >> 8 & 255:02x}:{n & 255:02x}", "infomat" if n == 0 else "pc")
        for t, token in enumerate(args.token) for n in range(args.devices)
    ]  # fmt: skip
    try:
        enrolled = enroll_all(args.controller, devices, Path(args.state_dir))
    except ControllerError as exc:
        log.error("enrolment failed: %s", exc)
        return 2
    log.info("%d virtual devices enrolled; heartbeat every %g s", len(enrolled), args.interval)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.duration:
        threading.Timer(args.duration, stop.set).start()
    ticks = run_fleet(enrolled, args.interval, stop, args.workers)
    log.info("stopped after %d heartbeats", ticks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
