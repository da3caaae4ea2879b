"""The portal API of gateways (docs/portal-api.md): sync, start, end, records."""

import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from agents.common import signing
from controller.devices.models import DeviceKind
from controller.extensions import db
from controller.portal import sessions
from controller.portal.models import PortalAttempt, PortalSession
from controller.types import utcnow
from tests.conftest import make_office
from tests.portal.helpers import Gateway, batch, pseudonym

START = "/api/portal/v1/sessions"


@pytest.fixture
def gateway(client):
    """A gateway of a fresh office."""
    return Gateway(client, make_office())


def test_sync_gives_policy_vouchers_and_keys_and_nothing_when_current(app, gateway):
    _b, codes = batch(app, gateway.office, count=2, minutes=30)
    answer = gateway.post("/api/portal/v1/sync", {"policy_version": None,
                                                  "vouchers_version": None})  # fmt: skip
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["office_id"] == gateway.office.id
    assert body["policy"]["methods"] == ["voucher", "click"]
    assert body["policy"]["timezone"] == "Europe/Warsaw"
    assert len(body["vouchers"]) == 2 and body["vouchers"][0]["seconds"] == 1800
    key = bytes.fromhex(body["voucher_key"])
    typed = codes[0].lower().replace("-", " ")  # as a visitor might type it
    norm = typed.upper().replace(" ", "")
    digest = hmac.new(key, norm.encode(), hashlib.sha256).hexdigest()
    assert digest in {v["hash"] for v in body["vouchers"]}
    assert len(body["pseudonym_salt"]) == 64
    again = gateway.post(
        "/api/portal/v1/sync",
        {"policy_version": body["policy_version"], "vouchers_version": body["vouchers_version"]},
    )
    assert again.json["policy"] is None and again.json["vouchers"] is None
    assert again.json["pseudonym_salt"] == body["pseudonym_salt"]
    only_vouchers = gateway.post(  # a voucher in use changes its list, not the policy
        "/api/portal/v1/sync", {"policy_version": body["policy_version"], "vouchers_version": "old"}
    )
    assert only_vouchers.json["policy"] is None and len(only_vouchers.json["vouchers"]) == 2


def test_a_voucher_grants_a_session_and_the_same_start_answers_the_same_grant(app, gateway):
    _b, codes = batch(app, gateway.office, minutes=30, megabytes=100)
    sid = str(uuid.uuid4())
    first = gateway.start(pseudonym(1), code=codes[0], session_id=sid)
    assert first.status_code == 200, first.json
    assert first.json["seconds"] == 1800 and first.json["bytes"] == 100_000_000
    assert first.json["rate_down_kbit"] == 10_000 and first.json["idle_timeout_seconds"] == 900
    second = gateway.start(pseudonym(1), code=codes[0], session_id=sid)
    assert second.json == first.json
    assert db.session.scalar(select(func.count()).select_from(PortalSession)) == 1


def test_click_through_needs_the_terms(gateway):
    refused = gateway.start(pseudonym(2), method="click", terms=False, language="pl")
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "terms_not_accepted"
    assert "regulamin" in refused.json["error"]["message"]
    assert gateway.start(pseudonym(2), method="click").status_code == 200


def _refusal(answer):
    assert answer.status_code in (403, 429), answer.json
    return answer.json["error"]["code"]


def test_every_voucher_refusal(app, client, gateway):
    _b, codes = batch(app, gateway.office, count=4, minutes=10)
    assert _refusal(gateway.start(pseudonym(3), code="ABCDE-FGHJK")) == "voucher_unknown"
    # single use: once its session ended, it is used up
    sid = gateway.start(pseudonym(3), code=codes[0]).json["session_id"]
    gateway.end(sid)
    assert _refusal(gateway.start(pseudonym(3), code=codes[0])) == "voucher_used_up"
    # one device per voucher by default
    assert gateway.start(pseudonym(4), code=codes[1]).status_code == 200
    assert _refusal(gateway.start(pseudonym(5), code=codes[1])) == "voucher_devices"
    # expired
    expired, late = batch(app, gateway.office, count=1)
    expired.valid_until = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert _refusal(gateway.start(pseudonym(6), code=late[0])) == "voucher_expired"
    # a voucher of another office is unknown here
    _o, foreign = batch(app, make_office(), count=1)
    assert _refusal(gateway.start(pseudonym(7), code=foreign[0])) == "voucher_unknown"


