"""The JSON API: validation, error envelope, pagination, filters, audit, OpenAPI."""

import re

import pytest
from sqlalchemy import func, select

from controller.audit.models import AuditLog
from controller.devices.models import Device
from controller.devices_app import all_rules
from controller.extensions import db
from controller.offices.models import Office
from tests.conftest import bearer, make_device, make_office, make_token, make_user


@pytest.fixture
def admin_headers():
    return bearer(make_token(make_user("admin")))


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    error = response.json["error"]
    assert error["status"] == status and error["code"] == code and error["message"]
    return error


def test_create_device_round_trip_and_audit(client, admin_headers):
    office = make_office()
    body = {
        "office_id": office.id,
        "kind": "infomat",
        "name": "INFOMAT-01",
        "mac": "00-1A-2B-3C-4D-5E",
        "ip": "10.0.0.7",
        "tags": ["Hol", "parter"],
        "hostname": "Infomat-01.Example.PL",
    }
    created = client.post("/api/v1/devices", json=body, headers=admin_headers)
    assert created.status_code == 201
    device = created.json
    assert device["mac"] == "00:1a:2b:3c:4d:5e"
    assert device["hostname"] == "infomat-01.example.pl"
    assert device["tags"] == ["hol", "parter"]
    assert device["office"] == {"id": office.id, "name": office.name}
    fetched = client.get(f"/api/v1/devices/{device['id']}", headers=admin_headers).json
    assert fetched == device
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "device.create")).one()
    assert entry.via == "api" and entry.object_id == device["id"]
    assert entry.after["mac"] == "00:1a:2b:3c:4d:5e" and entry.office_id == office.id


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"mac": "00:1a:2b:3c:4d"}, "mac"),
        ({"mac": "zz:1a:2b:3c:4d:5e"}, "mac"),
        ({"ip": "10.0.0.300"}, "ip"),
        ({"ip": 12}, "ip"),
        ({"name": "x" * 101}, "name"),
        ({"name": ""}, "name"),
        ({"kind": "toaster"}, "kind"),
        ({"office_id": "one"}, "office_id"),
        ({"office_id": 999999}, "office_id"),
        ({"tags": ["ok", "not ok!"]}, "tags"),
        ({"hostname": "-bad-"}, "hostname"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_device_input_is_refused_and_nothing_written(client, admin_headers, patch, field):
    office = make_office()
    body = {"office_id": office.id, "kind": "pc", "name": "PC-01", **patch}
    before = _count(Device), _count(AuditLog)
    error = _error(
        client.post("/api/v1/devices", json=body, headers=admin_headers), 422, "validation_error"
    )
    assert field in error["fields"] and error["fields"][field]
    assert (_count(Device), _count(AuditLog)) == before


def test_duplicate_mac_is_a_conflict(client, admin_headers):
    office = make_office()
    make_device(office, mac="02:00:00:00:00:aa")
    body = {"office_id": office.id, "kind": "pc", "name": "PC-NEW", "mac": "02-00-00-00-00-AA"}
    error = _error(
        client.post("/api/v1/devices", json=body, headers=admin_headers), 409, "conflict"
    )
    assert "mac" in error["fields"]
    assert _count(Device) == 1


def test_malformed_json_and_wrong_content_type(client, admin_headers):
    error = _error(
        client.post(
            "/api/v1/devices",
            data="{not json",
            headers={**admin_headers, "Content-Type": "application/json"},
        ),
        422,
        "validation_error",
    )
    assert error["fields"]
    _error(
        client.post("/api/v1/devices", data="name=x", headers=admin_headers),
        415,
        "unsupported_media_type",
    )
    _error(
        client.post("/api/v1/devices", json=[1, 2], headers=admin_headers), 422, "validation_error"
    )


def test_unknown_ids_and_routes_answer_json_404(client, admin_headers):
    _error(client.get("/api/v1/devices/424242", headers=admin_headers), 404, "not_found")
    _error(client.patch("/api/v1/offices/424242", json={}, headers=admin_headers), 404, "not_found")
    _error(client.get("/api/v1/no-such-thing", headers=admin_headers), 404, "not_found")
    _error(client.put("/api/v1/devices", json={}, headers=admin_headers), 405, "method_not_allowed")


def test_bad_tokens_are_refused(client):
    user = make_user("admin")
    token = make_token(user)
    for header in ("", "Bearer", "Bearer tc_wrong", "Basic " + token, token):
        response = client.get("/api/v1/me", headers={"Authorization": header} if header else {})
        _error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    user.active = False
    db.session.commit()
    _error(client.get("/api/v1/me", headers=bearer(token)), 401, "unauthorized")


def test_revoked_token_stops_working(client, app):
    from controller.audit.service import Actor
    from controller.auth.tokens import create_token, revoke_token

    user = make_user("viewer")
    token, secret = create_token(Actor(user, "cli"), user, "script")
    assert client.get("/api/v1/me", headers=bearer(secret)).json["email"] == user.email
    revoke_token(Actor(user, "ui"), token.id)
    _error(client.get("/api/v1/me", headers=bearer(secret)), 401, "unauthorized")


def test_pagination_and_filters(client, admin_headers):
    a, b = make_office(name="Urząd Gminy A"), make_office(name="Urząd Gminy B")
    for i in range(7):
        make_device(a, name=f"PC-{i:02d}", tags=["lab"] if i % 2 else [])
    make_device(b, name="KIOSK", kind="infomat", ip="192.0.2.10")
    page = client.get("/api/v1/devices?per_page=3&page=2", headers=admin_headers).json
    assert (page["total"], page["pages"], page["page"], page["per_page"]) == (8, 3, 2, 3)
    assert [d["name"] for d in page["items"]] == ["PC-03", "PC-04", "PC-05"]
    last = client.get("/api/v1/devices?per_page=3&page=3", headers=admin_headers).json
    assert [d["name"] for d in last["items"]] == ["PC-06", "KIOSK"]

    def names(query):
        response = client.get(f"/api/v1/devices?{query}", headers=admin_headers)
        assert response.status_code == 200, response.json
        return [d["name"] for d in response.json["items"]]

    assert names(f"office_id={b.id}") == ["KIOSK"]
    assert names("kind=infomat") == ["KIOSK"]
    assert names("tag=lab") == ["PC-01", "PC-03", "PC-05"]
    assert names("q=192.0.2") == ["KIOSK"]
    assert names("state=online") == []
    assert names(f"office_id={a.id}&tag=LAB&q=pc-0") == ["PC-01", "PC-03", "PC-05"]
    assert names(f"office_id={a.id}&kind=infomat") == []
    make_device(b, name="LAB_1/A", ip="192.0.2.20")
    make_device(b, name="LABX1-A", ip="192.0.2.21")
    assert names("q=b_1") == ["LAB_1/A"]  # _ and % match themselves, / too
    assert names("q=1%2Fa") == ["LAB_1/A"]
    assert names("q=%25") == [] and names("q=%2F%2F") == []
    for bad in ("per_page=0", "per_page=201", "page=-1", "kind=toaster", "state=x", "foo=1"):
        _error(client.get(f"/api/v1/devices?{bad}", headers=admin_headers), 422, "validation_error")


def test_update_and_delete_office(client, admin_headers):
    office = make_office(name="Urząd Gminy Stary")
    other = make_office(name="Urząd Gminy Inny")
    changed = client.patch(
        f"/api/v1/offices/{office.id}",
        headers=admin_headers,
        json={"name": "Urząd Gminy Nowy", "teryt": "0610012"},
    )
    assert changed.status_code == 200 and changed.json["teryt"] == "0610012"
    _error(
        client.patch(
            f"/api/v1/offices/{office.id}", headers=admin_headers, json={"name": other.name}
        ),
        409,
        "conflict",
    )
    for teryt in ("061001", "0710012", "0610019", "abcd"):
        _error(
            client.patch(
                f"/api/v1/offices/{office.id}", headers=admin_headers, json={"teryt": teryt}
            ),
            422,
            "validation_error",
        )
    make_device(office)
    _error(client.delete(f"/api/v1/offices/{office.id}", headers=admin_headers), 409, "conflict")
    assert client.delete(f"/api/v1/offices/{other.id}", headers=admin_headers).status_code == 204
    assert _count(Office) == 1
    update = db.session.scalars(select(AuditLog).where(AuditLog.action == "office.update")).one()
    assert update.before == {"name": "Urząd Gminy Stary", "teryt": None}
    assert update.after == {"name": "Urząd Gminy Nowy", "teryt": "0610012"}


def test_scoped_it_admin_cannot_move_a_device_out_of_scope(client):
    own, other = make_office(), make_office()
    device = make_device(own)
    headers = bearer(make_token(make_user("it_admin", offices=[own])))
    error = _error(
        client.patch(f"/api/v1/devices/{device.id}", headers=headers, json={"office_id": other.id}),
        422,
        "validation_error",
    )
    assert "office_id" in error["fields"]
    db.session.expire_all()
    assert db.session.get(Device, device.id).office_id == own.id


def test_users_api(client, admin_headers):
    office = make_office()
    created = client.post(
        "/api/v1/users",
        headers=admin_headers,
        json={
            "email": "Gmina.Admin@Example.org",
            "role": "it_admin",
            "office_ids": [office.id],
            "password": "a long enough password",
        },
    )
    assert created.status_code == 201
    assert created.json["email"] == "gmina.admin@example.org"
    assert created.json["offices"] == [{"id": office.id, "name": office.name}]
    assert "password" not in created.text and "hash" not in created.text
    _error(
        client.post(
            "/api/v1/users",
            headers=admin_headers,
            json={"email": "gmina.admin@example.org", "role": "viewer"},
        ),
        409,
        "conflict",
    )
    for bad in (
        {"email": "not-an-email", "role": "viewer"},
        {"email": "x@example.org", "role": "root"},
        {"email": "x@example.org", "role": "viewer", "office_ids": [9999]},
        {"email": "x@example.org", "role": "viewer", "password": "short"},
    ):
        _error(
            client.post("/api/v1/users", headers=admin_headers, json=bad), 422, "validation_error"
        )


def test_admin_cannot_demote_themselves(client):
    admin = make_user("admin")
    headers = bearer(make_token(admin))
    _error(
        client.patch(f"/api/v1/users/{admin.id}", headers=headers, json={"role": "viewer"}),
        422,
        "validation_error",
    )
    _error(
        client.patch(f"/api/v1/users/{admin.id}", headers=headers, json={"active": False}),
        422,
        "validation_error",
    )


def test_errors_follow_the_callers_language(client, admin_headers):
    response = client.get("/api/v1/devices/1", headers={**admin_headers, "Accept-Language": "pl"})
    english = client.get("/api/v1/devices/1", headers={**admin_headers, "Accept-Language": "en"})
    assert english.json["error"]["message"] == "No such device."
    assert response.json["error"]["message"] != english.json["error"]["message"]


def test_openapi_describes_every_api_route(client, app):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routed = set()
    for rule in all_rules(app):
        if rule.rule.startswith(("/api/v1/", "/api/agent/v1/", "/api/portal/v1/")):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed
    create = spec["paths"]["/api/v1/devices"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(schema["required"]) == {"office_id", "kind", "name"}
    assert schema["additionalProperties"] is False
    params = {p["name"] for p in spec["paths"]["/api/v1/devices"]["get"]["parameters"]}
    assert {"office_id", "kind", "state", "tag", "q", "page", "per_page"} <= params
    for ops in spec["paths"].values():
        for op in ops.values():
            for response in op["responses"].values():
                for media in response.get("content", {}).values():
                    if media["schema"].get("format") == "binary":  # a file download
                        continue
                    ref = media["schema"]["$ref"].rsplit("/", 1)[1]
                    assert ref in spec["components"]["schemas"]


HUGE = 10**30


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", f"/api/v1/offices/{HUGE}", None),
        ("GET", f"/api/v1/devices/{HUGE}", None),
        ("GET", f"/api/v1/users/{HUGE}", None),
        ("GET", f"/api/v1/devices?office_id={HUGE}", None),
        ("GET", "/api/v1/devices?page=100000000000000000000", None),
        ("GET", "/api/v1/offices?page=100000000000000000000", None),
        ("POST", "/api/v1/devices", {"office_id": HUGE, "kind": "pc", "name": "X"}),
        (
            "POST",
            "/api/v1/users",
            {"email": "a@example.org", "role": "viewer", "office_ids": [HUGE]},
        ),
        ("GET", "/api/v1/devices?q=a%00b", None),
        ("POST", "/api/v1/offices", {"name": "A\u0000B", "type": "other"}),
        ("POST", "/api/v1/devices", {"office_id": True, "kind": "pc", "name": "X"}),
        ("POST", "/api/v1/devices", {"office_id": "1", "kind": "pc", "name": "X"}),
    ],
)
def test_out_of_range_and_odd_input_is_a_4xx(client, admin_headers, method, url, body):
    make_office()
    response = client.open(url, method=method, json=body, headers=admin_headers)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json and set(response.json) == {"error"}


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/offices/{office}", {"name": None}),
        ("/api/v1/offices/{office}", {"timezone": None}),
        ("/api/v1/devices/{device}", {"name": None}),
        ("/api/v1/devices/{device}", {"tags": None}),
        ("/api/v1/devices/{device}", {"office_id": None}),
        ("/api/v1/users/{user}", {"office_ids": None}),
        ("/api/v1/users/{user}", {"email": None}),
    ],
)
def test_patch_refuses_null_for_fields_that_cannot_be_empty(client, admin_headers, url, body):
    office = make_office()
    device = make_device(office)
    user = make_user("viewer", offices=[office])
    target = url.format(office=office.id, device=device.id, user=user.id)
    error = _error(client.patch(target, json=body, headers=admin_headers), 422, "validation_error")
    assert list(error["fields"]) == list(body)


