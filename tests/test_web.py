"""The admin web UI: sign-in, CSRF, rate limits, session expiry, forms, audit, language."""

import re

import pytest
from sqlalchemy import func, select

from controller.audit.models import AuditLog
from controller.devices.models import Device
from controller.extensions import db
from controller.offices.models import Office
from tests.conftest import (
    PASSWORD,
    csrf_token,
    login,
    make_device,
    make_office,
    make_user,
    post_form,
)


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_pages_need_sign_in(client):
    response = client.get("/devices/?kind=pc")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_sign_in_and_out(client):
    user = make_user("viewer", name="Jan Testowy")
    response = login(client, user)
    assert response.headers["Location"] == "/dashboard"
    assert "Jan Testowy" in client.get("/dashboard").get_data(as_text=True)
    db.session.expire_all()
    assert user.last_login is not None
    post_form(client, "/logout")
    assert client.get("/dashboard").status_code == 302
    actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["auth.login"]


def test_wrong_password_and_disabled_account(client):
    user = make_user("admin")
    token = csrf_token(client)
    bad = client.post("/login", data={"email": user.email, "password": "nope", "csrf_token": token})
    assert bad.status_code == 422
    assert "/dashboard" not in bad.headers.get("Location", "")
    user.active = False
    db.session.commit()
    off = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert off.status_code == 422
    assert client.get("/dashboard").status_code == 302