def test_policy_refusals(app, client, gateway):
    from controller.portal import policies
    from controller.portal.schemas import PolicyIn
    from tests.portal.helpers import CLI

    base = policies.values(policies.default())
    closed = {**base, "methods": ["voucher"], "opening_hours": []}
    policies.save(CLI, gateway.office, PolicyIn(**closed))
    assert _refusal(gateway.start(pseudonym(8), method="click")) == "method_not_allowed"
    _b, codes = batch(app, gateway.office, count=1)
    assert _refusal(gateway.start(pseudonym(8), code=codes[0])) == "outside_opening_hours"


def test_the_daily_quota_counts_every_office_of_the_county(app, client):
    first, second = Gateway(client, make_office()), Gateway(client, make_office())
    visitor = pseudonym(9)
    grant = first.start(visitor, method="click")
    assert grant.json["seconds"] == 3600
    row = db.session.scalar(select(PortalSession))
    row.started_at -= timedelta(minutes=100)  # used 60 of its 60 minutes, 100 minutes ago
    db.session.commit()
    other = second.start(visitor, method="click")
    assert other.status_code == 200 and other.json["seconds"] == 3600  # 120 - 60 left
    db.session.expire_all()
    row2 = db.session.scalar(select(PortalSession).where(PortalSession.office_id ==
                                                          second.office.id))  # fmt: skip
    row2.started_at -= timedelta(minutes=61)
    db.session.commit()
    assert _refusal(first.start(visitor, method="click")) == "daily_quota_reached"


def test_wrong_codes_are_limited_per_visitor(gateway):
    visitor = pseudonym(10)
    for _ in range(5):
        assert _refusal(gateway.start(visitor, code="XXXXX-XXXXX")) == "voucher_unknown"
    limited = gateway.start(visitor, code="XXXXX-XXXXX", language="pl")
    assert limited.status_code == 429 and limited.json["error"]["code"] == "too_many_attempts"
    assert db.session.scalar(select(func.count()).select_from(PortalAttempt)) == 5
    assert _refusal(gateway.start(pseudonym(11), code="XXXXX-XXXXX")) == "voucher_unknown"


@pytest.mark.parametrize(
    "body",
    [
        {"session_id": "x", "method": "click", "pseudonym": "0" * 32},
        {"session_id": str(uuid.uuid4()), "method": "sms", "pseudonym": "0" * 32},
        {"session_id": str(uuid.uuid4()), "method": "click", "pseudonym": "Z" * 32},
        {"session_id": str(uuid.uuid4()), "method": "voucher", "pseudonym": "0" * 32,
         "code": "A" * 5000},
        {"session_id": str(uuid.uuid4()), "method": "click", "pseudonym": "0" * 32,
         "admin": True},
    ],
)  # fmt: skip
def test_malformed_starts_are_422_and_grant_nothing(gateway, body):
    answer = gateway.post(START, body)
    assert answer.status_code == 422 and answer.json["error"]["code"] == "validation_error"
    assert db.session.scalar(select(func.count()).select_from(PortalSession)) == 0


def test_only_gateways_use_the_portal_api(client):
    pc = Gateway(client, make_office(), kind=DeviceKind.PC)
    answer = pc.start(pseudonym(12), method="click")
    assert answer.status_code == 403 and answer.json["error"]["code"] == "not_a_gateway"
    unsigned = client.post(START, json={})
    assert unsigned.status_code == 401


def test_ending_is_idempotent_and_keeps_the_counters(gateway):
    sid = gateway.start(pseudonym(13), method="click").json["session_id"]
    done = gateway.end(sid, bytes_down=500, bytes_up=50, reason="idle")
    assert done.status_code == 200 and done.json == {"session_id": sid, "ended": True}
    assert gateway.end(sid, bytes_down=1, reason="logout").status_code == 200
    row = db.session.scalar(select(PortalSession))
    assert (row.end_reason, row.bytes_down, row.bytes_up) == ("idle", 500, 50)
    assert gateway.end(str(uuid.uuid4())).status_code == 404
    assert gateway.end(sid, ended_at="2026-01-01T10:00:00").status_code == 422  # no zone
    assert gateway.end(sid, reason="tired").status_code == 422


