"""The admin UI in a real browser: forms, field errors, language, no-JavaScript use, axe-core."""

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from controller.audit.models import AuditLog
from controller.audit.service import Actor
from controller.auth import tokens
from controller.auth.models import User
from controller.auth.roles import Role
from controller.devices import service as devices
from controller.devices.models import Device, DeviceKind, DeviceState, Management
from controller.devices.schemas import DeviceCreate, DeviceUpdate
from controller.extensions import db
from controller.fleet.commands import queue as queue_command
from controller.fleet.commands import queue_many
from controller.fleet.schemas import CommandCreate, Target
from controller.offices import service as offices
from controller.offices.models import Office, OfficeType
from controller.offices.schemas import OfficeCreate
from controller.types import utcnow
from tests.conftest import PASSWORD, make_device, make_office, make_user

pytestmark = pytest.mark.browser

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": AXE_TAGS},
    # WCAG 2.1 A, 2.5.3 Label in Name: tagged wcag21a but "experimental" in axe-core, so off
    # unless enabled by name. A link's accessible name must contain the text it shows.
    "rules": {"label-content-name-mismatch": {"enabled": True}},
    "resultTypes": ["violations"],
}
# Narrow: 320 CSS px is a 1280 px screen at 400 % zoom (WCAG 1.4.10 Reflow); tables then
# scroll inside their boxes, which must stay reachable by keyboard.
VIEWPORTS = {
    "1280 px": {"width": 1280, "height": 720},
    "320 px (400 % zoom)": {"width": 320, "height": 640},
}
MAX_NODES = 8  # offending elements listed per rule in a failure message


# --- helpers -------------------------------------------------------------------------------


def sign_in(page: Page, user: User, password: str = PASSWORD) -> None:
    """Sign in through the real login form and wait for the dashboard."""
    page.goto("/login")
    page.locator("#f-email").fill(user.email)
    page.locator("#f-password").fill(password)
    submit(page)
    expect(page).to_have_url(re.compile(r"/dashboard$"))


def sign_in_over_http(page: Page, user: User, lang: str = "pl") -> None:
    """Sign in (and choose the language) with plain form posts sharing the page's cookies.

    Quicker than the form in the browser; for tests whose subject is another page.
    """
    html = page.request.get("/login").text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    form = {"csrf_token": token, "email": user.email, "password": PASSWORD}
    response = page.request.post("/login", form=form, max_redirects=0)
    assert response.status == 302, response.text()[:500]
    if lang != "pl":
        html = page.request.get("/account").text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        form = {"csrf_token": token, "lang": lang, "next": "/account"}
        response = page.request.post("/language", form=form, max_redirects=0)
        assert response.status == 302, response.text()[:500]


def submit(page: Page) -> None:
    """Press the submit button of the page's main form (not the header's forms)."""
    page.locator("main form[method=post] button[type=submit]").click()


def switch_language(page: Page, lang: str) -> None:
    """Press the language button in the header and wait for the page in that language."""
    page.locator(f'header button[name="lang"][value="{lang}"]').click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


def stored(stmt):
    """A fresh read of what the server wrote: end the test thread's transaction first."""
    db.session.rollback()
    return db.session.scalar(stmt)


def describe(violations: list[dict]) -> str:
    """An axe report a person can act on: rule, impact, help, and every offending node."""
    lines = [f"{len(violations)} axe-core violation(s):"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} [{v['helpUrl']}]")
        for node in v["nodes"][:MAX_NODES]:
            target = " >> ".join(str(t) for t in node["target"])
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {target}: {summary}")
            lines.append(f"      {node['html'][:200]}")
        if len(v["nodes"]) > MAX_NODES:
            lines.append(f"    … and {len(v['nodes']) - MAX_NODES} more elements")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    """Zero axe-core violations of WCAG 2.1 A/AA, wide and narrow, and no page-wide overflow."""
    page.wait_for_load_state("load")
    reports = []
    for width, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        violations = Axe().run(page, options=AXE_OPTIONS).response["violations"]
        if violations:
            reports.append(f"at {width}: {describe(violations)}")
        overflow = page.evaluate("document.documentElement.scrollWidth") - size["width"]
        if overflow > 0:  # WCAG 1.4.10 Reflow: no sideways scrolling of the page itself
            reports.append(f"at {width}: the page is {overflow} px wider than the window")
    if reports:
        pytest.fail("\n".join([page.url, *reports]))


# --- a realistic dataset -------------------------------------------------------------------


