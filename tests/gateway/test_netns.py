"""The real gateway daemon and portal in network namespaces, with real nftables.

Each test builds its own network (unique namespace names) and removes it afterwards.
"""

import time

import pytest

from tests.gateway.netlab import (
    GW_LAN,
    NET_IP,
    PORTAL_PORT,
    Browser,
    Lab,
    require_netns,
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
def lab(tmp_path):
    require_netns()
    built = Lab(tmp_path, POLICY, VOUCHERS)
    try:
        built.start_gateway()
        yield built
    finally:
        built.close()


def test_voucher_login_lets_one_client_out_and_not_the_other(lab):
    c1, c2 = Browser(lab, lab.ns["c1"]), Browser(lab, lab.ns["c2"])
    assert not c1.online()
    status, url, page = c1.get(f"http://{NET_IP}/some/page")
    assert url == f"http://{GW_LAN}:{PORTAL_PORT}/" and "csrf_token" in page  # the portal
    status, url, page = c1.login("good 0001")
    assert status == 200 and url.endswith("/status"), page
    assert c1.online()
    assert not c2.online()
    _status, url, _page = c2.get(f"http://{NET_IP}/")
    assert url.startswith(f"http://{GW_LAN}:{PORTAL_PORT}/")