def _record(sid, event, **kw):
    now = utcnow()
    return {"session_id": sid, "event": event, "pseudonym": pseudonym(14), "method": "voucher",
            "voucher_hash": None, "started_at": (now - timedelta(minutes=5)).isoformat(),
            "ended_at": None, "bytes_down": 0, "bytes_up": 0, "end_reason": None,
            "offline": False, **kw}  # fmt: skip


def test_offline_starts_updates_and_ends_arrive_as_records(app, gateway):
    _b, codes = batch(app, gateway.office, count=1)
    from agents.common.contract import voucher_hash as code_hash
    from controller.portal.vouchers import voucher_key

    digest = code_hash(voucher_key(app.config["SECRET_KEY"]), codes[0])
    sid = str(uuid.uuid4())
    answer = gateway.records(
        ("session", _record(sid, "start", offline=True, voucher_hash=digest)),
        ("session", _record(sid, "update", bytes_down=1000, bytes_up=10)),
        ("session", _record(sid, "update", bytes_down=900, bytes_up=20)),  # late copy
    )
    assert answer.status_code == 200 and answer.json["ack"] == 3, answer.json
    row = db.session.scalar(select(PortalSession))
    assert row.offline and row.voucher_id is not None and row.ended_at is None
    assert row.granted_seconds == 3600  # a lost end counts no more than the session length
    # the gateway cannot turn its offline session into a controller grant
    taken = gateway.start(pseudonym(14), method="click", session_id=sid)
    assert taken.status_code == 409
    assert (row.bytes_down, row.bytes_up) == (1000, 20)
    ended_at = utcnow().isoformat()
    gateway.records(("session", _record(sid, "end", ended_at=ended_at, bytes_down=2000,
                                         end_reason="expired")),
                    ("session", _record(sid, "end", end_reason="logout")))  # fmt: skip
    db.session.expire_all()
    assert row.end_reason == "expired" and row.bytes_down == 2000
    # the portal verb arriving after the spooled end changes nothing
    assert gateway.end(sid, reason="logout").json["ended"] is True
    db.session.expire_all()
    assert row.end_reason == "expired"


def test_an_update_for_an_unknown_session_creates_it(gateway):
    sid = str(uuid.uuid4())
    assert gateway.records(("session", _record(sid, "update", bytes_down=5))).json["ack"] == 1
    assert db.session.scalar(select(PortalSession.bytes_down)) == 5


def test_session_and_discovery_records_only_from_gateways(client):
    pc = Gateway(client, make_office(), kind=DeviceKind.PC)
    answer = pc.records(("session", _record(str(uuid.uuid4()), "start")))
    assert answer.status_code == 422
    assert pc.records(("discovery", {"at": utcnow().isoformat(), "neighbours": []})
                      ).status_code == 422  # fmt: skip


def test_discovery_records_list_unknown_macs(client, gateway):
    from controller.portal.monitor import unknown_neighbours
    from tests.conftest import make_user

    seen = [{"mac": "AA:BB:CC:00:00:01", "ip": "192.168.1.10"},
            {"mac": gateway.device.mac, "ip": "192.168.1.1"}]  # fmt: skip
    answer = gateway.records(("discovery", {"at": utcnow().isoformat(), "neighbours": seen}))
    assert answer.status_code == 200
    macs = [n.mac for n in unknown_neighbours(make_user("admin"))]
    assert macs == ["aa:bb:cc:00:00:01"]


