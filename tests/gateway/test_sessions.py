"""Session decisions, offline grants, hashing per the contract, and the socket protocol."""

import hashlib
import hmac
import json
import socket
from datetime import UTC, datetime

import pytest

from agents.common import contract
from agents.gateway import api, policy
from agents.gateway.gateway import Gateway
from agents.gateway.sessions import Session, end_reason
from tests.gateway.conftest import KEY, MAC, SALT, MemoryKernel, cache

NOW = 1_800_000_000.0


def session(**kw) -> Session:
    base = dict(session_id="s", mac=MAC, ip="10.0.0.2", ipv6=[], method="click",
                voucher_hash=None, pseudonym="p", started_at=NOW - 100, expires_at=NOW + 100,
                bytes_cap=1000, idle_timeout=60, rate_down_kbit=None, rate_up_kbit=None,
                bytes_down=10, bytes_up=10, last_activity=NOW - 10)  # fmt: skip
    return Session(**{**base, **kw})


@pytest.mark.parametrize(
    ("changes", "down", "up", "reason"),
    [
        ({}, 10, 10, None),
        ({"expires_at": NOW}, 10, 10, "expired"),
        ({}, 900, 100, "data_cap"),
        ({"bytes_cap": None}, 10**12, 0, None),
        ({"last_activity": NOW - 60}, 10, 10, "idle"),
        ({"last_activity": NOW - 60}, 11, 10, None),  # traffic since the last poll
        ({"last_activity": NOW - 600, "idle_timeout": None}, 10, 10, None),
    ],
)
def test_end_reason(changes, down, up, reason):
    assert end_reason(session(**changes), NOW, down, up) == reason


def test_hashes_follow_the_contract():
    expected = hmac.new(bytes.fromhex(KEY), b"ABCD1234", hashlib.sha256).hexdigest()
    assert contract.voucher_hash(KEY, "abcd-12 34") == expected
    alias = contract.pseudonym(SALT, "02:00:00:00:00:AB")
    assert (
        alias
        == hmac.new(bytes.fromhex(SALT), b"02:00:00:00:00:ab", hashlib.sha256).hexdigest()[:32]
    )


def test_offline_grant_takes_the_smallest_limit(tmp_path):
    now = datetime.now(UTC)
    grant, digest = policy.offline_grant(
        cache(tmp_path), "voucher", "good", True, 0, set(), MAC, now
    )
    assert (grant.seconds, grant.bytes, grant.rate_down_kbit) == (600, 100, 8000)
    assert digest == contract.voucher_hash(KEY, "GOOD")
    grant, _ = policy.offline_grant(cache(tmp_path), "voucher", "good", True, 7100, set(), MAC, now)
    assert grant.seconds == 100  # what is left of the day


@pytest.mark.parametrize(
    ("method", "code", "terms", "used", "devices", "refusal"),
    [
        ("voucher", "nope", True, 0, set(), "voucher_unknown"),
        ("voucher", "old", True, 0, set(), "voucher_expired"),
        ("voucher", "good", True, 0, {"02:00:00:00:00:99"}, "voucher_used_up"),
        ("voucher", "good", False, 0, set(), "terms_not_accepted"),
        ("voucher", "good", True, 7200, set(), "daily_quota_reached"),
        ("sms", None, True, 0, set(), "method_not_allowed"),
    ],
)
def test_offline_refusals(tmp_path, method, code, terms, used, devices, refusal):
    with pytest.raises(policy.Refusal) as caught:
        policy.offline_grant(cache(tmp_path), method, code, terms, used, devices, MAC,
                             datetime.now(UTC))  # fmt: skip
    assert caught.value.code == refusal


def test_closed_office_refuses(tmp_path):
    now = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # a Monday, 21:00 in Warsaw
    hours = [{"weekday": 0, "opens": "08:00", "closes": "16:00"}]
    with pytest.raises(policy.Refusal, match="outside_opening_hours"):
        policy.offline_grant(cache(tmp_path, opening_hours=hours), "voucher", "good", True, 0,
                             set(), MAC, now)  # fmt: skip
    grant, _ = policy.offline_grant(cache(tmp_path, opening_hours=hours), "voucher", "good",
                                    True, 0, set(), MAC, now.replace(hour=14))  # fmt: skip
    assert grant.seconds == 600


