"""Schedules through the API and the pages: validation, scope, pause/resume/run now, audit."""

import pytest
from sqlalchemy import select

from controller.audit.models import AuditLog
from controller.auth.roles import Role
from controller.extensions import db
from controller.scheduler.models import Schedule
from tests.conftest import bearer, login, make_device, make_office, make_token, make_user, post_form

MAINTENANCE = {"name": "Nightly updates", "kind": "maintenance", "cron": "0 2 * * *",
               "window_minutes": 120}  # fmt: skip


def _api(client, role=Role.ADMIN, offices=()):
    return bearer(make_token(make_user(role, offices=offices)))


def test_create_show_pause_resume_run_delete_with_audit(client):
    office = make_office(timezone="Europe/Warsaw")
    headers = _api(client)
    created = client.post(
        "/api/v1/schedules",
        headers=headers,
        json={**MAINTENANCE, "office_id": office.id, "device_kind": "pc"},
    )
    assert created.status_code == 201, created.json
    body = created.json
    assert body["args"] == {"command": "update_packages", "device_kind": "pc"}
    assert body["timezone"] == "Europe/Warsaw" and body["runs"] == [] and body["last_run"] is None
    # The next 02:00 in Warsaw, told in UTC (01:00 in winter, 00:00 in summer).
    assert body["next_run_at"].endswith(("T01:00:00Z", "T00:00:00Z"))
    sid = body["id"]
    listed = client.get("/api/v1/schedules", headers=headers).json["items"]
    assert sid in [s["id"] for s in listed]

    paused = client.post(f"/api/v1/schedules/{sid}/pause", headers=headers).json
    assert paused["paused"] is True and paused["next_run_at"] is None
    assert client.post(f"/api/v1/schedules/{sid}/resume", headers=headers).json["paused"] is False
    ran = client.post(f"/api/v1/schedules/{sid}/run", headers=headers)
    assert ran.status_code == 202 and ran.json["run_requested_at"]
    again = client.post(f"/api/v1/schedules/{sid}/run", headers=headers)
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"
    assert client.delete(f"/api/v1/schedules/{sid}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/schedules/{sid}", headers=headers).status_code == 404
    actions = db.session.scalars(
        select(AuditLog.action).where(AuditLog.object_type == "schedule", AuditLog.object_id == sid)
        .order_by(AuditLog.id)
    ).all()  # fmt: skip
    assert actions == ["schedule.create", "schedule.pause", "schedule.resume", "schedule.run",
                       "schedule.delete"]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({**MAINTENANCE, "cron": "0 2 * *"}, "cron", "5 fields"),
        ({**MAINTENANCE, "cron": "61 2 * * *"}, "cron", "crontab"),
        ({**MAINTENANCE, "cron": None, "interval_s": 0}, "interval_s", "at least 1"),
        ({**MAINTENANCE, "cron": None}, "cron", "crontab or an interval"),
        ({**MAINTENANCE, "interval_s": 60}, "cron", "crontab or an interval"),
        ({**MAINTENANCE, "kind": "backup"}, "kind", "one of"),
        ({**MAINTENANCE, "window_minutes": None}, "window_minutes", "required"),
        ({**MAINTENANCE, "command": "run_script"}, "script", "needs"),
        ({**MAINTENANCE, "command": "screenshot"}, "command", "cannot be scheduled"),
        ({**MAINTENANCE, "canary_count": 2}, "canary_count", "not used"),
        ({"name": "Sweep", "kind": "sweep", "interval_s": 60, "command": "reboot"}, "command",
         "not used"),
        ({**MAINTENANCE, "kind": "rollout", "window_minutes": None, "canary_count": 1,
          "canary_ids": [1]}, "canary_ids", "not both"),
        ({**MAINTENANCE, "surprise": 1}, "surprise", "Unknown"),
    ],
)  # fmt: skip
def test_bad_schedules_are_refused_with_a_clear_message(client, body, field, words):
    headers = _api(client)
    before = db.session.scalar(select(db.func.count()).select_from(Schedule))
    response = client.post("/api/v1/schedules", headers={**headers, "Accept-Language": "en"},
                           json=body)  # fmt: skip
    assert response.status_code == 422, response.json
    assert words.lower() in response.json["error"]["fields"][field].lower(), response.json
    assert db.session.scalar(select(db.func.count()).select_from(Schedule)) == before


