"""The real gateway daemon and portal in network namespaces, with real nftables.

Each test builds its own network (unique namespace names) and removes it afterwards.
"""

import socket
import sqlite3
import time
import urllib.request

import pytest

from tests.gateway.netlab import (
    GW_LAN,
    IPS,
    MACS,
    NET_IP,
    NET_IP6,
    PORTAL_PORT,
    PY,
    Browser,
    Lab,
    in_ns,
    require_netns,
    udp_answer,
)

POLICY = {
    "methods": ["voucher", "click"],
    "session_seconds": 3600,
    "daily_seconds": None,
    "idle_timeout_seconds": None,
    "session_bytes": None,
    "daily_bytes": None,
    "rate_down_kbit": None,
    "rate_up_kbit": None,
    "devices_per_voucher": 1,
    "opening_hours": None,
    "timezone": "Europe/Warsaw",
    "walled_garden": {"hosts": [], "cidrs": []},
    "terms": {"pl": "Regulamin testowy", "en": "Test terms"},
    "wifi4eu": None,
}
VOUCHERS = {
    "GOOD-0001": {"seconds": 3600},
    "GOOD-0002": {"seconds": 3600},
    "SHORT-0001": {"seconds": 2},
    "CAP-0001": {"seconds": 3600, "bytes": 300_000},
}