def test_socket_authorise_status_deauthorise(served):
    path, kernel, _gw = served
    assert api.call(path, {"op": "status", "ip": "10.0.0.2"})["session"] is None
    answer = api.call(path, {"op": "authorise", "ip": "10.0.0.2", "method": "voucher",
                             "code": "good", "terms": True, "language": "en"})  # fmt: skip
    assert answer["ok"] and answer["session"]["seconds_remaining"] == 600
    assert answer["session"]["offline"] is True
    assert kernel.clients["10.0.0.2"].mac == MAC
    status = api.call(path, {"op": "status", "ip": "10.0.0.2"})
    assert status["session"]["bytes_remaining"] == 100
    assert api.call(path, {"op": "status", "ip": "10.0.0.3"})["session"] is None
    assert api.call(path, {"op": "deauthorise", "ip": "10.0.0.2"}) == {"ok": True, "ended": True}
    assert "10.0.0.2" not in kernel.clients


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ({"op": "authorise", "ip": "10.0.0.9", "method": "voucher", "code": "good", "terms": True},
         "client_unknown"),
        ({"op": "authorise", "ip": "10.0.0.2", "method": "voucher", "code": "x" * 65,
          "terms": True}, "voucher_unknown"),
        ({"op": "authorise", "ip": "10.0.0.2", "method": "sms", "terms": True},
         "method_not_allowed"),
        ({"op": "authorise", "ip": "not-an-ip", "method": "click"}, "bad_request"),
        ({"op": "reboot", "ip": "10.0.0.2"}, "bad_request"),
        (["not", "an", "object"], "bad_request"),
    ],
)  # fmt: skip
def test_socket_refusals(served, request_, code):
    path, kernel, _gw = served
    assert api.call(path, request_)["error"]["code"] == code
    assert kernel.clients == {}


def test_socket_rejects_garbage_and_oversized_lines(served):
    path, _kernel, _gw = served
    for payload in (b"{nope\n", b"x" * (api.MAX_LINE + 10) + b"\n"):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
            s.sendall(payload)
            answer = json.loads(s.makefile().readline())
        assert answer["ok"] is False and answer["error"]["code"] in ("bad_request", "too_large")


def test_voucher_guessing_is_braked_per_client(served):
    path, kernel, _gw = served
    guess = {"op": "authorise", "ip": "10.0.0.2", "method": "voucher", "terms": True}
    codes = [api.call(path, {**guess, "code": f"WRONG{i}"})["error"]["code"] for i in range(6)]
    assert codes == ["voucher_unknown"] * 5 + ["too_many_attempts"]
    braked = api.call(path, {**guess, "code": "good"})
    assert braked["error"]["code"] == "too_many_attempts" and braked["error"]["retry_after"] > 0
    other = api.call(path, {**guess, "ip": "10.0.0.3", "code": "WRONG"})
    assert other["error"]["code"] == "voucher_unknown"  # another client is not braked
    assert kernel.clients == {}


def test_restart_restores_live_sessions_into_the_kernel(served, tmp_path):
    path, _kernel, gateway = served
    api.call(path, {"op": "authorise", "ip": "10.0.0.2", "method": "voucher", "code": "good",
                    "terms": True})  # fmt: skip
    gateway.flush()
    again = MemoryKernel()
    restarted = Gateway(tmp_path, gateway.net, None, kernel=again)
    assert restarted.start() == 1
    assert again.clients["10.0.0.2"].mac == MAC and 0 < again.clients["10.0.0.2"].seconds <= 600
    records = [r.body for r in restarted.spool.pending() if r.kind == "session"]
    assert records[0]["event"] == "start" and records[0]["offline"] is True


def test_end_session_command_ends_it_and_reports_the_result(served):
    from agents.gateway import link

    path, kernel, gateway = served
    answer = api.call(path, {"op": "authorise", "ip": "10.0.0.2", "method": "click",
                             "terms": True})  # fmt: skip
    session_id = answer["session"]["session_id"]
    link._commands(gateway, {"commands": [
        {"id": "c1", "kind": "end_session", "args": {"session_id": session_id}},
        {"id": "c2", "kind": "end_session", "args": {"session_id": session_id}},
        {"id": "c3", "kind": "reboot", "args": {}},
    ]})  # fmt: skip
    gateway.flush()
    assert kernel.clients == {}
    pending = gateway.spool.pending()
    results = {r.body["uid"]: r.body["exit_code"] for r in pending if r.kind == "result"}
    assert results == {"c1": 0, "c2": 1, "c3": 126}
    end = [r.body for r in pending if r.kind == "session" and r.body["event"] == "end"]
    assert end[0]["end_reason"] == "admin" and end[0]["session_id"] == session_id


