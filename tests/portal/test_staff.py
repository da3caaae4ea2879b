"""What staff do: policies, voucher batches, sessions — through /api/v1, pages and the CLI."""

import re

import pytest
from sqlalchemy import func, select

from controller.audit.models import AuditLog
from controller.auth.roles import Role
from controller.extensions import db
from controller.fleet.models import Command
from controller.portal.models import PortalPolicy, PortalSession, Voucher, VoucherBatch
from tests.conftest import bearer, csrf_token, login, make_office, make_token, make_user
from tests.portal.helpers import Gateway, pseudonym

POLICY = {"methods": ["voucher"], "session_minutes": 30, "daily_minutes": 90,
          "idle_timeout_minutes": 5, "session_megabytes": 200, "daily_megabytes": None,
          "rate_down_kbit": 4000, "rate_up_kbit": None, "devices_per_voucher": 2,
          "opening_hours": [{"weekday": 0, "opens": "08:00", "closes": "15:30"}],
          "walled_garden_hosts": ["ePUAP.gov.pl"], "walled_garden_cidrs": ["10.1.2.3/24"],
          "terms_pl": "Regulamin", "terms_en": "Terms", "wifi4eu_network_identifier": "ab-12",
          "wifi4eu_snippet_url": "https://wifi4eu.example.eu/snippet.js"}  # fmt: skip


def _audit(action: str) -> int:
    return db.session.scalar(select(func.count()).where(AuditLog.action == action))


