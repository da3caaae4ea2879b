"""Every route × every role: permissions and office scope, proven route by route."""

import pytest

from controller.auth.roles import Role
from controller.devices_app import all_rules
from tests.conftest import (
    bearer,
    csrf_token,
    login,
    make_device,
    make_office,
    make_token,
    make_user,
)

# The specification of who may do what, written out independently of the code.
ALLOWED = {
    "admin": {
        "inventory.read",
        "devices.write",
        "offices.write",
        "users.manage",
        "audit.read",
        "commands.run",
        "portal.manage",
        "reports.read",
    },
    "it_admin": {
        "inventory.read",
        "devices.write",
        "audit.read",
        "commands.run",
        "portal.manage",
        "reports.read",
    },
    "coordinator": {"inventory.read", "reports.read"},
    "viewer": {"inventory.read"},
}
# (name, role, limited to office A?)
PRINCIPALS = [
    ("anonymous", None, False),
    ("admin", "admin", False),
    ("it_admin_scoped", "it_admin", True),
    ("it_admin_county", "it_admin", False),
    ("coordinator_scoped", "coordinator", True),
    ("viewer_scoped", "viewer", True),
]
PUBLIC, SIGNED_IN, AGENT = "public", "signed-in", "agent-signed"
METRICS = "metrics-token"  # only the metrics token or an allowed address; nobody by default