class _Refusing:
    """A controller that answers every session start with a 4xx (not a network failure)."""

    def __init__(self, status: int, code: str) -> None:
        self.status, self.code = status, code

    def post(self, path, body):
        from agents.common.client import Rejected

        raise Rejected(self.status, "no", self.code)


@pytest.mark.parametrize(
    ("status", "code", "retry_after"),
    [(429, "too_many_attempts", 600), (409, "conflict", None), (403, "daily_quota_reached", None)],
)
def test_a_controllers_no_is_never_overruled_by_the_cache(served, status, code, retry_after):
    path, kernel, gateway = served
    gateway.client = _Refusing(status, code)  # the cache would grant "good" offline
    answer = api.call(path, {"op": "authorise", "ip": "10.0.0.2", "method": "voucher",
                             "code": "good", "terms": True})  # fmt: skip
    assert answer["ok"] is False and answer["error"]["code"] == code
    assert answer["error"].get("retry_after") == retry_after
    assert kernel.clients == {} and gateway.store.live() == []


class _Current:
    """A controller whose answer says the gateway's cached policy is current (policy null)."""

    def post(self, path, body):
        return {"policy": None, "vouchers": None, "policy_version": "1", "vouchers_version": "1"}


@pytest.mark.parametrize("client", [None, _Current()], ids=["controller-down", "policy-current"])
def test_a_restarted_gateway_loads_the_walled_garden_from_its_cache(tmp_path, client):
    from agents.gateway import link
    from agents.gateway.nft import Network

    cache(tmp_path, walled_garden={"hosts": [], "cidrs": ["192.0.2.0/24", "2001:db8::/32"]})
    gateway = Gateway(tmp_path, Network("br0", "wan0", 8080), None, kernel=MemoryKernel())
    gateway.client = client
    link.sync(gateway, reload=False)
    assert gateway.net.garden_v4 == ("192.0.2.0/24",)
    assert gateway.net.garden_v6 == ("2001:db8::/32",)


def test_offline_grant_caps_the_data_by_what_is_left_of_the_day(tmp_path):
    now = datetime.now(UTC)
    c = cache(tmp_path, daily_bytes=3000)
    grant, _ = policy.offline_grant(c, "click", None, True, 0, set(), MAC, now, 2000)
    assert grant.bytes == 1000  # under the session cap of 5000
    grant, _ = policy.offline_grant(c, "voucher", "good", True, 0, set(), MAC, now, 2950)
    assert grant.bytes == 50  # under the voucher's 100
    with pytest.raises(policy.Refusal, match="daily_quota_reached"):
        policy.offline_grant(c, "click", None, True, 0, set(), MAC, now, 3000)


def test_offline_sessions_count_the_days_bytes_across_sessions(served, tmp_path):
    _path, _kernel, gw = served
    cache(tmp_path, daily_bytes=3000, session_bytes=None)
    gw.cache = policy.Cache(tmp_path / "policy.json")
    first = gw.authorise("10.0.0.2", "click", None, True)["session"]
    assert first["bytes_remaining"] == 3000
    s = gw.store.get(first["session_id"])
    s.bytes_down, s.bytes_up = 2000, 500  # what the counters said before the visitor left
    gw.store.save(s)
    gw.deauthorise("10.0.0.2")
    second = gw.authorise("10.0.0.2", "click", None, True)["session"]
    assert second["bytes_remaining"] == 500
    s = gw.store.get(second["session_id"])
    s.bytes_down = 500
    gw.store.save(s)
    gw.deauthorise("10.0.0.2")
    with pytest.raises(policy.Refusal, match="daily_quota_reached"):
        gw.authorise("10.0.0.2", "click", None, True)


def test_the_store_forgets_sessions_ended_long_ago_and_keeps_the_rest(tmp_path):
    from agents.gateway.sessions import KEEP_ENDED, Store

    store = Store(tmp_path / "sessions.sqlite3")
    now = 1_800_000_000.0

    def session(sid: str, started: float, ended: float | None) -> Session:
        return Session(sid, MAC, "10.0.0.5", [], "click", None, "p" * 64, started,
                       started + 3600, None, None, None, None, ended_at=ended,
                       end_reason="logout" if ended else None)  # fmt: skip

    old = now - KEEP_ENDED - 3600
    store.save_many([session("old", old - 60, old), session("live", old - 60, None),
                     session("recent", now - 600, now - 60)])  # fmt: skip
    assert store.prune(now) == 1
    assert store.get("old") is None
    assert store.get("live") is not None and store.get("recent") is not None
    assert store.used_today("p" * 64, now - 3600, now) == (540, 0)
    assert store.prune(now) == 0