def test_open_redirect_after_login_is_refused(client):
    user = make_user("admin")
    token = csrf_token(client)
    response = client.post(
        "/login?next=//evil.example/x",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/dashboard"


def test_forms_without_csrf_token_are_refused_and_change_nothing(client):
    login(client, make_user("admin"))
    before = _count(Office)
    for token in (None, "forged-token"):
        data = {
            "name": "Urząd Gminy Bez Tokenu",
            "type": "urzad_gminy",
            "timezone": "Europe/Warsaw",
        }
        if token:
            data["csrf_token"] = token
        response = client.post("/offices/new", data=data)
        assert response.status_code == 400
        assert "<!doctype html>" in response.get_data(as_text=True)
    assert _count(Office) == before


@pytest.mark.parametrize("app", [{"LOGIN_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_login_is_rate_limited(client):
    user = make_user("admin")
    token = csrf_token(client)
    statuses = [
        client.post(
            "/login", data={"email": user.email, "password": "wrong", "csrf_token": token}
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [422, 422, 422, 429]
    # the right password does not get through while the limit holds
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 429


@pytest.mark.parametrize("app", [{"LOGIN_RATE_LIMIT": "2 per minute"}], indirect=True)
def test_login_limit_also_counts_per_account(app):
    user = make_user("admin")
    statuses = []
    for n in range(3):  # three different client addresses, one account
        client = app.test_client()
        token = csrf_token(client)
        response = client.post(
            "/login",
            data={"email": user.email, "password": "wrong", "csrf_token": token},
            environ_base={"REMOTE_ADDR": f"192.0.2.{n}"},
        )
        statuses.append(response.status_code)
    assert statuses == [422, 422, 429]


def test_expired_sign_in_goes_back_to_login(client, app):
    login(client, make_user("admin"))
    with client.session_transaction() as session:
        session["signed_in_at"] -= app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() + 1
    response = client.get("/devices/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'role="status"' in page  # the "session expired" notice
    assert client.get("/dashboard").status_code == 302


def test_create_edit_delete_device_through_forms(client):
    office = make_office()
    login(client, make_user("it_admin", offices=[office]))
    data = {
        "office_id": office.id,
        "kind": "pc",
        "name": "PC-07",
        "mac": "AA-BB-CC-DD-EE-07",
        "ip": "10.0.0.7",
        "tags": "sala, parter",
        "management": "agent",
        "state": "unknown",
    }
    created = post_form(client, "/devices/new", data, page="/devices/new")
    assert created.status_code == 302
    device = db.session.scalars(select(Device)).one()
    assert (device.mac, list(device.tags)) == ("aa:bb:cc:dd:ee:07", ["parter", "sala"])
    page = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "PC-07" in page and "aa:bb:cc:dd:ee:07" in page

    data.update(name="PC-08", ip="")
    edited = post_form(client, f"/devices/{device.id}/edit", data, page="/devices/new")
    assert edited.status_code == 302, re.findall(
        r"field-error[^<]*<", edited.get_data(as_text=True)
    )
    db.session.expire_all()
    assert (device.name, device.ip) == ("PC-08", None)

    assert post_form(client, f"/devices/{device.id}/delete").status_code == 302
    assert _count(Device) == 0
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.via == "ui")).all()
    assert actions == ["auth.login", "device.create", "device.update", "device.delete"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mac", "aa:bb"),
        ("ip", "300.1.1.1"),
        ("name", ""),
        ("name", "x" * 101),
        ("kind", "toaster"),
        ("office_id", "999999"),
        ("office_id", "abc"),
    ],
)
def test_device_form_errors_show_on_the_form_and_write_nothing(client, field, value):
    office = make_office()
    login(client, make_user("admin"))
    data = {
        "office_id": office.id,
        "kind": "pc",
        "name": "PC-01",
        "management": "none",
        "state": "unknown",
        field: value,
    }
    response = post_form(client, "/devices/new", data, page="/devices/new")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', html), html
    assert f'id="e-{field}"' in html
    assert _count(Device) == 0


def test_duplicate_mac_in_form_is_reported_on_the_field(client):
    office = make_office()
    make_device(office, mac="02:00:00:00:00:01")
    login(client, make_user("admin"))
    data = {
        "office_id": office.id,
        "kind": "pc",
        "name": "PC-NEW",
        "mac": "02:00:00:00:00:01",
        "management": "none",
        "state": "unknown",
    }
    response = post_form(client, "/devices/new", data, page="/devices/new")
    assert response.status_code == 422
    assert 'id="e-mac"' in response.get_data(as_text=True)
    assert _count(Device) == 1


def test_device_list_filters(client):
    a, b = make_office(name="Urząd Gminy Alfa"), make_office(name="Urząd Gminy Beta")
    make_device(a, name="ALFA-PC", tags=["lab"])
    make_device(b, name="BETA-KIOSK", kind="infomat", state="online")
    login(client, make_user("viewer"))

    def listed(query):
        return client.get(f"/devices/?{query}").get_data(as_text=True)

    assert "ALFA-PC" in listed(f"office_id={a.id}") and "BETA-KIOSK" not in listed(
        f"office_id={a.id}"
    )
    assert "BETA-KIOSK" in listed("kind=infomat") and "ALFA-PC" not in listed("kind=infomat")
    assert "BETA-KIOSK" in listed("state=online") and "ALFA-PC" not in listed("state=online")
    assert "ALFA-PC" in listed("tag=lab") and "BETA-KIOSK" not in listed("tag=lab")
    assert "BETA-KIOSK" in listed("q=beta") and "ALFA-PC" not in listed("q=beta")
    assert client.get("/devices/?kind=toaster").status_code == 400


def test_office_with_devices_cannot_be_deleted(client):
    office = make_office()
    make_device(office)
    login(client, make_user("admin"))
    response = post_form(client, f"/offices/{office.id}/delete")
    assert response.status_code == 302
    assert _count(Office) == 1


def test_office_form(client):
    login(client, make_user("admin"))
    bad = post_form(
        client,
        "/offices/new",
        {
            "name": "Urząd Gminy Nowa",
            "type": "urzad_gminy",
            "teryt": "12345",
            "timezone": "Mars/Base",
        },
        page="/offices/new",
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'id="e-teryt"' in html and 'id="e-timezone"' in html
    assert _count(Office) == 0
    good = post_form(
        client,
        "/offices/new",
        {
            "name": "Urząd Gminy Nowa",
            "type": "urzad_gminy",
            "teryt": "0610012",
            "timezone": "Europe/Warsaw",
            "email": "",
        },
        page="/offices/new",
    )
    assert good.status_code == 302
    assert db.session.scalars(select(Office)).one().teryt == "0610012"


def test_staff_management_and_api_tokens(client):
    office = make_office()
    login(client, make_user("admin"))
    created = post_form(
        client,
        "/users/new",
        {
            "email": "gmina@example.org",
            "role": "it_admin",
            "office_ids": [str(office.id)],
            "password": "long enough password",
            "active": "1",
            "locale": "en",
        },
        page="/users/new",
    )
    assert created.status_code == 302, created.get_data(as_text=True)
    from controller.users.service import find_by_email

    account = find_by_email("gmina@example.org")
    assert [o.id for o in account.offices] == [office.id] and account.locale == "en"
    # a fresh browser signs in as the new account, makes a token, sees it once
    other = client.application.test_client()
    login(other, account, "long enough password")
    page = post_form(other, "/account/tokens", {"name": "inventory script"})
    assert page.status_code == 201
    secret = re.search(r'id="new-token">(tc_[^<]+)<', page.get_data(as_text=True)).group(1)
    assert other.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert secret not in other.get("/account").get_data(as_text=True)
    assert "English" not in other.get("/account").get_data(as_text=True)  # shown in English


def test_language_switch_is_kept_on_the_account(client):
    user = make_user("viewer")
    login(client, user)
    assert '<html lang="pl"' in client.get("/dashboard").get_data(as_text=True)
    post_form(client, "/language", {"lang": "en", "next": "/dashboard"})
    assert '<html lang="en"' in client.get("/dashboard").get_data(as_text=True)
    db.session.expire_all()
    assert user.locale == "en"
    fresh = client.application.test_client()
    login(fresh, user)
    assert '<html lang="en"' in fresh.get("/dashboard").get_data(as_text=True)


def test_security_headers(client):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_audit_log_is_scoped_for_it_admins(client):
    own, other = make_office(), make_office()
    admin = make_user("admin")
    login(client, admin)
    for office in (own, other):
        post_form(
            client,
            "/devices/new",
            {
                "office_id": office.id,
                "kind": "pc",
                "name": f"AUD-{office.id}",
                "management": "none",
                "state": "unknown",
            },
            page="/devices/new",
        )
    post_form(client, "/logout")
    login(client, make_user("it_admin", offices=[own]))
    html = client.get("/audit/").get_data(as_text=True)
    assert f"AUD-{own.id}" in html and f"AUD-{other.id}" not in html


def test_signing_out_ends_the_session_for_a_replayed_cookie(client):
    user = make_user("admin")
    login(client, user)
    stolen = client.get_cookie("session").value
    post_form(client, "/logout")
    client.set_cookie("session", stolen)
    assert client.get("/users/").status_code == 302


def test_password_change_ends_other_sessions_but_keeps_this_one(client, app):
    user = make_user("admin")
    other = app.test_client()
    login(other, user)
    login(client, user)
    response = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "another long password"},
    )
    assert response.status_code == 302
    assert client.get("/account").status_code == 200
    assert other.get("/account").status_code == 302


def test_admin_reset_ends_the_accounts_sessions(client, app):
    victim = make_user("viewer")
    browser = app.test_client()
    login(browser, victim)
    login(client, make_user("admin"))
    reset = post_form(
        client,
        f"/users/{victim.id}/edit",
        {
            "email": victim.email,
            "role": "viewer",
            "active": "1",
            "password": "a brand new password",
        },
        page="/users/new",
    )
    assert reset.status_code == 302, reset.get_data(as_text=True)[-1500:]
    assert browser.get("/dashboard").status_code == 302


@pytest.mark.parametrize("app", [{"PERMANENT_SESSION_LIFETIME": 3600}], indirect=True)
def test_session_lifetime_may_be_given_in_seconds(client):
    login(client, make_user("viewer"))
    assert client.get("/dashboard").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        f"/offices/{10**30}",
        f"/devices/{10**30}",
        f"/users/{10**30}/edit",
        f"/devices/?office_id={10**30}",
        "/devices/?page=100000000000000000000",
        "/devices/?q=a%00b",
        "/devices/?tag=ok&tag=a%00b",  # the second value of a repeated field too
    ],
)
def test_odd_addresses_are_a_4xx_page(client, url):
    login(client, make_user("admin"))
    assert 400 <= client.get(url).status_code < 500


def test_odd_page_numbers_fall_back_to_the_first_page(client):
    login(client, make_user("admin"))
    for page in ("%C2%B2", "-5", "100000000000000000000", "x"):
        assert client.get(f"/audit/?page={page}").status_code == 200


def test_county_it_admin_does_not_see_account_events_in_the_audit_log(client):
    admin = make_user("admin")
    login(client, admin)
    post_form(
        client,
        "/users/new",
        {"email": "new@example.org", "role": "viewer", "password": "long enough password"},
        page="/users/new",
    )
    post_form(client, "/logout")
    login(client, make_user("it_admin"))
    html = client.get("/audit/").get_data(as_text=True)
    assert "new@example.org" not in html and "auth.login" not in html


def test_language_chosen_on_the_sign_in_page_is_kept(client):
    user = make_user("viewer")
    post_form(client, "/language", {"lang": "en", "next": "/login"}, page="/login")
    login(client, user)
    assert '<html lang="en"' in client.get("/dashboard").get_data(as_text=True)


def test_form_reports_missing_and_invalid_fields_together_by_name(client):
    login(client, make_user("admin"))
    post_form(client, "/language", {"lang": "en", "next": "/dashboard"})
    data = {"kind": "pc", "name": "PC-01", "mac": "zz", "management": "none", "state": "unknown"}
    response = post_form(client, "/devices/new", data, page="/devices/new")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'href="#f-office_id">Office: This field is required.' in html
    assert 'href="#f-mac">MAC address: Not a MAC address' in html


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sign_in_holds_no_write_lock_while_hashing(client, app, backend, monkeypatch):
    """Argon2 takes tens of milliseconds; agents' heartbeats must not wait for it."""
    import sqlite3

    from controller.auth import views

    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    real = views.verify_password
    writable = []

    def verify_and_probe(stored, password):
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            writable.append(True)
        except sqlite3.OperationalError:
            writable.append(False)
        finally:
            other.close()
        return real(stored, password)

    monkeypatch.setattr(views, "verify_password", verify_and_probe)
    user = make_user("viewer")
    email, user_id, token = user.email, user.id, csrf_token(client)
    db.session.remove()  # the request starts its own transaction, as in production
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302
    assert writable == [True]
    from controller.auth.models import User

    assert db.session.get(User, user_id).last_login is not None