def test_policies_through_the_api_reach_the_gateway(client):
    office = make_office()
    admin = bearer(make_token(make_user(Role.ADMIN)))
    saved = client.put("/api/v1/portal/policies/default", json=POLICY, headers=admin)
    assert saved.status_code == 200, saved.json
    assert saved.json["walled_garden_hosts"] == ["epuap.gov.pl"]
    assert saved.json["walled_garden_cidrs"] == ["10.1.2.0/24"]
    gateway = Gateway(client, office)
    policy = gateway.post("/api/portal/v1/sync", {}).json["policy"]
    assert policy["session_seconds"] == 1800 and policy["session_bytes"] == 200_000_000
    assert policy["wifi4eu"]["network_identifier"] == "ab-12"
    own = client.put(f"/api/v1/offices/{office.id}/portal-policy",
                     json={**POLICY, "methods": ["click"]}, headers=admin)  # fmt: skip
    assert own.status_code == 200 and own.json["office_id"] == office.id
    assert gateway.post("/api/portal/v1/sync", {}).json["policy"]["methods"] == ["click"]
    listed = client.get("/api/v1/portal/policies", headers=admin).json
    assert [p["office_id"] for p in listed["overrides"]] == [office.id]
    gone = client.delete(f"/api/v1/offices/{office.id}/portal-policy", headers=admin)
    assert gone.status_code == 204
    shown = client.get(f"/api/v1/offices/{office.id}/portal-policy", headers=admin).json
    assert shown["office_id"] is None and shown["methods"] == ["voucher"]
    assert _audit("portal_policy.update") == 2 and _audit("portal_policy.delete") == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"methods": []}, "methods"),
        ({"methods": ["sms"]}, "methods"),
        ({"session_minutes": 0}, "session_minutes"),
        ({"opening_hours": [{"weekday": 7, "opens": "08:00", "closes": "09:00"}]},
         "opening_hours"),
        ({"opening_hours": [{"weekday": 1, "opens": "10:00", "closes": "09:00"}]},
         "opening_hours"),
        ({"walled_garden_hosts": ["not a host"]}, "walled_garden_hosts"),
        ({"walled_garden_cidrs": ["10.0.0.0/99"]}, "walled_garden_cidrs"),
        ({"wifi4eu_snippet_url": "javascript:alert(1)"}, "wifi4eu_snippet_url"),
        ({"terms_pl": "x" * 20_001}, "terms_pl"),
        ({"extra": 1}, "extra"),
    ],
)  # fmt: skip
def test_bad_policies_are_refused_and_nothing_is_written(client, change, field):
    admin = bearer(make_token(make_user(Role.ADMIN)))
    answer = client.put("/api/v1/portal/policies/default", json={**POLICY, **change},
                        headers=admin)  # fmt: skip
    assert answer.status_code == 422 and field in answer.json["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(PortalPolicy)) == 0


def test_only_county_wide_staff_change_the_county_default(client):
    office = make_office()
    scoped = bearer(make_token(make_user(Role.IT_ADMIN, offices=[office])))
    answer = client.put("/api/v1/portal/policies/default", json=POLICY, headers=scoped)
    assert answer.status_code == 403
    own = client.put(f"/api/v1/offices/{office.id}/portal-policy", json=POLICY, headers=scoped)
    assert own.status_code == 200


def test_voucher_batches_through_the_api(client):
    office = make_office()
    admin = bearer(make_token(make_user(Role.ADMIN)))
    made = client.post("/api/v1/voucher-batches", headers=admin, json={
        "office_id": office.id, "count": 3, "minutes": 45, "megabytes": 10})  # fmt: skip
    assert made.status_code == 201, made.json
    codes = made.json["codes"]
    assert len(codes) == 3 and all(re.fullmatch(r"[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}", c)
                                   for c in codes)  # fmt: skip
    stored = " ".join(db.session.scalars(select(Voucher.code_hash)))
    assert not any(c.replace("-", "") in stored for c in codes)  # only hashes are kept
    gateway = Gateway(client, office)
    sid = gateway.start(pseudonym(1), code=codes[0]).json["session_id"]
    gateway.end(sid, bytes_down=1_000_000, bytes_up=0)
    detail = client.get(f"/api/v1/voucher-batches/{made.json['id']}", headers=admin).json
    used = [v for v in detail["vouchers"] if v["sessions"]]
    assert len(used) == 1 and used[0]["state"] == "used_up" and used[0]["devices"] == 1
    listed = client.get("/api/v1/voucher-batches", headers=admin).json
    assert listed["total"] == 1 and "codes" not in listed["items"][0]
    revoked = client.post(f"/api/v1/voucher-batches/{made.json['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert gateway.start(pseudonym(2), code=codes[1]).json["error"]["code"] == "voucher_expired"
    again = client.post(f"/api/v1/voucher-batches/{made.json['id']}/revoke", headers=admin)
    assert again.status_code == 409
    assert _audit("voucher_batch.create") == 1 and _audit("voucher_batch.revoke") == 1


def test_ending_a_session_by_hand_queues_end_session_and_is_audited(client):
    office = make_office()
    gateway = Gateway(client, office)
    sid = gateway.start(pseudonym(3), method="click").json["session_id"]
    row = db.session.scalar(select(PortalSession))
    it_admin = bearer(make_token(make_user(Role.IT_ADMIN, offices=[office])))
    live = client.get(f"/api/v1/portal/sessions?live=true&office_id={office.id}",
                      headers=it_admin).json  # fmt: skip
    assert [s["session_id"] for s in live["items"]] == [sid]
    ended = client.post(f"/api/v1/portal/sessions/{row.id}/end", headers=it_admin)
    assert ended.status_code == 200 and ended.json["end_requested_at"]
    command = db.session.scalar(select(Command))
    assert command.kind == "end_session" and command.args == {"session_id": sid}
    assert _audit("portal_session.end") == 1
    beat = gateway.records(("heartbeat", {"sent_at": 1.0, "sessions_live": 1}))
    handed = beat.json["commands"]
    assert handed[0]["kind"] == "end_session" and handed[0]["args"]["session_id"] == sid
    gateway.records(("session", {"session_id": sid, "event": "end", "pseudonym": pseudonym(3),
                                 "method": "click", "started_at": row.started_at.isoformat(),
                                 "ended_at": None, "end_reason": "admin"}))  # fmt: skip
    db.session.expire_all()
    assert row.end_reason == "admin" and row.ended_at is not None
    assert client.post(f"/api/v1/portal/sessions/{row.id}/end",
                       headers=it_admin).status_code == 409  # fmt: skip


def test_end_session_cannot_be_queued_by_hand(client):
    office = make_office()
    gateway = Gateway(client, office)
    admin = bearer(make_token(make_user(Role.ADMIN)))
    answer = client.post(f"/api/v1/devices/{gateway.device.id}/commands", headers=admin,
                         json={"kind": "end_session"})  # fmt: skip
    assert answer.status_code == 422


def test_a_gmina_it_admin_cannot_see_or_end_another_gminas_sessions(client):
    own, other = make_office(), make_office()
    Gateway(client, other).start(pseudonym(4), method="click")
    row = db.session.scalar(select(PortalSession))
    user = make_user(Role.IT_ADMIN, offices=[own])
    headers = bearer(make_token(user))
    assert client.get("/api/v1/portal/sessions", headers=headers).json["total"] == 0
    assert client.post(f"/api/v1/portal/sessions/{row.id}/end", headers=headers).status_code == 404
    login(client, user)
    page = client.post(f"/portal/sessions/{row.id}/end",
                       data={"csrf_token": csrf_token(client, "/portal/")})  # fmt: skip
    assert page.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Command)) == 0