def test_patch_may_clear_optional_fields(client, admin_headers):
    office = make_office(teryt="0610012")
    device = make_device(office, ip="10.0.0.1", tags=["a"])
    patched = client.patch(
        f"/api/v1/devices/{device.id}",
        json={"ip": None, "mac": None, "tags": []},
        headers=admin_headers,
    )
    assert patched.status_code == 200
    cleared = client.get(f"/api/v1/devices/{device.id}", headers=admin_headers).json
    assert (cleared["ip"], cleared["mac"], cleared["tags"]) == (None, None, [])
    office_json = client.patch(
        f"/api/v1/offices/{office.id}", json={"teryt": None}, headers=admin_headers
    ).json
    assert office_json["teryt"] is None


def test_office_with_staff_cannot_be_deleted(client, admin_headers):
    """Otherwise an account limited to it would silently gain the whole county."""
    office = make_office()
    scoped = make_user("it_admin", offices=[office])
    error = _error(client.delete(f"/api/v1/offices/{office.id}", headers=admin_headers), 409,
                   "conflict")  # fmt: skip
    assert "Staff" in error["message"] or "(1)" in error["message"]
    db.session.expire_all()
    assert [o.id for o in scoped.offices] == [office.id]


def test_polish_names_are_case_insensitive_everywhere(client, admin_headers):
    make_office(name="Starostwo Powiatowe w Łęcznej")
    for name in ("Starostwo Powiatowe w Łęcznej", "STAROSTWO POWIATOWE W ŁĘCZNEJ"):
        _error(client.post("/api/v1/offices", json={"name": name, "type": "starostwo"},
                           headers=admin_headers), 409, "conflict")  # fmt: skip
    found = client.get("/api/v1/offices?q=ŁĘCZN", headers=admin_headers).json
    assert [o["name"] for o in found["items"]] == ["Starostwo Powiatowe w Łęcznej"]
    assert client.get("/api/v1/offices?q=%25", headers=admin_headers).json["total"] == 0


def test_moving_a_device_is_recorded_for_both_offices(client, admin_headers):
    old, new = make_office(), make_office()
    device = make_device(old)
    moved = client.patch(f"/api/v1/devices/{device.id}", json={"office_id": new.id},
                         headers=admin_headers)  # fmt: skip
    assert moved.status_code == 200
    offices = db.session.scalars(
        select(AuditLog.office_id).where(AuditLog.action.in_(["device.update", "device.move"]))
    ).all()
    assert sorted(offices) == sorted([old.id, new.id])


def test_token_last_use_is_recorded_after_the_request(client):
    from controller.auth.models import ApiToken

    user = make_user("viewer")
    headers = bearer(make_token(user))
    assert client.get("/api/v1/devices", headers=headers).status_code == 200
    db.session.expire_all()
    assert db.session.scalars(select(ApiToken)).one().last_used_at is not None
