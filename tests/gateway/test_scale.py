"""The gateway at thousands of sessions: indexed lookups, polls that write only what changed."""

import threading
import time

import pytest

from agents.gateway import main
from agents.gateway.gateway import Gateway
from agents.gateway.nft import Network
from agents.gateway.sessions import Session
from tests.gateway.conftest import MemoryKernel, cache

COUNT = 3000


def _address(i: int) -> tuple[str, str]:
    return f"10.1.{i >> 8}.{i & 255}", f"02:00:00:01:{i >> 8:02x}:{i & 255:02x}"


class CountingKernel(MemoryKernel):
    """The in-memory kernel with counters the test moves by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes: dict = {}

    def counters(self) -> dict:
        return dict(self.bytes)


def _crowded(tmp_path):
    cache(tmp_path, session_bytes=None, idle_timeout_seconds=None)
    macs = dict(_address(i) for i in range(COUNT))
    kernel = CountingKernel()
    gateway = Gateway(tmp_path, Network("br0", "wan0", 8080), None, kernel=kernel,
                      find_mac=lambda _if, ip, arp=True: macs.get(ip),
                      find_ipv6=lambda _if: {})  # fmt: skip
    now = time.time()
    gateway.store.save_many(
        [
            Session(
                f"s{i}", mac, ip, [], "click", None, "p", now, now + 3600, None, None, None, None
            )
            for i, (ip, mac) in enumerate(macs.items())
        ]  # fmt: skip
    )
    gateway.start()
    return gateway, kernel, macs


def test_status_and_login_find_the_client_through_an_index(tmp_path):
    gateway, _kernel, macs = _crowded(tmp_path)
    plan = gateway.store._db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM sessions WHERE ended_at IS NULL AND ip = ?", ("x",)
    ).fetchall()
    assert any("sessions_live_ip" in str(row) for row in plan)
    ip = _address(COUNT - 1)[0]
    assert gateway.status(ip)["session"]["session_id"] == f"s{COUNT - 1}"
    assert gateway.status("10.9.9.9")["session"] is None
    answer = gateway.authorise(ip, "click", None, True)  # its live session, not a new one
    assert answer["session"]["session_id"] == f"s{COUNT - 1}"
    assert gateway.store.count_live() == COUNT


def test_a_poll_writes_only_the_sessions_whose_counters_moved(tmp_path):
    gateway, kernel, macs = _crowded(tmp_path)
    db = gateway.store._db
    gateway.poll()
    before = db.total_changes
    gateway.poll()  # nobody moved a byte
    assert db.total_changes == before
    busy = list(macs.items())[:5]
    for ip, mac in busy:
        kernel.bytes[("clients", f"{mac} . {ip}")] = 700
        kernel.bytes[("down4", ip)] = 9000
    gateway.poll()
    assert db.total_changes - before == len(busy)
    s = gateway.store.live_for(ip=busy[0][0])[0]
    assert (s.bytes_up, s.bytes_down) == (700, 9000)
    quiet = gateway.store.live_for(ip=list(macs)[-1])[0]
    assert (quiet.bytes_up, quiet.bytes_down) == (0, 0)


def test_the_poll_interval_grows_so_the_poll_keeps_to_its_share_of_a_core():
    assert main.paced(5, 0.02, 0.02) == 5  # a cheap poll: the configured interval
    assert main.paced(5, 0.4, 0.02) == pytest.approx(20)  # 0.4 s of CPU: every 20 s
    assert main.paced(5, 0.4, 0) == 5  # pacing turned off
    # a round that took very long (a stalled machine) must not put off the cap checks for
    # an hour: the wait is bounded, and never below the configured interval
    assert main.paced(5, 60.0, 0.02) == main.POLL_LONGEST
    assert main.paced(120, 60.0, 0.02) == 120


def test_the_loop_waits_by_the_cpu_time_its_round_took():
    stop, starts, third = threading.Event(), [], threading.Event()

    def work():  # 40 ms of CPU a round: at a quarter of a core, 160 ms between rounds
        starts.append(time.monotonic())
        if len(starts) >= 3:
            third.set()
        begun = time.thread_time()
        while time.thread_time() - begun < 0.04:
            pass

    thread = main._every(stop, 0.01, work, "test", share=0.25)
    third.wait(30)  # rounds, not a fixed sleep: a loaded machine only makes them later
    stop.set()
    thread.join(5)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert len(gaps) >= 2 and min(gaps) >= 0.04 + 0.16  # at 0.01 s it would be ~0.05 s