def test_voucher_create_cli_prints_codes(runner, app):
    office = make_office(name="Urząd Gminy Ludwin")
    result = runner.invoke(args=["voucher", "create", "--office", "urząd gminy ludwin",
                                 "--count", "3", "--minutes", "90", "--megabytes", "500",
                                 "--valid-days", "7", "--multi-use"])  # fmt: skip
    assert result.exit_code == 0, result.output
    codes = result.output.split()
    assert len(codes) == 3 and all(len(c) == 11 and c[5] == "-" for c in codes)
    made = db.session.scalar(select(VoucherBatch))
    assert (made.office_id, made.seconds, made.bytes, made.multi_use) == (
        office.id, 5400, 500_000_000, True)  # fmt: skip
    bad = runner.invoke(args=["voucher", "create", "--office", str(office.id), "--count", "0"])
    assert bad.exit_code == 2 and "count" in bad.output
    none = runner.invoke(args=["voucher", "create", "--office", "Nowhere", "--count", "1"])
    assert none.exit_code == 2
    assert db.session.scalar(select(func.count()).select_from(VoucherBatch)) == 1


# --- pages ---------------------------------------------------------------------------------


def test_policy_form_saves_and_shows_errors(client):
    office = make_office()
    login(client, make_user(Role.ADMIN))
    token = csrf_token(client, "/portal/policies/default")
    form = {"csrf_token": token, "methods": ["voucher", "click"], "session_minutes": "45",
            "daily_minutes": "90", "idle_timeout_minutes": "10", "session_megabytes": "",
            "daily_megabytes": "1000", "rate_down_kbit": "", "rate_up_kbit": "",
            "devices_per_voucher": "1", "opening_hours": "0-4 08:00-16:00\n5 09:00-13:00",
            "walled_garden_hosts": "epuap.gov.pl\ngov.pl", "walled_garden_cidrs": "",
            "terms_pl": "Regulamin", "terms_en": "Terms", "wifi4eu_network_identifier": "",
            "wifi4eu_snippet_url": ""}  # fmt: skip
    saved = client.post("/portal/policies/default", data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    row = db.session.scalar(select(PortalPolicy))
    assert row.session_seconds == 2700 and row.daily_bytes == 1_000_000_000
    assert len(row.opening_hours) == 6 and row.rate_down_kbit is None
    bad = client.post(f"/portal/policies/{office.id}", data={**form,
                      "opening_hours": "Monday all day", "session_minutes": "x"})  # fmt: skip
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="e-opening_hours"' in html and "e-session_minutes" in html
    no_csrf = client.post("/portal/policies/default", data={**form, "csrf_token": "forged"})
    assert no_csrf.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(PortalPolicy)) == 1
    page = client.get("/portal/policies").get_data(as_text=True)
    assert "45 min" in page or "0 h 45 min" in page


def test_voucher_form_shows_the_sheet_once_and_the_pdf(client):
    office = make_office(name="Urząd Gminy Milejów")
    login(client, make_user(Role.IT_ADMIN, offices=[office]))
    token = csrf_token(client, "/portal/vouchers/")
    made = client.post("/portal/vouchers/", data={"csrf_token": token, "office_id": office.id,
                       "count": "3", "minutes": "60", "megabytes": "", "valid_days": "14",
                       "max_devices": "1", "note": "Dzień otwarty"})  # fmt: skip
    html = made.get_data(as_text=True)
    assert made.status_code == 201, html[:1000]
    codes = re.findall(r'name="code" value="([^"]+)"', html)
    assert len(codes) == 3 and all(f"<code>{c}</code>" in html for c in codes)
    listing = client.get("/portal/vouchers/").get_data(as_text=True)
    assert "Dzień otwarty" in listing and codes[0] not in listing
    batch_id = db.session.scalar(select(VoucherBatch.id))
    assert codes[0] not in client.get(f"/portal/vouchers/{batch_id}").get_data(as_text=True)
    pdf = client.post(f"/portal/vouchers/{batch_id}/sheet.pdf",
                      data={"csrf_token": token, "code": codes})  # fmt: skip
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    forged = client.post(f"/portal/vouchers/{batch_id}/sheet.pdf",
                         data={"csrf_token": token, "code": ["ABCDE-FGHJK"]})  # fmt: skip
    assert forged.status_code == 422
    bad = client.post("/portal/vouchers/", data={"csrf_token": token, "office_id": office.id,
                      "count": "5000", "minutes": "60"})  # fmt: skip
    assert bad.status_code == 422 and 'id="e-count"' in bad.get_data(as_text=True)
    foreign = make_office()
    other = client.post("/portal/vouchers/", data={"csrf_token": token, "office_id": foreign.id,
                        "count": "1", "minutes": "60"})  # fmt: skip
    assert other.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(VoucherBatch)) == 1


