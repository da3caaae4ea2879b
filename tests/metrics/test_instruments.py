"""The web tier's counters, read back through /metrics after real requests.

The counters live in the process-wide registry, shared by every test of the process, so each
test compares figures before and after what it does.
"""

import pytest

from controller.extensions import db
from tests.conftest import PASSWORD, csrf_token, make_office, make_user
from tests.metrics.helpers import samples, total, value
from tests.portal.helpers import Gateway, pseudonym

pytestmark = pytest.mark.parametrize("app", [{"METRICS_ALLOW": "127.0.0.1"}], indirect=True)


def _scrape(client) -> dict:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    return samples(answer.get_data(as_text=True))


def _delta(before, after, name, **labels) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


def test_staff_requests_are_counted_and_timed_by_endpoint(client):
    before = _scrape(client)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/page/42").status_code == 404
    after = _scrape(client)
    requests = "telecentre_http_requests_total"
    assert _delta(before, after, requests, endpoint="healthz", method="GET", status="200") == 3
    assert _delta(before, after, requests, endpoint="unmatched", status="404") == 1
    count = "telecentre_http_request_duration_seconds_count"
    assert _delta(before, after, count, endpoint="healthz", method="GET") == 3
    assert all("/no/such" not in str(labels) for labels, _v in after[requests])


def test_sign_ins_are_counted_by_result(client):
    user = make_user("viewer")
    before = _scrape(client)
    token = csrf_token(client)
    form = {"email": user.email, "csrf_token": token}
    assert client.post("/login", data={**form, "password": "wrong"}).status_code == 422
    no_csrf = {"email": user.email, "password": PASSWORD}
    assert client.post("/login", data=no_csrf).status_code == 400
    assert client.post("/login", data={**form, "password": PASSWORD}).status_code == 302
    after = _scrape(client)
    for result in ("failure", "invalid", "success"):
        assert _delta(before, after, "telecentre_logins_total", result=result) == 1, result
    assert _delta(before, after, "telecentre_logins_total", result="rate_limited") == 0


def test_agent_calls_and_visitor_logins_are_counted(client):
    office = make_office()
    gateway = Gateway(client, office)
    before = _scrape(client)
    assert client.post("/api/agent/v1/heartbeat", json={"records": []}).status_code == 401
    assert gateway.start(pseudonym(1), method="click", terms=True).status_code == 200
    refused = gateway.start(pseudonym(2), method="voucher", code="NOPE-NOPE")
    assert refused.status_code == 403
    assert gateway.start(pseudonym(3), method="nonsense").status_code == 422  # no login at all
    pc = Gateway(client, office)
    pc.device.kind = "pc"
    db.session.commit()
    assert pc.start(pseudonym(4), method="click", terms=True).status_code == 403  # nor this
    after = _scrape(client)
    calls = "telecentre_agent_api_requests_total"
    assert _delta(before, after, calls, endpoint="agent.heartbeat", status="401") == 1
    assert _delta(before, after, calls, endpoint="portal_api.start_session", status="200") == 1
    assert _delta(before, after, calls, endpoint="portal_api.start_session", status="403") == 2
    assert _delta(before, after, calls, endpoint="portal_api.start_session", status="422") == 1
    assert _delta(before, after, "telecentre_agent_api_request_duration_seconds_count",
                  endpoint="portal_api.start_session") == 4  # fmt: skip
    logins = "telecentre_portal_logins_total"
    office_id = str(office.id)
    assert _delta(before, after, logins, office_id=office_id, result="granted") == 1
    assert _delta(before, after, logins, office_id=office_id, result="refused") == 1
    # Nothing about the visitor anywhere in the scrape: not the pseudonym, not the code typed.
    text = client.get("/metrics").get_data(as_text=True)
    assert pseudonym(1) not in text and pseudonym(2) not in text and "NOPE" not in text
    assert value(after, "telecentre_portal_sessions_active", office_id=office_id) == 1