def wait_for(predicate, timeout: float = 5.0, step: float = 0.1) -> bool:
    """Poll until predicate() is true; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


@pytest.fixture
def make_lab(tmp_path):
    """Builds the test network with a policy (overrides of POLICY) and starts the gateway."""
    require_netns()
    labs = []

    def build(**policy) -> Lab:
        built = Lab(tmp_path, {**POLICY, **policy}, VOUCHERS)
        labs.append(built)
        built.start_gateway()
        return built

    yield build
    for built in labs:
        built.close()


@pytest.fixture
def lab(make_lab):
    return make_lab()


def test_before_login_only_the_portal_and_the_gateway_answer(lab):
    c1 = Browser(lab, lab.ns["c1"])
    assert not c1.online()
    assert not udp_answer(lab.ns["c1"], NET_IP)  # DNS to an outside resolver
    assert not udp_answer(lab.ns["c1"], NET_IP6)
    assert not c1.online6()
    status, url, page = c1.get(f"http://{NET_IP}/some/page")
    assert url == f"http://{GW_LAN}:{PORTAL_PORT}/" and "csrf_token" in page  # the portal


def test_voucher_login_lets_one_client_out_and_not_the_other(lab):
    c1, c2 = Browser(lab, lab.ns["c1"]), Browser(lab, lab.ns["c2"])
    assert not c1.online6()  # also teaches the gateway c1's IPv6 address
    status, url, page = c1.login("good 0001")
    assert status == 200 and url.endswith("/status"), page
    assert c1.online()
    assert wait_for(c1.online6)  # IPv6 addresses join with the next poll
    assert udp_answer(lab.ns["c1"], NET_IP)
    assert not c2.online()
    assert not udp_answer(lab.ns["c2"], NET_IP)
    _status, url, _page = c2.get(f"http://{NET_IP}/")
    assert url.startswith(f"http://{GW_LAN}:{PORTAL_PORT}/")


def test_another_mac_on_an_authorised_address_stays_blocked(lab):
    c1 = Browser(lab, lab.ns["c1"])
    assert c1.login("GOOD-0001")[0] == 200
    assert c1.online()
    lab.ip("c1", "addr", "flush", "dev", "eth0")
    lab.ip("c2", "addr", "add", f"{IPS['c1']}/24", "dev", "eth0")
    lab.ip("c2", "route", "replace", "default", "via", GW_LAN, "src", IPS["c1"])
    intruder = Browser(lab, lab.ns["c2"])
    assert not intruder.online()


def test_session_ends_when_the_granted_time_runs_out(lab):
    c1 = Browser(lab, lab.ns["c1"])
    assert c1.login("SHORT-0001")[0] == 200
    assert c1.online()
    assert wait_for(lambda: not c1.online(0.5), timeout=6)
    assert wait_for(lambda: _ended(lab, "expired"))


def test_idle_timeout_ends_a_quiet_session(make_lab):
    lab = make_lab(idle_timeout_seconds=1)
    c1 = Browser(lab, lab.ns["c1"])
    assert c1.login("GOOD-0001")[0] == 200
    assert c1.online()
    time.sleep(1.8)  # no traffic: idle for longer than the timeout plus a poll
    assert wait_for(lambda: _ended(lab, "idle"))
    assert not c1.online()


def test_data_cap_ends_the_session_mid_way(lab):
    c1 = Browser(lab, lab.ns["c1"])
    assert c1.login("CAP-0001")[0] == 200
    _status, _url, body = c1.get(f"http://{NET_IP}:8000/big")
    assert len(body) == 1_000_000
    assert wait_for(lambda: _ended(lab, "data_cap"))
    assert not c1.online()


@pytest.mark.parametrize("rate", [None, 80_000])
def test_bytes_are_counted_once_each_way(make_lab, rate):
    """What the session is charged is what was moved (with and without a rate limit)."""
    lab = make_lab(rate_down_kbit=rate, rate_up_kbit=rate)
    c1 = Browser(lab, lab.ns["c1"])
    assert c1.login("GOOD-0001")[0] == 200
    lab.spawn("sink", "net", [PY, "-c", _SINK])
    assert len(c1.get(f"http://{NET_IP}:8000/big")[2]) == 1_000_000
    in_ns(lab.ns["c1"], _upload, 500_000)

    def counted():
        db = sqlite3.connect(lab.state / "sessions.db")
        try:
            return db.execute("SELECT bytes_down, bytes_up FROM sessions").fetchone()
        finally:
            db.close()

    assert wait_for(lambda: counted()[0] >= 1_000_000 and counted()[1] >= 500_000)
    time.sleep(0.7)  # another poll or two: nothing more arrives
    down, up = counted()
    assert 1_000_000 <= down < 1_150_000 and 500_000 <= up < 600_000, (down, up)


def test_live_sessions_survive_a_restart_of_the_daemon(lab):
    c1 = Browser(lab, lab.ns["c1"])
    assert c1.login("GOOD-0001")[0] == 200
    lab.stop("gateway")
    assert c1.online()  # the kernel keeps enforcing while the daemon is down
    lab.start_gateway()
    assert c1.online()
    status, url, page = c1.get(f"http://{GW_LAN}:{PORTAL_PORT}/status")
    assert status == 200 and url.endswith("/status"), page
    assert not Browser(lab, lab.ns["c2"]).online()


def test_cached_voucher_works_while_the_controller_is_down(lab):
    lab.stop("controller")
    c1 = Browser(lab, lab.ns["c1"])
    status, url, page = c1.login("GOOD-0002")
    assert status == 200 and url.endswith("/status"), page
    assert c1.online()
    assert not _starts(lab)
    lab.start_controller()
    assert wait_for(lambda: _starts(lab), timeout=8)
    start = _starts(lab)[0]
    assert start["offline"] is True and start["method"] == "voucher"
    assert len(start["pseudonym"]) == 32 and MACS["c1"] not in str(start)


def _session_records(lab: Lab) -> list[dict]:
    return [
        e["record"]["body"]
        for e in lab.records()
        if e.get("verb") == "record" and e["record"]["kind"] == "session"
    ]


def _starts(lab: Lab) -> list[dict]:
    return [b for b in _session_records(lab) if b["event"] == "start"]


def _ended(lab: Lab, reason: str) -> bool:
    return any(b["event"] == "end" and b["end_reason"] == reason for b in _session_records(lab))


def test_arp_sweep_finds_the_lan(lab):
    from agents.gateway import discovery

    found = in_ns(lab.ns["gw"], discovery.sweep, "br0", 1.0)
    assert {"mac": MACS["c1"], "ip": IPS["c1"]} in found
    assert {"mac": MACS["c2"], "ip": IPS["c2"]} in found


def test_download_rate_is_limited_per_client(make_lab):
    lab = make_lab(rate_down_kbit=4000)  # 500 kB/s, one second of burst
    c1 = Browser(lab, lab.ns["c1"])
    assert c1.login("GOOD-0001")[0] == 200
    c1.get(f"http://{NET_IP}:8000/big", timeout=10)  # spends the burst
    started = time.monotonic()
    _status, _url, body = c1.get(f"http://{NET_IP}:8000/big", timeout=10)
    took = time.monotonic() - started
    assert len(body) == 1_000_000 and took >= 1.2  # 1 MB at 500 kB/s: about 2 s, not ms


_SINK = """
import socket
s = socket.create_server(("", 8001))
print("ready", flush=True)
while True:
    conn = s.accept()[0]
    size, got = int(conn.recv(16).split()[0]), 0
    while got < size:
        got += len(conn.recv(65536) or b"") or size
    conn.sendall(str(got).encode())
    conn.close()