# endpoint, method, url template, permission, object kind whose office scope applies
UI = [
    ("dashboard.root", "GET", "/", PUBLIC, None),
    ("healthz", "GET", "/healthz", PUBLIC, None),
    ("metrics.metrics", "GET", "/metrics", METRICS, None),
    ("openapi.openapi_json", "GET", "/api/openapi.json", PUBLIC, None),
    ("auth.login", "GET", "/login", PUBLIC, None),
    ("auth.login", "POST", "/login", PUBLIC, None),
    ("auth.language", "POST", "/language", PUBLIC, None),
    ("auth.logout", "POST", "/logout", SIGNED_IN, None),
    ("auth.account", "GET", "/account", SIGNED_IN, None),
    ("auth.create_token", "POST", "/account/tokens", SIGNED_IN, None),
    ("auth.revoke_token", "POST", "/account/tokens/{token}/revoke", SIGNED_IN, None),
    ("auth.change_password", "POST", "/account/password", SIGNED_IN, None),
    ("dashboard.index", "GET", "/dashboard", "inventory.read", None),
    ("offices.index", "GET", "/offices/", "inventory.read", None),
    ("offices.detail", "GET", "/offices/{office}", "inventory.read", "office"),
    ("offices.create", "GET", "/offices/new", "offices.write", None),
    ("offices.create", "POST", "/offices/new", "offices.write", None),
    ("offices.edit", "GET", "/offices/{office}/edit", "offices.write", "office"),
    ("offices.edit", "POST", "/offices/{office}/edit", "offices.write", "office"),
    ("offices.delete", "POST", "/offices/{office}/delete", "offices.write", "office"),
    (
        "offices.create_enrollment_token",
        "POST",
        "/offices/{office}/enrollment-tokens",
        "devices.write",
        "office",
    ),
    ("devices.index", "GET", "/devices/", "inventory.read", None),
    ("devices.detail", "GET", "/devices/{device}", "inventory.read", "device"),
    ("devices.create", "GET", "/devices/new", "devices.write", None),
    ("devices.create", "POST", "/devices/new", "devices.write", None),
    ("devices.edit", "GET", "/devices/{device}/edit", "devices.write", "device"),
    ("devices.edit", "POST", "/devices/{device}/edit", "devices.write", "device"),
    ("devices.delete", "POST", "/devices/{device}/delete", "devices.write", "device"),
    ("devices.queue_command", "POST", "/devices/{device}/commands", "commands.run", "device"),
    ("devices.queue_bulk", "POST", "/devices/commands", "commands.run", None),
    ("devices.approve", "POST", "/devices/{device}/approve", "devices.write", "device"),
    ("devices.screenshot", "GET", "/devices/{device}/screenshot.png", "inventory.read", "device"),
    ("fleet.batch", "GET", "/commands/{batch}", "inventory.read", "batch"),
    ("users.index", "GET", "/users/", "users.manage", None),
    ("users.create", "GET", "/users/new", "users.manage", None),
    ("users.create", "POST", "/users/new", "users.manage", None),
    ("users.edit", "GET", "/users/{user}/edit", "users.manage", None),
    ("users.edit", "POST", "/users/{user}/edit", "users.manage", None),
    ("audit.index", "GET", "/audit/", "audit.read", None),
    ("fleet.alerts", "GET", "/alerts", "inventory.read", None),
    ("portal.sessions", "GET", "/portal/", "inventory.read", None),
    ("portal.history", "GET", "/portal/history", "inventory.read", None),
    ("portal.end_session", "POST", "/portal/sessions/{session}/end", "portal.manage", "session"),
    ("portal.policy_list", "GET", "/portal/policies", "inventory.read", None),
    ("portal.edit_default", "GET", "/portal/policies/default", "portal.manage", None),
    ("portal.edit_default", "POST", "/portal/policies/default", "portal.manage", None),
    ("portal.edit_office_policy", "GET", "/portal/policies/{office}", "portal.manage", "office"),
    ("portal.edit_office_policy", "POST", "/portal/policies/{office}", "portal.manage", "office"),
    (
        "portal.delete_office_policy",
        "POST",
        "/portal/policies/{office}/delete",
        "portal.manage",
        "office",
    ),
    ("portal.neighbours", "GET", "/portal/neighbours", "inventory.read", None),
    ("portal.adopt", "POST", "/portal/neighbours/adopt", "devices.write", None),
    ("vouchers.index", "GET", "/portal/vouchers/", "inventory.read", None),
    ("vouchers.create", "POST", "/portal/vouchers/", "portal.manage", None),
    (
        "vouchers.detail",
        "GET",
        "/portal/vouchers/{voucher_batch}",
        "inventory.read",
        "voucher_batch",
    ),
    (
        "vouchers.revoke",
        "POST",
        "/portal/vouchers/{voucher_batch}/revoke",
        "portal.manage",
        "voucher_batch",
    ),
    (
        "vouchers.sheet_pdf",
        "POST",
        "/portal/vouchers/{voucher_batch}/sheet.pdf",
        "portal.manage",
        "voucher_batch",
    ),
    ("scheduler.index", "GET", "/schedules/", "inventory.read", None),
    ("scheduler.create", "GET", "/schedules/new", "commands.run", None),
    ("scheduler.create", "POST", "/schedules/new", "commands.run", None),
    ("scheduler.detail", "GET", "/schedules/{schedule}", "inventory.read", "schedule"),
    ("scheduler.pause", "POST", "/schedules/{schedule}/pause", "commands.run", "schedule"),
    ("scheduler.resume", "POST", "/schedules/{schedule}/resume", "commands.run", "schedule"),
    ("scheduler.run", "POST", "/schedules/{schedule}/run", "commands.run", "schedule"),
    ("scheduler.delete", "POST", "/schedules/{schedule}/delete", "commands.run", "schedule"),
    ("ssh.jobs_page", "GET", "/ssh/jobs", "inventory.read", None),
    ("ssh.create_job", "POST", "/ssh/jobs", "commands.run", None),
    ("ssh.job", "GET", "/ssh/jobs/{job}", "inventory.read", "job"),
    ("ssh.cancel_job", "POST", "/ssh/jobs/{job}/cancel", "commands.run", "job"),
    ("ssh.public_key", "GET", "/ssh/key", "inventory.read", None),
    ("ssh.settings", "POST", "/devices/{device}/ssh", "devices.write", "device"),
    ("ssh.fetch_key", "POST", "/devices/{device}/ssh/fetch", "devices.write", "device"),
    ("ssh.trust", "POST", "/devices/{device}/ssh/trust", "devices.write", "device"),
    ("reports.index", "GET", "/reports/", "reports.read", None),
    ("reports.index", "GET", "/reports/?office_id={office}", "reports.read", "office"),
    ("reports.export", "GET", "/reports/export?office_id={office}", "reports.read", "office"),
]
API = [
    ("api.me", "GET", "/api/v1/me", SIGNED_IN, None),
    ("api.list_offices", "GET", "/api/v1/offices", "inventory.read", None),
    ("api.create_office", "POST", "/api/v1/offices", "offices.write", None),
    ("api.get_office", "GET", "/api/v1/offices/{office}", "inventory.read", "office"),
    ("api.update_office", "PATCH", "/api/v1/offices/{office}", "offices.write", "office"),
    ("api.delete_office", "DELETE", "/api/v1/offices/{office}", "offices.write", "office"),
    (
        "api.create_enrollment_token",
        "POST",
        "/api/v1/offices/{office}/enrollment-tokens",
        "devices.write",
        "office",
    ),
    ("api.list_devices", "GET", "/api/v1/devices", "inventory.read", None),
    ("api.create_device", "POST", "/api/v1/devices", "devices.write", None),
    ("api.get_device", "GET", "/api/v1/devices/{device}", "inventory.read", "device"),
    ("api.update_device", "PATCH", "/api/v1/devices/{device}", "devices.write", "device"),
    ("api.delete_device", "DELETE", "/api/v1/devices/{device}", "devices.write", "device"),
    ("api.queue_command", "POST", "/api/v1/devices/{device}/commands", "commands.run", "device"),
    ("api.list_commands", "GET", "/api/v1/devices/{device}/commands", "inventory.read", "device"),
    ("api.queue_bulk", "POST", "/api/v1/commands", "commands.run", None),
    ("api.approve_device", "POST", "/api/v1/devices/{device}/approve", "devices.write", "device"),
    ("api.show_batch", "GET", "/api/v1/command-batches/{batch}", "inventory.read", "batch"),
    ("api.list_portal_policies", "GET", "/api/v1/portal/policies", "inventory.read", None),
    (
        "api.update_default_portal_policy",
        "PUT",
        "/api/v1/portal/policies/default",
        "portal.manage",
        None,
    ),
    (
        "api.get_office_portal_policy",
        "GET",
        "/api/v1/offices/{office}/portal-policy",
        "inventory.read",
        "office",
    ),
    (
        "api.update_office_portal_policy",
        "PUT",
        "/api/v1/offices/{office}/portal-policy",
        "portal.manage",
        "office",
    ),
    (
        "api.delete_office_portal_policy",
        "DELETE",
        "/api/v1/offices/{office}/portal-policy",
        "portal.manage",
        "office",
    ),
    ("api.list_voucher_batches", "GET", "/api/v1/voucher-batches", "inventory.read", None),
    ("api.create_voucher_batch", "POST", "/api/v1/voucher-batches", "portal.manage", None),
    (
        "api.get_voucher_batch",
        "GET",
        "/api/v1/voucher-batches/{voucher_batch}",
        "inventory.read",
        "voucher_batch",
    ),
    (
        "api.revoke_voucher_batch",
        "POST",
        "/api/v1/voucher-batches/{voucher_batch}/revoke",
        "portal.manage",
        "voucher_batch",
    ),
    ("api.list_portal_sessions", "GET", "/api/v1/portal/sessions", "inventory.read", None),
    (
        "api.end_portal_session",
        "POST",
        "/api/v1/portal/sessions/{session}/end",
        "portal.manage",
        "session",
    ),
    ("api.list_schedules", "GET", "/api/v1/schedules", "inventory.read", None),
    ("api.create_schedule", "POST", "/api/v1/schedules", "commands.run", None),
    ("api.get_schedule", "GET", "/api/v1/schedules/{schedule}", "inventory.read", "schedule"),
    ("api.delete_schedule", "DELETE", "/api/v1/schedules/{schedule}", "commands.run", "schedule"),
    (
        "api.pause_schedule",
        "POST",
        "/api/v1/schedules/{schedule}/pause",
        "commands.run",
        "schedule",
    ),
    (
        "api.resume_schedule",
        "POST",
        "/api/v1/schedules/{schedule}/resume",
        "commands.run",
        "schedule",
    ),
    ("api.run_schedule", "POST", "/api/v1/schedules/{schedule}/run", "commands.run", "schedule"),
    ("api.list_users", "GET", "/api/v1/users", "users.manage", None),
    ("api.create_user", "POST", "/api/v1/users", "users.manage", None),
    ("api.get_user", "GET", "/api/v1/users/{user}", "users.manage", None),
    ("api.update_user", "PATCH", "/api/v1/users/{user}", "users.manage", None),
    # Agents: enrolment is open (the token is in the body); everything else needs a device
    # signature, which no staff session or API token can stand in for.
    ("api.get_ssh_settings", "GET", "/api/v1/devices/{device}/ssh", "inventory.read", "device"),
    ("api.put_ssh_settings", "PUT", "/api/v1/devices/{device}/ssh", "devices.write", "device"),
    (
        "api.fetch_host_key",
        "POST",
        "/api/v1/devices/{device}/ssh/host-key",
        "devices.write",
        "device",
    ),
    ("api.trust_host_key", "POST", "/api/v1/devices/{device}/ssh/trust", "devices.write", "device"),
    ("api.public_key", "GET", "/api/v1/ssh/public-key", "inventory.read", None),
    ("api.list_templates", "GET", "/api/v1/ssh/templates", "inventory.read", None),
    ("api.create_job", "POST", "/api/v1/ssh/jobs", "commands.run", None),
    ("api.list_jobs", "GET", "/api/v1/ssh/jobs", "inventory.read", None),
    ("api.get_job", "GET", "/api/v1/ssh/jobs/{job}", "inventory.read", "job"),
    ("api.cancel_job", "POST", "/api/v1/ssh/jobs/{job}/cancel", "commands.run", "job"),
    ("api.get_report", "GET", "/api/v1/reports", "reports.read", None),
    ("api.get_report", "GET", "/api/v1/reports?office_id={office}", "reports.read", "office"),
    (
        "api.export_report",
        "GET",
        "/api/v1/reports/export?office_id={office}",
        "reports.read",
        "office",
    ),
    ("agent.enroll", "POST", "/api/agent/v1/enroll", PUBLIC, None),
    ("agent.heartbeat", "POST", "/api/agent/v1/heartbeat", AGENT, None),
    ("agent.screenshot", "POST", "/api/agent/v1/screenshots/{batch}", AGENT, None),
    # Gateways: the portal API, signed like the agent API.
    ("portal_api.sync", "POST", "/api/portal/v1/sync", AGENT, None),
    ("portal_api.start_session", "POST", "/api/portal/v1/sessions", AGENT, None),
    ("portal_api.end_session", "POST", "/api/portal/v1/sessions/{batch}/end", AGENT, None),
]


