"""The report through the API, the page, the exports and the CLI; bad input; privacy."""

import csv
import io

import pytest
from openpyxl import load_workbook

from controller.auth.roles import Role
from controller.extensions import db
from tests.conftest import bearer, login, make_token, make_user
from tests.reports.helpers import session, world

MAY = "2026-05"


@pytest.fixture
def data(app):
    a, b, d = world()
    session(a, d["gw_a"], "a1b2c3", "2026-05-04 10:00", "2026-05-04 11:30", size=750_000_000)
    session(a, d["gw_a"], "d4e5f6", "2026-05-04 10:30", "2026-05-04 11:00")
    session(b, d["gw_b"], "a1b2c3", "2026-05-05 09:00", "2026-05-05 09:30")
    db.session.commit()
    return a, b, d


def _get(client, user, url):
    return client.get(url, headers=bearer(make_token(user)))


def test_the_api_reports_a_month_per_office_device_and_month(client, data):
    a, b, _d = data
    body = _get(client, make_user(Role.ADMIN), f"/api/v1/reports?month={MAY}").json
    assert (body["first_day"], body["last_day"]) == ("2026-05-01", "2026-05-31")
    offices = {o["office"]: o["figures"] for o in body["offices"]}
    assert offices["Urząd Gminy Alfa"]["sessions"] == 2
    assert offices["Urząd Gminy Alfa"]["session_hours"] == 2.0
    assert offices["Urząd Gminy Alfa"]["data_gb"] == 1.5
    assert offices["Urząd Gminy Alfa"]["peak_users"] == 2
    assert offices["Urząd Gminy Beta"]["unique_users"] == 1
    assert body["total"]["sessions"] == 3 and body["total"]["unique_users"] == 3
    assert [m["month"] for m in body["months"]] == [MAY]
    assert {d["device"] for d in body["devices"]} >= {"GW-A", "GW-B", "PC-A"}


def test_a_coordinator_sees_only_their_offices(client, data):
    a, b, _d = data
    coordinator = make_user(Role.COORDINATOR, offices=[b])
    body = _get(client, coordinator, f"/api/v1/reports?month={MAY}").json
    assert [o["office"] for o in body["offices"]] == ["Urząd Gminy Beta"]
    assert body["total"]["sessions"] == 1
    assert {d["device"] for d in body["devices"]} == {"GW-B"}
    answer = _get(client, coordinator, f"/api/v1/reports?month={MAY}&office_id={a.id}")
    assert answer.status_code == 404
    xlsx = _get(client, coordinator, f"/api/v1/reports/export?month={MAY}").data
    assert b"Alfa" not in _xlsx_text(xlsx).encode()


def test_a_viewer_may_not_read_reports(client, data):
    assert _get(client, make_user(Role.VIEWER), "/api/v1/reports").status_code == 403


@pytest.mark.parametrize(("query", "field"), [
    ("since=2026-05-10&until=2026-05-01", "until"),
    ("month=2099-01", "month"),
    ("month=2026-13", "month"),
    ("month=May", "month"),
    ("since=2026-05-01", "until"),
    ("month=2026-05&since=2026-05-01&until=2026-05-02", "month"),
    ("since=2999-01-01&until=2999-01-02", "since"),
    ("since=0001-01-01&until=0001-01-02", "since"),  # was a 500 (date overflow)
    ("since=2026-05-01&until=2999-01-01", "until"),  # the rest of the range has not come
    ("since=2026-13-45&until=2026-05-02", "since"),
    ("office_id=abc", "office_id"),
])  # fmt: skip
def test_bad_ranges_get_a_clear_message(client, data, query, field):
    for path in ("/api/v1/reports", "/api/v1/reports/export"):
        answer = _get(client, make_user(Role.ADMIN), f"{path}?{query}")
        assert answer.status_code == 422, answer.data[:300]
        assert field in answer.json["error"]["fields"], answer.json


def test_an_unknown_office_is_not_found(client, data):
    answer = _get(client, make_user(Role.ADMIN), "/api/v1/reports?office_id=999999")
    assert answer.status_code == 404 and answer.json["error"]["message"]


def _xlsx_text(data: bytes) -> str:
    book = load_workbook(io.BytesIO(data))
    return "\n".join(str(c.value) for s in book.worksheets for r in s.iter_rows() for c in r)