"""


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - the test's lab
        return answer.read().decode()


def _upload(size: int) -> float:
    """Seconds to send size bytes to the internet host until it confirms them all."""
    started = time.monotonic()
    with socket.create_connection((NET_IP, 8001), timeout=20) as conn:
        conn.sendall(f"{size:<15} ".encode())
        conn.sendall(b"u" * size)
        assert int(conn.recv(32)) >= size
    return time.monotonic() - started


def test_upload_rate_is_limited_per_client(make_lab):
    lab = make_lab(rate_up_kbit=4000)  # 500 kB/s up, one second of burst
    lab.spawn("sink", "net", [PY, "-c", _SINK])
    c1 = Browser(lab, lab.ns["c1"])
    assert c1.login("GOOD-0001")[0] == 200
    in_ns(lab.ns["c1"], _upload, 1_000_000)  # spends the burst
    took = in_ns(lab.ns["c1"], _upload, 2_000_000)
    assert 3.0 <= took < 15, took  # 2 MB at 500 kB/s: about 4 s, not a fraction of one
    # The limit is the client's own bucket: c2 starts with a full one.
    c2 = Browser(lab, lab.ns["c2"])
    assert c2.login("GOOD-0002")[0] == 200
    assert in_ns(lab.ns["c2"], _upload, 300_000) < 1.0


def test_heartbeats_run_on_their_own_clock_not_the_syncs(tmp_path):
    """Staff's end_session arrives with a heartbeat answer: a slow sync must not delay it."""
    require_netns()
    lab = Lab(tmp_path, POLICY, VOUCHERS)
    try:
        lab.start_gateway(sync_interval=3600, heartbeat_interval=0.3)

        def verbs(verb: str) -> int:
            return sum(e.get("verb") == verb for e in lab.records())

        assert wait_for(lambda: verbs("heartbeat") >= 3, timeout=5)
        assert verbs("sync") == 1  # the one at start; the next is an hour away
        # The daemon serves Prometheus metrics on its default port.
        metrics = in_ns(lab.ns["gw"], _fetch, f"http://{GW_LAN}:9469/metrics")
        assert "telecentre_gateway_controller_reachable 1" in metrics
        assert "telecentre_gateway_clients 0" in metrics
    finally:
        lab.close()


def test_a_login_form_outlives_a_restart_of_the_portal(lab):
    key = lab.tmp / "portal" / "secret_key"
    assert key.stat().st_mode & 0o777 == 0o600

    def restart() -> None:
        lab.stop("portal")
        lab.start_portal()

    c1 = Browser(lab, lab.ns["c1"])
    status, url, page = c1.login("GOOD-0001", between=restart)
    assert status == 200 and url.endswith("/status"), page
    assert c1.online()

    def new_key() -> None:  # the control: the token really depends on the kept key
        lab.stop("portal")
        key.unlink()
        lab.start_portal()

    c2 = Browser(lab, lab.ns["c2"])
    status, _url, _page = c2.login("GOOD-0002", between=new_key)
    assert status == 400 and not c2.online()