@dataclass
class Seed:
    """What seed() made, by the ids and names the tests need."""

    admin: User
    coordinator: User
    office_id: int
    device_id: int
    batch: str
    voucher_batch: int = 0
    schedule_id: int = 0


def seed() -> Seed:
    """Offices with devices of several kinds and states, staff, a token, and audit entries.

    Made through the app's services, so the audit log fills as it does in real use.
    """
    admin = make_user(Role.ADMIN, name="Administrator powiatu")
    actor = Actor(admin, "ui", "127.0.0.1")
    starostwo = offices.create_office(actor, OfficeCreate(
        name="Starostwo Powiatowe w Łęcznej", type=OfficeType.STAROSTWO, teryt="0610",
        address="al. Jana Pawła II 95A, 21-010 Łęczna", contact_person="Sekretariat",
        phone="+48 81 000 00 00", email="sekretariat@spl.example.pl",
    ))  # fmt: skip
    cycow = offices.create_office(actor, OfficeCreate(
        name="Urząd Gminy Cyców", type=OfficeType.URZAD_GMINY, teryt="0610012",
        address="ul. Chełmska 24, 21-070 Cyców",
    ))  # fmt: skip
    offices.create_office(actor, OfficeCreate(name="Urząd Miejski w Łęcznej",
                                              type=OfficeType.URZAD_MIEJSKI))  # fmt: skip
    specs = [
        (starostwo, DeviceKind.GATEWAY, "GW-01", Management.SSH, DeviceState.ONLINE, ["siec"]),
        (starostwo, DeviceKind.HOTSPOT, "AP-01", Management.SSH, DeviceState.OFFLINE, ["wifi"]),
        (starostwo, DeviceKind.INFOMAT, "INFOMAT-01", Management.AGENT,
         DeviceState.MAINTENANCE, ["hol"]),
        (starostwo, DeviceKind.PC, "PC-01", Management.AGENT, DeviceState.ONLINE,
         ["telecentrum", "parter"]),
        (starostwo, DeviceKind.PC, "PC-02", Management.AGENT, DeviceState.RETIRED, []),
        (cycow, DeviceKind.PC, "PC-01", Management.AGENT, DeviceState.UNKNOWN, ["telecentrum"]),
        (cycow, DeviceKind.OTHER, "DRUKARKA-01", Management.NONE, DeviceState.UNKNOWN, []),
    ]  # fmt: skip
    made = []
    for n, (office, kind, name, management, state, tags) in enumerate(specs, start=1):
        made.append(devices.create_device(actor, DeviceCreate(
            office_id=office.id, kind=kind, name=name, hostname=f"{name.lower()}-{office.id}",
            mac=f"02:61:00:00:{office.id:02x}:{n:02x}", ip=f"10.61.{office.id}.{n}",
            location="telecentrum, parter", tags=tags, management=management, state=state,
        )))  # fmt: skip
    pc = made[3]
    # An enrolled agent with health, inventory and commands, so the device page shows it all.
    pc.agent_salt, pc.enrolled_at = "0" * 32, utcnow()
    pc.health = {
        "sent_at": 0,
        "uptime_s": 93784,
        "load": [0.2, 0.1, 0.05],
        "cpu_percent": 7.5,
        "memory": {"total_bytes": 8 << 30, "available_bytes": 5 << 30},
        "disks": [{"mount": "/", "total_bytes": 120 << 30, "used_bytes": 48 << 30}],
        "os": "Debian GNU/Linux 12 (bookworm)",
        "agent_version": "0.1.0",
        "user": "gosc",
        "kiosk": {"running": True, "responding": False, "restarts": 2},
    }
    pc.inventory = {
        "cpu_model": "Intel Core i3",
        "cpu_count": 4,
        "memory_bytes": 8 << 30,
        "kernel": "6.1.0",
        "architecture": "x86_64",
        "packages": 1650,
        "interfaces": [{"name": "eth0", "mac": "02:61:00:00:01:04"}],
    }
    db.session.commit()
    devices.update_device(actor, made[0], DeviceUpdate(state=DeviceState.OFFLINE))  # an event
    done = queue_command(actor, pc, CommandCreate(kind="run_script", script="czyszczenie"))
    done.state, done.exit_code, done.output = "done", 0, "Usunięto pliki tymczasowe.\n"
    queue_command(actor, pc, CommandCreate(kind="message", message="Przerwa techniczna o 15:00"))
    made[2].agent_salt = "1" * 32
    batch = queue_many(actor, Target(device_ids=[pc.id, made[2].id]), CommandCreate(kind="lock"))
    devices.update_device(actor, made[1], DeviceUpdate(state=DeviceState.ONLINE))
    for device in made[:4]:
        device.last_seen = utcnow() - timedelta(minutes=7)
    db.session.commit()
    tokens.create_token(actor, admin, "skrypt inwentaryzacji")
    coordinator = make_user(Role.COORDINATOR, offices=[cycow], name="Koordynator gminy")
    schedule = _schedule_with_runs(actor, cycow.id)
    return Seed(
        admin=admin,
        coordinator=coordinator,
        office_id=starostwo.id,
        device_id=pc.id,
        batch=batch,
        voucher_batch=_seed_portal(actor, starostwo, made[0]),
        schedule_id=schedule.id,
    )


