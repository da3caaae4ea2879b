"""Gateway test fixtures: a cached policy, an in-memory kernel, a gateway behind its socket."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from agents.common import contract
from agents.gateway import api, policy
from agents.gateway.gateway import Gateway
from agents.gateway.nft import Network

MAC = "02:00:00:00:00:01"
KEY, SALT = "11" * 32, "22" * 16
POLICY = {"methods": ["voucher", "click"], "session_seconds": 3600, "daily_seconds": 7200,
          "idle_timeout_seconds": 900, "session_bytes": 5000, "rate_down_kbit": 8000,
          "rate_up_kbit": 1000, "opening_hours": None, "timezone": "Europe/Warsaw",
          "terms": {"pl": "Regulamin gminy", "en": "The gmina's terms"}}  # fmt: skip


def cache(tmp_path, **policy_changes) -> policy.Cache:
    """A policy cache as the last sync left it: vouchers GOOD (valid) and OLD (expired)."""
    c = policy.Cache(tmp_path / "policy.json")
    until = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    c.update({"policy": {**POLICY, **policy_changes}, "policy_version": "1",
              "vouchers": [{"hash": contract.voucher_hash(KEY, "GOOD"), "seconds": 600,
                            "bytes": 100, "max_devices": 1, "valid_until": until},
                           {"hash": contract.voucher_hash(KEY, "OLD"), "seconds": 600,
                            "bytes": None, "max_devices": 1, "valid_until": past}],
              "vouchers_version": "1", "voucher_key": KEY, "pseudonym_salt": SALT})  # fmt: skip
    return c


class MemoryKernel:
    """A stand-in for nftables in unit tests (the netns tests use the real kernel)."""

    def __init__(self) -> None:
        self.clients: dict[str, object] = {}

    def load(self, net, clients=()) -> None:
        self.clients = {c.ipv4: c for c in clients}

    def authorise(self, client) -> None:
        self.clients[client.ipv4] = client

    def deauthorise(self, client) -> None:
        self.clients.pop(client.ipv4, None)

    def counters(self) -> dict:
        return {}


@pytest.fixture
def served(tmp_path):
    """A gateway (offline, cached policy, in-memory kernel) behind a real Unix socket."""
    cache(tmp_path)
    macs = {"10.0.0.2": MAC, "10.0.0.3": "02:00:00:00:00:03"}
    kernel = MemoryKernel()
    gateway = Gateway(tmp_path, Network("br0", "wan0", 8080), None, kernel=kernel,
                      find_mac=lambda _if, ip, arp=True: macs.get(ip),
                      find_ipv6=lambda _if: {})  # fmt: skip
    gateway.start()
    server = api.Server(tmp_path / "gw.sock", gateway)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield str(tmp_path / "gw.sock"), kernel, gateway
    server.shutdown()
    server.server_close()