# A valid body where the empty one is not, so scope (404) is what the case decides.
BODIES = {
    "/api/v1/devices/{device}/commands": {"kind": "lock"},
    "/api/v1/commands": {"target": {"kind": "pc"}, "command": {"kind": "lock"}},
    "/api/v1/offices/{office}/portal-policy": {
        "methods": ["click"],
        "session_minutes": 60,
        "daily_minutes": 120,
        "idle_timeout_minutes": 10,
    },
    "/api/v1/devices/{device}/ssh": {"port": 22},
    "/api/v1/devices/{device}/ssh/trust": {"fingerprint": "SHA256:" + "A" * 43},
}


def test_the_matrix_covers_every_route(app):
    """A new route cannot be added without deciding who may use it."""
    listed = {(endpoint, method) for endpoint, method, *_ in UI + API}
    routed = {
        (rule.endpoint, method)
        for rule in all_rules(app)
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routed == listed


def _cases(routes):
    for _endpoint, method, url, perm, scoped in routes:
        for name, role, limited in PRINCIPALS:
            for where in ("own", "other") if scoped else ("own",):
                yield pytest.param(
                    method,
                    url,
                    perm,
                    scoped,
                    role,
                    limited,
                    where,
                    id=f"{method} {url} {name} {where}",
                )


def _expected(perm, scoped, role, limited, where, api: bool) -> str:
    if perm == PUBLIC:
        return "ok"
    if perm == AGENT:
        return "agent_refused"
    if perm == METRICS:
        return "metrics_refused"
    if role is None:
        return "unauthenticated"
    if perm != SIGNED_IN and perm not in ALLOWED[role]:
        return "forbidden"
    if scoped and where == "other" and limited:
        return "not_found"
    return "ok"


def _world(role, limited):
    from controller.extensions import db
    from controller.fleet.models import Command, Screenshot
    from controller.scheduler.models import Schedule
    from controller.ssh.models import Job, JobHost

    own, other = make_office(), make_office()
    devices = {"own": make_device(own, agent_salt="0" * 32, management="ssh"),
               "other": make_device(other, agent_salt="1" * 32, management="ssh")}  # fmt: skip
    batches = {"own": "a" * 32, "other": "b" * 32}
    for where, device in devices.items():
        db.session.add(
            Command(
                uid=batches[where],
                batch=batches[where],
                device_id=device.id,
                kind="lock",
                args={},
                created_by="test",
                expires_at=device.created_at,
            )
        )
        db.session.add(Screenshot(device_id=device.id, command_uid=batches[where],
                                  png=b"\x89PNG\r\n\x1a\n"))  # fmt: skip
    schedules = {
        where: Schedule(name=f"Updates {where}", kind="maintenance", office_id=office.id,
                        cron="0 2 * * *", window_minutes=60, args={}, created_by="test")
        for where, office in (("own", own), ("other", other))
    }  # fmt: skip
    db.session.add_all(schedules.values())
    jobs = {}
    for where, device in devices.items():
        job = Job(command="true", target=f"device:{device.id}", created_by="test",
                  state="finished")  # fmt: skip
        job.hosts.append(JobHost(device_id=device.id, office_id=device.office_id,
                                 device_name=device.name, state="ok"))  # fmt: skip
        db.session.add(job)
        db.session.flush()
        jobs[where] = job.id
    db.session.commit()
    portal = _portal_world({"own": own, "other": other}, devices)
    objects = {
        "office": {"own": own.id, "other": other.id},
        "device": {w: d.id for w, d in devices.items()},
        "batch": batches,
        **portal,
        "schedule": {w: s.id for w, s in schedules.items()},
        "job": jobs,
    }
    target = make_user("viewer")
    user = make_user(role, offices=[own] if limited else []) if role else None
    return user, objects, target


def _portal_world(offices, devices) -> dict:
    from controller.audit.service import Actor
    from controller.portal.models import PortalSession
    from controller.portal.schemas import BatchCreate
    from controller.portal.vouchers import create_batch

    out = {"voucher_batch": {}, "session": {}}
    for where, office in offices.items():
        batch, _codes = create_batch(
            Actor(None, "cli"), office, BatchCreate(office_id=office.id, count=1), "00" * 32
        )
        session = PortalSession(session_id=f"{where:x<36}", office_id=office.id,
                                device_id=devices[where].id, pseudonym="0" * 32,
                                method="click")  # fmt: skip
        db_add_commit(session)
        out["voucher_batch"][where], out["session"][where] = batch.id, session.id
    return out


def db_add_commit(row) -> None:
    from controller.extensions import db

    db.session.add(row)
    db.session.commit()


def _url(template, objects, target, where, token_id=None):
    return template.format(
        voucher_batch=objects["voucher_batch"][where],
        session=objects["session"][where],
        office=objects["office"][where],
        device=objects["device"][where],
        user=target.id,
        batch=objects["batch"][where],
        schedule=objects["schedule"][where],
        job=objects["job"][where],
        token=token_id or 1,
    )


def _check(outcome, response, api):
    status = response.status_code
    assert status < 500, response.get_data(as_text=True)[:300]
    if outcome == "unauthenticated":
        if api:
            assert status == 401 and response.json["error"]["code"] == "unauthorized"
        else:
            assert status == 302 and "/login" in response.headers["Location"]
    elif outcome == "metrics_refused":  # staff sessions and API tokens do not open /metrics
        assert status == 403 and response.json["error"]["code"] == "forbidden"
    elif outcome == "agent_refused":
        assert status == 401 and response.json["error"]["code"] == "unauthenticated_agent"
    elif outcome == "forbidden":
        assert status == 403
    elif outcome == "not_found":
        assert status == 404
    else:
        assert status not in (401, 403, 404, 405), response.get_data(as_text=True)[:300]


@pytest.fixture
def backend():
    """Authorisation does not depend on the database; the matrix runs on SQLite."""
    return "sqlite"


@pytest.mark.parametrize(
    ("method", "url", "perm", "scoped", "role", "limited", "where"), list(_cases(UI))
)
def test_page_access(client, method, url, perm, scoped, role, limited, where):
    user, objects, target = _world(role, limited)
    token_id = None
    if user is not None:
        login(client, user)
        make_token(user)
        from controller.auth.tokens import tokens_of

        token_id = tokens_of(user)[0].id
    target_url = _url(url, objects, target, where, token_id)
    if method == "GET":
        response = client.get(target_url)
    else:
        page = "/account" if user is not None else "/login"
        response = client.post(target_url, data={"csrf_token": csrf_token(client, page)})
    _check(_expected(perm, scoped, role, limited, where, api=False), response, api=False)


@pytest.mark.parametrize(
    ("method", "url", "perm", "scoped", "role", "limited", "where"), list(_cases(API))
)
def test_api_access(client, method, url, perm, scoped, role, limited, where):
    user, objects, target = _world(role, limited)
    headers = bearer(make_token(user)) if user is not None else {}
    body = BODIES.get(url, {}) if method in ("POST", "PATCH", "PUT") else None
    response = client.open(
        _url(url, objects, target, where), method=method, headers=headers, json=body
    )
    _check(_expected(perm, scoped, role, limited, where, api=True), response, api=True)
    if response.status_code >= 400:
        assert set(response.json) == {"error"}


def test_scoped_lists_hide_other_offices(client):
    """Lists, not only object pages, are limited to the user's offices."""
    own, other = make_office(name="Urząd Gminy Własny"), make_office(name="Urząd Gminy Obcy")
    make_device(own, name="OWN-PC")
    make_device(other, name="OTHER-PC")
    user = make_user(Role.IT_ADMIN, offices=[own])
    headers = bearer(make_token(user))
    devices = client.get("/api/v1/devices", headers=headers).json["items"]
    offices = client.get("/api/v1/offices", headers=headers).json["items"]
    assert [d["name"] for d in devices] == ["OWN-PC"]
    assert [o["name"] for o in offices] == ["Urząd Gminy Własny"]
    login(client, user)
    for page in ("/dashboard", "/devices/", "/offices/"):
        html = client.get(page).get_data(as_text=True)
        assert "Własny" in html and "Obcy" not in html and "OTHER-PC" not in html, page
