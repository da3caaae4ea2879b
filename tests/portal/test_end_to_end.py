"""A gateway on the real protocol over HTTP: enrol, sync, grant, offline start, end by hand."""

import time
import uuid

import pytest
from sqlalchemy import select

from agents.common.client import Client, Rejected, enroll
from agents.common.contract import pseudonym, voucher_hash
from controller.audit.service import Actor
from controller.auth.roles import Role
from controller.extensions import db
from controller.fleet.enrollment import create_token
from controller.fleet.schemas import TokenCreate
from controller.portal.models import PortalSession
from controller.types import utcnow
from tests.conftest import bearer, make_office, make_token, make_user
from tests.portal.helpers import batch


def test_a_gateway_over_http(app, client, live_server):
    office = make_office(name="Urząd Gminy Spiczyn")
    _b, codes = batch(app, office, count=2, minutes=30)
    _row, token = create_token(Actor(None, "cli"), office, TokenCreate())
    db.session.commit()
    gateway = Client(enroll(live_server, token, {"hostname": "gw-spi", "kind": "gateway",
                                                 "mac": "02:00:00:00:bb:01"}))  # fmt: skip
    synced = gateway.post("/api/portal/v1/sync", {})
    # the gateway checks a typed code against its cache and pseudonymises the MAC itself
    assert voucher_hash(synced["voucher_key"], codes[0].lower()) in {
        v["hash"] for v in synced["vouchers"]
    }
    visitor = pseudonym(synced["pseudonym_salt"], "3c:22:fb:00:00:01")
    sid = str(uuid.uuid4())
    grant = gateway.post("/api/portal/v1/sessions", {
        "session_id": sid, "method": "voucher", "code": codes[0], "terms_accepted": False,
        "pseudonym": visitor, "language": "pl"})  # fmt: skip
    assert grant["seconds"] == 1800
    with pytest.raises(Rejected) as refused:
        gateway.post("/api/portal/v1/sessions", {
            "session_id": str(uuid.uuid4()), "method": "voucher", "code": "ZZZZZ-ZZZZZ",
            "pseudonym": visitor, "language": "pl"})  # fmt: skip
    assert refused.value.status == 403 and "kod" in refused.value.message
    # an offline start of the other voucher, and the heartbeat that reports it
    offline = str(uuid.uuid4())
    started = utcnow().isoformat()
    answer = gateway.post("/api/agent/v1/heartbeat", {"records": [
        {"seq": 1, "kind": "heartbeat", "body": {"sent_at": time.time(), "sessions_live": 2}},
        {"seq": 2, "kind": "session", "body": {
            "session_id": offline, "event": "start", "pseudonym": visitor, "method": "voucher",
            "voucher_hash": voucher_hash(synced["voucher_key"], codes[1]), "started_at": started,
            "offline": True}},
    ]})  # fmt: skip
    assert answer["ack"] == 2 and answer["commands"] == []
    # staff end the granted session; the gateway gets end_session with its next heartbeat
    row = db.session.scalar(select(PortalSession).where(PortalSession.session_id == sid))
    staff = bearer(make_token(make_user(Role.IT_ADMIN, offices=[office])))
    db.session.commit()
    assert client.post(f"/api/v1/portal/sessions/{row.id}/end", headers=staff).status_code == 200
    answer = gateway.post(
        "/api/agent/v1/heartbeat",
        {
            "records": [
                {
                    "seq": 3,
                    "kind": "heartbeat",
                    "body": {"sent_at": time.time(), "sessions_live": 2},
                }
            ]
        },
    )
    (command,) = answer["commands"]
    assert command["kind"] == "end_session" and command["args"] == {"session_id": sid}
    done = gateway.post(
        f"/api/portal/v1/sessions/{sid}/end",
        {"reason": "admin", "bytes_down": 4096, "bytes_up": 512, "ended_at": utcnow().isoformat()},
    )
    assert done == {"session_id": sid, "ended": True}
    gateway.post(
        "/api/agent/v1/heartbeat",
        {
            "records": [
                {"seq": 4, "kind": "result", "body": {"uid": command["uid"], "exit_code": 0}}
            ]
        },
    )
    db.session.rollback()
    rows = {s.session_id: s for s in db.session.scalars(select(PortalSession))}
    assert rows[sid].end_reason == "admin" and rows[sid].bytes_down == 4096
    assert rows[offline].offline and rows[offline].ended_at is None