def test_a_gateway_enrols_like_an_agent_and_syncs(client):
    from agents.common import signing
    from controller.audit.service import Actor
    from controller.fleet.enrollment import create_token
    from controller.fleet.schemas import TokenCreate

    office = make_office()
    _row, token = create_token(Actor(None, "cli"), office, TokenCreate())
    enrolled = client.post(
        "/api/agent/v1/enroll",
        json={"token": token, "hostname": "gw-cyc", "kind": "gateway", "mac": "02:00:00:00:aa:01"},
    )
    assert enrolled.status_code == 200, enrolled.json
    from controller.devices.models import Device

    device = db.session.get(Device, enrolled.json["device_id"])
    assert device.kind == DeviceKind.GATEWAY
    body = b"{}"
    headers = signing.sign_request(enrolled.json["secret"], device.id, "POST",
                                   "/api/portal/v1/sync", body)  # fmt: skip
    answer = client.post("/api/portal/v1/sync", data=body,
                         headers={**headers, "Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 200 and answer.json["office_id"] == office.id


def test_devices_per_voucher_come_from_the_policy_unless_the_batch_says(app, gateway):
    from controller.portal import policies
    from controller.portal.schemas import PolicyIn
    from tests.portal.helpers import CLI

    policies.save(
        CLI,
        gateway.office,
        PolicyIn(**{**policies.values(policies.default()), "devices_per_voucher": 2}),
    )
    shared, codes = batch(app, gateway.office, count=1)
    assert shared.max_devices == 2
    assert gateway.start(pseudonym(20), code=codes[0]).status_code == 200
    assert gateway.start(pseudonym(21), code=codes[0]).status_code == 200
    assert _refusal(gateway.start(pseudonym(22), code=codes[0])) == "voucher_devices"
    assert batch(app, gateway.office, count=1, max_devices=5)[0].max_devices == 5


def test_oversized_bodies_are_refused(gateway):
    body = {"session_id": str(uuid.uuid4()), "method": "click", "pseudonym": "0" * 32,
            "terms_accepted": True, "language": "pl", "code": None}  # fmt: skip
    answer = gateway.post(START, {**body, "padding": "x" * 600_000})
    assert answer.status_code == 413
    assert db.session.scalar(select(func.count()).select_from(PortalSession)) == 0


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", b"null", b'{"session_id": 1}', b'{"method": ["click"]}',
     b'{"pseudonym": "' + b"a" * 32 + b'", "method": "click", "session_id": null}',
     b'{"session_id": "' + b"0" * 36 + b'", "method": "voucher", "pseudonym": "'
     + b"a" * 32 + b'", "code": 12345}', "{\"code\": \"\u0000\"}".encode()],
)  # fmt: skip
def test_garbage_never_grants_and_never_fails(gateway, raw):
    from agents.common import signing

    for path in (START, "/api/portal/v1/sync", f"/api/portal/v1/sessions/{uuid.uuid4()}/end"):
        headers = signing.sign_request(gateway.secret, gateway.device.id, "POST", path, raw)
        answer = gateway.client.post(
            path, data=raw, headers={**headers, "Content-Type": "application/json"}
        )
        assert 400 <= answer.status_code < 500 or (path.endswith("sync") and raw == b"{}")
        assert set(answer.json) == {"error"}
    assert db.session.scalar(select(func.count()).select_from(PortalSession)) == 0


def test_two_identical_starts_at_the_same_moment_get_the_same_grant(
    app, gateway, live_server, monkeypatch
):
    """The gateway retries a start whose answer it lost; both may arrive together.

    Two real HTTP requests in server threads. Whichever runs second is shown the world as
    it was before the first committed (its "seen before?" check finds nothing), so its
    insert meets the unique session id: it must answer the same grant, not 409.
    """
    _b, codes = batch(app, gateway.office, minutes=30)
    db.session.commit()
    started, checked = sessions._started, set()

    def before_the_twin(session_id):
        first_check = threading.get_ident() not in checked
        checked.add(threading.get_ident())
        return None if first_check else started(session_id)

    monkeypatch.setattr(sessions, "_started", before_the_twin)
    body = json.dumps({"session_id": str(uuid.uuid4()), "method": "voucher", "code": codes[0],
                       "terms_accepted": True, "pseudonym": pseudonym(9),
                       "language": "en"}).encode()  # fmt: skip
    answers, device_id = [], gateway.device.id

    def start() -> None:
        headers = signing.sign_request(gateway.secret, device_id, "POST", START, body)
        headers["Content-Type"] = "application/json"
        request = urllib.request.Request(live_server + START, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310 - local
                answers.append((answer.status, json.loads(answer.read())))
        except urllib.error.HTTPError as exc:
            answers.append((exc.code, json.loads(exc.read())))

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _json in answers] == [200, 200], answers
    assert answers[0][1] == answers[1][1]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(PortalSession)) == 1