def test_session_pages_list_end_and_filter(client, app):
    office = make_office(name="Urząd Gminy Puchaczów")
    gateway = Gateway(client, office)
    gateway.start(pseudonym(0xABC), method="click")
    ended = gateway.start(pseudonym(0xDEF), method="click").json["session_id"]
    gateway.end(ended, bytes_down=2048)
    login(client, make_user(Role.IT_ADMIN))
    live = client.get("/portal/").get_data(as_text=True)
    assert (
        "Puchaczów" in live and pseudonym(0xABC)[:12] in live and pseudonym(0xDEF)[:12] not in live
    )
    history = client.get(f"/portal/history?pseudonym={pseudonym(0xDEF)[:20]}")
    assert history.status_code == 200 and pseudonym(0xDEF)[:12] in history.get_data(as_text=True)
    assert client.get("/portal/history?since=yesterday").status_code == 400
    row = db.session.scalar(select(PortalSession).where(PortalSession.ended_at.is_(None)))
    done = client.post(f"/portal/sessions/{row.id}/end",
                       data={"csrf_token": csrf_token(client, "/portal/")})  # fmt: skip
    assert done.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Command)) == 1
    assert "Zlecono zakończenie" in client.get("/portal/").get_data(as_text=True)


def test_neighbours_page_adopts_a_mac(client):
    from controller.devices.models import Device
    from controller.types import utcnow

    office = make_office()
    gateway = Gateway(client, office)
    gateway.records(
        (
            "discovery",
            {"at": utcnow().isoformat(), "neighbours": [{"mac": "02:aa:00:00:00:09", "ip": None}]},
        )
    )
    login(client, make_user(Role.IT_ADMIN))
    page = client.get("/portal/neighbours").get_data(as_text=True)
    assert "02:aa:00:00:00:09" in page
    token = csrf_token(client, "/portal/neighbours")
    bad = client.post("/portal/neighbours/adopt", data={"csrf_token": token,
                      "office_id": office.id, "mac": "02:aa:00:00:00:09", "name": ""})  # fmt: skip
    assert bad.status_code == 422
    made = client.post("/portal/neighbours/adopt", data={"csrf_token": token,
                       "office_id": office.id, "mac": "02:aa:00:00:00:09", "name": "AP-02",
                       "kind": "hotspot"})  # fmt: skip
    assert made.status_code == 302
    device = db.session.scalar(select(Device).where(Device.name == "AP-02"))
    assert device.mac == "02:aa:00:00:00:09" and _audit("device.adopt") == 1
    assert "02:aa:00:00:00:09" not in client.get("/portal/neighbours").get_data(as_text=True)


def test_a_viewer_sees_but_cannot_change(client):
    office = make_office()
    login(client, make_user(Role.VIEWER, offices=[office]))
    for page in ("/portal/", "/portal/history", "/portal/vouchers/", "/portal/policies",
                 "/portal/neighbours"):  # fmt: skip
        html = client.get(page)
        assert html.status_code == 200, page
        assert "End session" not in html.get_data(as_text=True)


def test_demo_data_holds_a_county_policy_and_voucher_batches(runner):
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    default = db.session.scalar(select(PortalPolicy).where(PortalPolicy.office_id.is_(None)))
    assert default is not None and len(default.opening_hours) == 5
    assert db.session.scalar(select(func.count()).select_from(VoucherBatch)) == 2