def _schedule_with_runs(actor, office_id):
    from controller.scheduler import jobs
    from controller.scheduler.schemas import ScheduleCreate
    from controller.scheduler.service import create_schedule

    schedule = create_schedule(actor, ScheduleCreate(
        name="Nocne aktualizacje", kind="maintenance", office_id=office_id, cron="0 2 * * *",
        window_minutes=120, device_kind="pc"))  # fmt: skip
    jobs.execute(schedule.id, utcnow() - timedelta(days=1), "controller-1:4242")
    jobs.execute(schedule.id, utcnow() - timedelta(minutes=5), "controller-1:4242")
    return schedule


def _seed_portal(actor, office, gateway) -> int:
    """A voucher batch, a live and an ended hotspot session, and an unknown LAN neighbour."""
    from controller.portal.models import Neighbour, PortalSession
    from controller.portal.schemas import BatchCreate
    from controller.portal.vouchers import create_batch

    made, _codes = create_batch(actor, office, BatchCreate(office_id=office.id, count=4,
                                note="Dzień otwarty"), "00" * 32)  # fmt: skip
    now = utcnow()
    db.session.add_all([
        PortalSession(session_id="1" * 32, office_id=office.id, device_id=gateway.id,
                      pseudonym="a" * 32, method="click", started_at=now, granted_seconds=3600),
        PortalSession(session_id="2" * 32, office_id=office.id, device_id=gateway.id,
                      pseudonym="b" * 32, method="voucher", started_at=now - timedelta(hours=2),
                      ended_at=now - timedelta(hours=1), end_reason="idle", bytes_down=5 << 20),
        Neighbour(office_id=office.id, mac="02:aa:00:00:00:01", ip="10.61.1.200"),
    ])  # fmt: skip
    db.session.commit()
    return made.id


def _voucher_sheet(page: Page, s: Seed) -> None:
    page.goto("/portal/vouchers/")
    page.locator("#f-office_id").select_option(str(s.office_id))
    page.locator("#f-count").fill("3")
    submit(page)
    expect(page.locator(".ticket")).to_have_count(3)


# --- forms ---------------------------------------------------------------------------------