def test_the_xlsx_export_has_a_sheet_per_view_real_numbers_and_the_definitions(client, data):
    answer = _get(client, make_user(Role.ADMIN),
                  f"/api/v1/reports/export?month={MAY}&format=xlsx")  # fmt: skip
    assert answer.status_code == 200 and "2026-05.xlsx" in answer.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(answer.data))
    assert book.sheetnames == ["Urzędy", "Urządzenia", "Miesiące", "Wskaźniki"]
    offices = book["Urzędy"]
    assert offices["B1"].is_date and offices["B1"].value.date().isoformat() == "2026-05-01"
    head = [c.value for c in offices[3]]
    row = [c.value for c in offices[4]]
    assert row[0] == "Urząd Gminy Alfa"
    hours = row[head.index("Godziny sesji")]
    assert isinstance(hours, int | float) and hours == 2.0  # a number, not text
    assert offices.cell(4, head.index("Godziny sesji") + 1).number_format == "#,##0.00"
    months = book["Miesiące"]
    assert months["A4"].is_date and months["A4"].number_format == "yyyy-mm"
    assert book["Wskaźniki"].max_row == 1 + 10
    text = _xlsx_text(answer.data)
    for secret in ("a1b2c3", "d4e5f6", "02:00:00"):  # pseudonyms, MAC addresses
        assert secret not in text


def test_csv_has_a_bom_and_an_optional_decimal_comma(client, data):
    admin = make_user(Role.ADMIN)
    plain = _get(client, admin, f"/api/v1/reports/export?month={MAY}&format=csv").data
    assert plain.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(plain.decode("utf-8-sig"))))
    assert rows[1][0] == "Urząd Gminy Alfa" and "1.5" in rows[1]
    comma = _get(
        client, admin, f"/api/v1/reports/export?month={MAY}&format=csv&decimal_comma=1"
    ).data
    rows = list(csv.reader(io.StringIO(comma.decode("utf-8-sig")), delimiter=";"))
    assert "1,5" in rows[1] and rows[-1][0] == "Razem"


def test_an_empty_period_still_exports_well_formed_files(client, app):
    admin = make_user(Role.ADMIN)
    xlsx = _get(client, admin, "/api/v1/reports/export?month=2026-02&format=xlsx")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.data))
    assert [c.value for c in book["Urzędy"][4]][0] == "Razem"
    plain = _get(client, admin, "/api/v1/reports/export?month=2026-02&format=csv").data
    rows = list(csv.reader(io.StringIO(plain.decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][0] == "Razem"


def test_the_report_page_shows_tables_charts_and_export_links(client, data):
    login(client, make_user(Role.COORDINATOR, offices=[data[0]]))
    html = client.get(f"/reports/?month={MAY}").get_data(as_text=True)
    assert "Urząd Gminy Alfa" in html and "Beta" not in html
    assert html.count("<svg") == 2 and "Pobierz XLSX" in html
    assert "a1b2c3" not in html


def test_the_report_page_shows_bad_ranges_at_the_fields(client, data):
    login(client, make_user(Role.ADMIN))
    answer = client.get("/reports/?since=2026-05-10&until=2026-05-01")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400 and 'id="f-until"' in html and 'aria-invalid="true"' in html
    assert "Koniec jest przed początkiem" in html or "The end is before the start" in html


def test_the_cli_exports_a_month(runner, data, tmp_path):
    target = tmp_path / "may.xlsx"
    result = runner.invoke(args=["report", "export", "--month", MAY, "--office", "Urząd Gminy Alfa",
                                 "--format", "xlsx", "--output", str(target)])  # fmt: skip
    assert result.exit_code == 0, result.output
    book = load_workbook(target)
    assert [c.value for c in book["Urzędy"][4]][:1] == ["Urząd Gminy Alfa"]
    bad = runner.invoke(args=["report", "export", "--month", "2099-01", "--format", "csv",
                              "--output", str(tmp_path / "x.csv")])  # fmt: skip
    assert bad.exit_code == 2 and not (tmp_path / "x.csv").exists()
    unknown = runner.invoke(args=["report", "export", "--month", MAY, "--office", "Nowhere",
                                  "--output", str(tmp_path / "y.csv")])  # fmt: skip
    assert unknown.exit_code == 2 and "Nowhere" in unknown.output


def test_the_page_shows_a_frozen_month_and_its_correction(client, data):
    from datetime import date

    from controller.reports import snapshots
    from tests.reports.helpers import local

    a, _b, d = data
    snapshots.freeze(date(2026, 5, 1), None, local("2026-06-01 00:30"))
    session(a, d["gw_a"], "0f0f0f", "2026-05-30 12:00", "2026-05-30 13:00")  # arrives late
    db.session.commit()
    login(client, make_user(Role.ADMIN))
    html = client.get(f"/reports/?month={MAY}").get_data(as_text=True)
    assert "zamrożone dane miesięczne" in html
    assert "(korekta +1)" in html  # one more session than frozen
    body = _get(client, make_user(Role.ADMIN), f"/api/v1/reports?month={MAY}").json
    alfa = next(o for o in body["offices"] if o["office"] == "Urząd Gminy Alfa")
    assert alfa["figures"]["sessions"] == 2 and alfa["correction"]["sessions"] == 1