def test_gmina_it_admin_sees_and_makes_schedules_of_their_offices_only(client):
    own, other = make_office(), make_office()
    admin = _api(client)
    county = client.post(
        "/api/v1/schedules",
        headers=admin,
        json={"name": "Sweep", "kind": "sweep", "interval_s": 60},
    ).json
    theirs = client.post(
        "/api/v1/schedules", headers=admin, json={**MAINTENANCE, "office_id": other.id}
    ).json
    scoped = _api(client, Role.IT_ADMIN, offices=[own])
    mine = client.post(
        "/api/v1/schedules", headers=scoped, json={**MAINTENANCE, "office_id": own.id}
    )
    assert mine.status_code == 201
    ids = [s["id"] for s in client.get("/api/v1/schedules", headers=scoped).json["items"]]
    assert ids == [mine.json["id"]]
    for sid in (county["id"], theirs["id"]):
        assert client.get(f"/api/v1/schedules/{sid}", headers=scoped).status_code == 404
        assert client.post(f"/api/v1/schedules/{sid}/run", headers=scoped).status_code == 404
    county_wide = client.post("/api/v1/schedules", headers=scoped, json=MAINTENANCE)
    elsewhere = client.post(
        "/api/v1/schedules", headers=scoped, json={**MAINTENANCE, "office_id": other.id}
    )
    assert county_wide.status_code == 422 and "office_id" in county_wide.json["error"]["fields"]
    assert elsewhere.status_code == 422 and "office_id" in elsewhere.json["error"]["fields"]
    foreign = make_device(other)
    canary = client.post("/api/v1/schedules", headers=scoped, json={
        **MAINTENANCE, "kind": "rollout", "window_minutes": None, "office_id": own.id,
        "canary_ids": [foreign.id]})  # fmt: skip
    assert canary.status_code == 422 and "canary_ids" in canary.json["error"]["fields"]
    viewer = _api(client, Role.VIEWER, offices=[own])
    assert client.post("/api/v1/schedules", headers=viewer, json=MAINTENANCE).status_code == 403


def test_sweep_and_purge_are_county_wide(client):
    office = make_office()
    response = client.post("/api/v1/schedules", headers=_api(client),
                           json={"name": "S", "kind": "purge", "cron": "0 3 * * *",
                                 "office_id": office.id})  # fmt: skip
    assert response.status_code == 422 and "office_id" in response.json["error"]["fields"]


def test_pages_create_show_and_act(client):
    office = make_office(name="Urząd Gminy Cyców")
    user = make_user(Role.IT_ADMIN, offices=[office])
    login(client, user)
    bad = post_form(client, "/schedules/new", {"name": "Aktualizacje", "kind": "maintenance",
                    "office_id": str(office.id), "cron": "0 2 * *", "window_minutes": "120"},
                    page="/schedules/new")  # fmt: skip
    assert bad.status_code == 422
    assert "cron" in bad.get_data(as_text=True).lower()
    made = post_form(
        client,
        "/schedules/new",
        {
            "name": "Aktualizacje nocne",
            "kind": "rollout",
            "office_id": str(office.id),
            "cron": "0 2 * * *",
            "window_minutes": "",
            "canary_count": "2",
            "wave_size": "5",
            "max_failure_percent": "20",
            "command": "",
            "device_kind": "pc",
        },
        page="/schedules/new",
    )
    assert made.status_code == 302, made.get_data(as_text=True)[:2000]
    schedule = db.session.scalar(select(Schedule).where(Schedule.name == "Aktualizacje nocne"))
    assert schedule.args == {
        "command": "update_packages",
        "device_kind": "pc",
        "canary_count": 2,
        "wave_size": 5,
        "max_failure_percent": 20,
    }
    url = f"/schedules/{schedule.id}"
    page = client.get(url).get_data(as_text=True)
    assert "Aktualizacje nocne" in page and "0 2 * * *" in page
    assert post_form(client, f"{url}/pause", page=url).status_code == 302
    assert post_form(client, f"{url}/run", page=url).status_code == 302
    db.session.refresh(schedule)
    assert schedule.paused and schedule.run_requested_at is not None
    listing = client.get("/schedules/").get_data(as_text=True)
    assert "Aktualizacje nocne" in listing and "Offline detection" not in listing
    assert post_form(client, f"{url}/delete", page=url).status_code == 302
    assert db.session.get(Schedule, schedule.id) is None