def test_sign_in_and_create_a_device(page):
    office = make_office(name="Urząd Gminy Milejów")
    admin = make_user(Role.ADMIN)
    sign_in(page, admin)

    page.goto("/devices/new")
    page.locator("#f-office_id").select_option(str(office.id))
    page.locator("#f-kind").select_option(DeviceKind.INFOMAT.value)
    page.locator("#f-name").fill("INFOMAT-07")
    page.locator("#f-mac").fill("00-1A-2B-3C-4D-5E")
    page.locator("#f-ip").fill("10.61.4.3")
    page.locator("#f-tags").fill("hol, Parter  kiosk")
    submit(page)

    expect(page).to_have_url(re.compile(r"/devices/\d+$"))
    device_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("h1")).to_contain_text("INFOMAT-07")
    expect(page.locator(".flash-success[role=status]")).to_be_visible()
    expect(page.locator("dl.facts code")).to_have_text("00:1a:2b:3c:4d:5e")
    expect(page.locator("dl.facts a.tag")).to_have_text(["hol", "kiosk", "parter"])

    page.locator('header nav a[href="/devices/"]').click()
    row_link = page.locator(f'tbody a[href="/devices/{device_id}"]')
    expect(row_link).to_have_text("INFOMAT-07")
    page.locator("#f-tag").fill("kiosk")
    page.locator("main form[role=search] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"[?&]tag=kiosk"))
    expect(page.locator("tbody th a")).to_have_text(["INFOMAT-07"])

    device = stored(select(Device).where(Device.id == device_id))
    assert device.office_id == office.id
    assert device.kind is DeviceKind.INFOMAT
    assert device.name == "INFOMAT-07"
    assert device.mac == "00:1a:2b:3c:4d:5e"
    assert device.ip == "10.61.4.3"
    assert list(device.tags) == ["hol", "kiosk", "parter"]
    assert device.management is Management.NONE and device.state is DeviceState.UNKNOWN


def test_bad_mac_shows_the_error_at_the_field_and_stores_nothing(page):
    office = make_office()
    sign_in(page, make_user(Role.ADMIN))

    page.goto(f"/devices/new?office_id={office.id}")
    page.locator("#f-kind").select_option(DeviceKind.PC.value)
    page.locator("#f-name").fill("PC-09")
    page.locator("#f-mac").fill("00:1a:2b:3c:4d")
    page.locator("#f-ip").fill("10.61.4.9")
    with page.expect_response(lambda r: r.request.method == "POST") as response:
        submit(page)
    assert response.value.status == 422

    mac = page.locator("#f-mac")
    expect(mac).to_have_attribute("aria-invalid", "true")
    expect(mac).to_have_value("00:1a:2b:3c:4d")  # what was typed is kept
    described_by = (mac.get_attribute("aria-describedby") or "").split()
    assert "e-mac" in described_by, described_by
    error = page.locator("#e-mac")
    expect(error).to_be_visible()
    expect(error).to_have_class(re.compile(r"\bfield-error\b"))
    error_text = error.inner_text().strip()
    assert error_text
    # Next to the field: in the field's own block, and read out with it by assistive technology.
    expect(page.locator(".field.has-error").filter(has=mac).locator("#e-mac")).to_have_count(1)
    expect(mac).to_have_accessible_description(re.compile(re.escape(error_text)))
    # Only the bad field is marked; the other values survive.
    expect(page.locator("[aria-invalid=true]")).to_have_count(1)
    expect(page.locator("#f-name")).to_have_value("PC-09")
    expect(page.locator("#f-ip")).to_have_value("10.61.4.9")
    expect(page.locator("#f-office_id")).to_have_value(str(office.id))
    # The summary at the top links to the field.
    summary_link = page.locator('.error-summary[role=alert] a[href="#f-mac"]')
    label_text = page.locator("label[for=f-mac]").inner_text().strip()
    expect(summary_link).to_contain_text(error_text)
    expect(summary_link).to_contain_text(label_text)
    summary_link.click()
    expect(mac).to_be_focused()

    assert stored(select(func.count()).select_from(Device)) == 0
    assert stored(select(func.count()).where(AuditLog.action.startswith("device."))) == 0


def test_optional_fields_may_be_left_blank(page):
    office = make_office()
    sign_in(page, make_user(Role.ADMIN))

    page.goto(f"/devices/new?office_id={office.id}")
    page.locator("#f-kind").select_option(DeviceKind.HOTSPOT.value)
    page.locator("#f-name").fill("AP-02")  # no host name, MAC, IP, serial number or tags
    submit(page)
    expect(page.locator("[aria-invalid=true]")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/devices/\d+$"))
    device = stored(select(Device).where(Device.name == "AP-02"))
    assert (device.mac, device.ip, device.hostname) == (None, None, "")

    page.goto("/offices/new")
    page.locator("#f-name").fill("Urząd Gminy Ludwin")  # no TERYT code
    page.locator("#f-type").select_option(OfficeType.URZAD_GMINY.value)
    submit(page)
    expect(page.locator("[aria-invalid=true]")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/offices/\d+$"))
    assert stored(select(Office.teryt).where(Office.name == "Urząd Gminy Ludwin")) is None


# --- language ------------------------------------------------------------------------------


def test_english_is_chosen_once_and_kept_on_the_account(page, new_context):
    admin = make_user(Role.ADMIN)
    sign_in(page, admin)
    expect(page.locator("html")).to_have_attribute("lang", "pl")

    switch_language(page, "en")
    expect(page).to_have_url(re.compile(r"/dashboard$"))  # back on the same page
    expect(page.locator('header button[name="lang"]')).to_have_attribute("value", "pl")
    page.locator('header nav a[href="/offices/"]').click()
    expect(page).to_have_url(re.compile(r"/offices/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto(f"/devices/?kind={DeviceKind.PC.value}")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert stored(select(User.locale).where(User.id == admin.id)) == "en"

    # Stored on the account, not only in this browser's session: a fresh browser
    # shows the sign-in page in Polish and the account's pages in English.
    other = new_context().new_page()
    other.goto("/login")
    expect(other.locator("html")).to_have_attribute("lang", "pl")
    sign_in(other, admin)
    expect(other.locator("html")).to_have_attribute("lang", "en")


# --- without JavaScript --------------------------------------------------------------------


def test_the_ui_works_without_javascript(new_context):
    page = new_context(java_script_enabled=False).new_page()
    page.goto("data:text/html,<title>off</title><script>document.title = 'on'</script>")
    assert page.title() == "off", "JavaScript is not disabled in this browser context"

    sign_in(page, make_user(Role.ADMIN))
    page.locator('header nav a[href="/offices/"]').click()
    page.locator('main a[href="/offices/new"]').click()
    expect(page).to_have_url(re.compile(r"/offices/new$"))

    submit(page)  # empty name: the server answers with the form and its errors
    expect(page.locator("#f-name")).to_have_attribute("aria-invalid", "true")
    page.locator("#f-name").fill("Urząd Gminy Puchaczów")
    page.locator("#f-type").select_option(OfficeType.URZAD_GMINY.value)
    page.locator("#f-teryt").fill("0610052")
    page.locator("#f-address").fill("ul. Szkolna 1, 21-013 Puchaczów")
    page.locator("#f-phone").fill("+48 81 000 00 00")
    submit(page)

    expect(page).to_have_url(re.compile(r"/offices/\d+$"))
    expect(page.locator("h1")).to_have_text("Urząd Gminy Puchaczów")
    office = stored(select(Office).where(Office.name == "Urząd Gminy Puchaczów"))
    assert office is not None
    assert (office.type, office.teryt, office.timezone) == (
        OfficeType.URZAD_GMINY, "0610052", "Europe/Warsaw",
    )  # fmt: skip
    assert page.url.endswith(f"/offices/{office.id}")

    switch_language(page, "en")
    page.locator('header form[action="/logout"] button[type=submit]').click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#f-email")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the account's language


# --- accessibility (axe-core) --------------------------------------------------------------


def _device_form_with_errors(page: Page, s: Seed) -> None:
    page.goto(f"/devices/new?office_id={s.office_id}")
    page.locator("#f-name").fill("PC-03")
    page.locator("#f-mac").fill("zz:zz")
    page.locator("#f-ip").fill("10.61.999.1")
    submit(page)
    expect(page.locator("#f-mac")).to_have_attribute("aria-invalid", "true")


def _ssh_device(page: Page, s: Seed) -> None:
    db.session.rollback()
    device_id = db.session.scalar(select(Device.id).where(Device.name == "GW-01"))
    page.goto(f"/devices/{device_id}")
    expect(page.locator("#ssh-h")).to_be_visible()


def _ssh_job(page: Page, s: Seed) -> None:
    from controller.ssh.models import Job, JobHost

    db.session.rollback()
    db.session.connection(execution_options={"sqlite_immediate": True})
    device = db.session.get(Device, s.device_id)
    job = Job(command="uptime", target=f"device:{device.id}", created_by="test",
              state="finished", started_at=utcnow(), finished_at=utcnow())  # fmt: skip
    job.hosts.append(JobHost(device_id=device.id, office_id=device.office_id, address="root@x:22",
                             device_name=device.name, state="ok", exit_code=0, output="up 3 days",
                             duration_s=0.4))  # fmt: skip
    job.hosts.append(JobHost(device_id=device.id, office_id=device.office_id, duration_s=2,
                             device_name="AP-01", state="timeout",
                             error="banner_timeout"))  # fmt: skip
    db.session.add(job)
    db.session.commit()
    page.goto(f"/ssh/jobs/{job.id}")


# name: (signed in?, how to get there)
PAGES = {
    "login": (False, lambda page, s: page.goto("/login")),
    "dashboard": (True, lambda page, s: page.goto("/dashboard")),
    "offices": (True, lambda page, s: page.goto("/offices/")),
    "office": (True, lambda page, s: page.goto(f"/offices/{s.office_id}")),
    "office-form": (True, lambda page, s: page.goto(f"/offices/{s.office_id}/edit")),
    "devices": (True, lambda page, s: page.goto("/devices/")),
    "devices-no-match": (True, lambda page, s: page.goto("/devices/?q=no-such-device")),
    "device": (True, lambda page, s: page.goto(f"/devices/{s.device_id}")),
    "device-form": (True, lambda page, s: page.goto("/devices/new")),
    "device-form-errors": (True, _device_form_with_errors),
    "users": (True, lambda page, s: page.goto("/users/")),
    "user-form": (True, lambda page, s: page.goto(f"/users/{s.coordinator.id}/edit")),
    "account": (True, lambda page, s: page.goto("/account")),
    "audit": (True, lambda page, s: page.goto("/audit/")),
    "alerts": (True, lambda page, s: page.goto("/alerts")),
    "command-batch": (True, lambda page, s: page.goto(f"/commands/{s.batch}")),
    "portal-sessions": (True, lambda page, s: page.goto("/portal/")),
    "portal-history": (True, lambda page, s: page.goto("/portal/history")),
    "portal-policies": (True, lambda page, s: page.goto("/portal/policies")),
    "portal-policy-form": (True, lambda page, s: page.goto("/portal/policies/default")),
    "portal-neighbours": (True, lambda page, s: page.goto("/portal/neighbours")),
    "vouchers": (True, lambda page, s: page.goto("/portal/vouchers/")),
    "voucher-batch": (True, lambda page, s: page.goto(f"/portal/vouchers/{s.voucher_batch}")),
    "voucher-sheet": (True, _voucher_sheet),
    "schedules": (True, lambda page, s: page.goto("/schedules/")),
    "schedule": (True, lambda page, s: page.goto(f"/schedules/{s.schedule_id}")),
    "schedule-form": (True, lambda page, s: page.goto("/schedules/new")),
    "ssh-jobs": (True, lambda page, s: page.goto("/ssh/jobs")),
    "ssh-job": (True, _ssh_job),
    "ssh-key": (True, lambda page, s: page.goto("/ssh/key")),
    "ssh-device": (True, _ssh_device),
    "reports": (True, lambda page, s: page.goto("/reports/")),
    "reports-errors": (
        True,
        lambda page, s: page.goto("/reports/?since=2026-05-10&until=2026-05-01"),
    ),  # noqa: E501
}
CASES = [pytest.param(name, "pl", id=name) for name in PAGES] + [
    pytest.param(name, "en", id=f"{name}-en")
    for name in ("login", "dashboard", "device-form-errors")
]


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_page_has_no_axe_violations(page, name, lang):
    data = seed()
    signed_in, visit = PAGES[name]
    if signed_in:
        sign_in_over_http(page, data.admin, lang)
    elif lang != "pl":
        page.goto("/login")
        switch_language(page, lang)
    visit(page, data)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("h1")).to_have_count(1)
    assert_accessible(page)


def test_the_axe_check_catches_violations(page):
    """The harness itself: axe runs on these pages, with these tags, and reports what it finds."""
    page.goto("/login")
    page.evaluate(
        """() => {
            document.documentElement.removeAttribute("lang");
            document.querySelector("label[for=f-email]").remove();
            const button = document.querySelector("main button[type=submit]");
            button.setAttribute("aria-label", "Go");
            button.textContent = "Sign in now";
        }"""
    )
    with pytest.raises(pytest.fail.Exception) as failure:
        assert_accessible(page)
    report = str(failure.value)
    for rule in ("html-has-lang", "label", "label-content-name-mismatch"):
        assert f"- {rule} (" in report, report
    assert "#f-email" in report, report


def _set_state(device_id: int, state: DeviceState) -> None:
    """Change a device while the browser reads: a fresh write transaction, as a request has."""
    db.session.rollback()
    db.session.connection(execution_options={"sqlite_immediate": True})
    device = db.session.get(Device, device_id)
    devices.update_device(Actor(None, "cli"), device, DeviceUpdate(state=state))


@pytest.mark.parametrize("app", [{"UI_REFRESH_SECONDS": 1}], indirect=True)
def test_live_pages_refresh_in_place_and_can_be_paused(page):
    office = make_office()
    device = make_device(office, name="PC-LIVE", management=Management.AGENT, state="online")
    sign_in(page, make_user(Role.VIEWER))
    page.goto("/alerts")
    offline = page.locator("#offline-caption")
    expect(offline).to_contain_text("(0)")
    _set_state(device.id, DeviceState.OFFLINE)
    expect(page.locator("#live-alerts")).to_contain_text("PC-LIVE", timeout=5000)
    toggle = page.locator("button.live-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    _set_state(device.id, DeviceState.ONLINE)
    page.wait_for_timeout(2500)
    expect(offline).to_contain_text("(1)")  # paused: still the old picture
    toggle.click()
    expect(offline).to_contain_text("(0)", timeout=5000)
