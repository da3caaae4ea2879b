"""The report page in a real browser: tables and charts on screen, a clean printout."""

import pytest
from playwright.sync_api import expect

from controller.devices.models import DeviceKind
from controller.extensions import db
from controller.reports.periods import last_closed_month
from controller.types import utcnow
from tests.browser.test_pages import assert_accessible, sign_in_over_http
from tests.conftest import make_device, make_office, make_user
from tests.reports.helpers import session

pytestmark = pytest.mark.browser


def _month_with_sessions() -> str:
    month = last_closed_month(utcnow())
    office = make_office(name="Urząd Gminy Milejów")
    gateway = make_device(office, name="GW-MIL", kind=DeviceKind.GATEWAY)
    for day, pseudonym in ((3, "aa"), (3, "bb"), (17, "aa")):
        start = f"{month:%Y-%m}-{day:02d} 10:00"
        session(office, gateway, pseudonym, start, f"{month:%Y-%m}-{day:02d} 11:30")
    db.session.commit()
    return f"{month:%Y-%m}"


def test_the_report_page_shows_figures_and_charts_and_prints_without_controls(page):
    month = _month_with_sessions()
    sign_in_over_http(page, make_user("admin"))
    page.goto(f"/reports/?month={month}")
    expect(page.locator("h1")).to_have_text("Wskaźniki wykorzystania")
    row = page.locator("table.report").first.locator("tbody tr", has_text="Urząd Gminy Milejów")
    expect(row.locator("td").nth(1)).to_have_text("3")  # hotspot sessions
    expect(page.locator("figure svg")).to_have_count(2)
    expect(page.locator("a", has_text="Pobierz XLSX")).to_be_visible()
    assert_accessible(page)
    page.emulate_media(media="print")
    expect(page.locator("form.filters")).to_be_hidden()
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator("p.actions")).to_be_hidden()
    expect(page.locator("table.report").first).to_be_visible()
    width = page.evaluate("document.querySelector('table.report').scrollWidth")
    pdf = page.pdf(format="A4", landscape=True)
    assert pdf.startswith(b"%PDF") and width > 0


def test_the_export_link_downloads_a_workbook(page):
    month = _month_with_sessions()
    sign_in_over_http(page, make_user("admin"))
    page.goto(f"/reports/?month={month}")
    with page.expect_download() as info:
        page.locator("a", has_text="Pobierz XLSX").click()
    assert info.value.suggested_filename == f"telecentre-report-{month}.xlsx"
