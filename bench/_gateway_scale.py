"""The gateway daemon's own work at many sessions (no kernel): status, poll, spool append.

Runs the real Gateway, Store and Spool in a temporary state dir with a stand-in for the
kernel (counters are handed in, nothing is loaded into nftables): what is measured is the
daemon's bookkeeping, which the netns figures do not separate from the kernel's.
"""

import statistics
import tempfile
import time
from pathlib import Path

from agents.common.spool import Spool
from agents.gateway.gateway import Gateway
from agents.gateway.nft import Network
from agents.gateway.sessions import Session


class _Kernel:
    """Stand-in for nftables (bench only): accepts every change, reports set counters."""

    def __init__(self) -> None:
        self.bytes: dict = {}

    def load(self, net, clients=()) -> None:
        pass

    def authorise(self, client) -> None:
        pass

    def deauthorise(self, client) -> None:
        pass

    def counters(self) -> dict:
        return dict(self.bytes)


def _address(i: int) -> tuple[str, str]:
    return f"10.{64 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}", (
        f"02:20:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}:01"
    )


def measure(count: int) -> dict:
    """Milliseconds: median status lookup, median poll (1 % of sessions moved), spool append."""
    with tempfile.TemporaryDirectory() as tmp:
        macs = dict(_address(i) for i in range(count))
        kernel = _Kernel()
        gateway = Gateway(Path(tmp), Network("br0", "wan0", 8080), None, kernel=kernel,
                          find_mac=lambda _if, ip, arp=True: macs.get(ip),
                          find_ipv6=lambda _if: {})  # fmt: skip
        now = time.time()
        gateway.store.save_many(
            [
                Session(
                    f"s{i}",
                    mac,
                    ip,
                    [],
                    "click",
                    None,
                    "p",
                    now,
                    now + 3600,
                    None,
                    None,
                    None,
                    None,
                )
                for i, (ip, mac) in enumerate(macs.items())
            ]  # fmt: skip
        )
        gateway.start()
        ips = list(macs)
        status = []
        for ip in ips[-200:]:
            started = time.perf_counter()
            gateway.status(ip)
            status.append(time.perf_counter() - started)
        polls = []
        for _round in range(5):
            for ip in ips[: max(1, count // 100)]:
                key = ("clients", f"{macs[ip]} . {ip}")
                kernel.bytes[key] = kernel.bytes.get(key, 0) + 1000
            started = time.perf_counter()
            gateway.poll()
            polls.append(time.perf_counter() - started)
        gateway.flush()
        folder = Path(tmp) / "long-spool"  # count records waiting, as after an outage
        folder.mkdir()
        for i in range(1, count + 1):
            (folder / f"{i:012d}.session.json").write_text(f'{{"i":{i}}}')
        (folder / "next_seq").write_text(str(count + 1))
        spool = Spool(folder, max_records=2 * count)
        appends = []
        for i in range(100):
            started = time.perf_counter()
            spool.append("session", {"i": i})
            appends.append(time.perf_counter() - started)
    return {
        "status_ms": 1000 * statistics.median(status),
        "poll_ms": 1000 * statistics.median(polls),
        "append_ms": 1000 * statistics.median(appends),
    }
