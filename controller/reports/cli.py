"""`telecentre report …`: exports, snapshots and the roll-up from the command line (all offices'
data)."""

from pathlib import Path

import click
from flask.cli import with_appcontext


@click.group()
def report() -> None:
    """Usage indicator reports."""


@report.command("export")
@click.option("--month", required=True, help="The month, YYYY-MM (Europe/Warsaw time).")
@click.option("--office", default=None, help="Office name or id (default: every office).")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx",
              show_default=True)  # fmt: skip
@click.option("--view", type=click.Choice(["offices", "devices", "months"]), default="offices",
              show_default=True, help="CSV only: which table.")  # fmt: skip
@click.option("--decimal-comma", is_flag=True, help="CSV only: 1,5 and ; between fields.")
@click.option("--lang", type=click.Choice(["pl", "en"]), default="pl", show_default=True,
              help="Language of the file's headings.")  # fmt: skip
@click.option("--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The file to write.")  # fmt: skip
@with_appcontext
def report_export(month, office, fmt, view, decimal_comma, lang, output) -> None:
    """Write a month's report; an empty month still gives a well-formed file."""
    from flask_babel import force_locale

    from controller.cli import _fail, _office_id
    from controller.errors import DomainError
    from controller.reports import exports, periods, service
    from controller.types import utcnow

    now = utcnow()
    office_ids = [_office_id(office)] if office else None
    try:
        period = periods.month_period(periods.parse_month(month, now, "--month"))
    except DomainError as exc:
        _fail(exc.message, exc.fields)
    built = service.build(period, office_ids, now)
    with force_locale(lang):
        if fmt == "xlsx":
            data = exports.xlsx(built)
        else:
            data = exports.csv_bytes(built, view, decimal_comma)
    Path(output).write_bytes(data)
    click.echo(f"{output}: {len(built.offices)} offices, {built.total['sessions']} sessions")


@report.command("freeze")
@click.option("--month", required=True, help="A closed month, YYYY-MM.")
@with_appcontext
def report_freeze(month) -> None:
    """Freeze a closed month's figures now for offices not frozen yet (the scheduler does
    this for last month on its report_snapshot schedule)."""
    from controller.cli import _fail
    from controller.errors import DomainError
    from controller.extensions import db
    from controller.reports import periods, snapshots
    from controller.types import utcnow

    now = utcnow()
    try:
        first = periods.parse_month(month, now, "--month")
    except DomainError as exc:
        _fail(exc.message, exc.fields)
    if first > periods.last_closed_month(now):
        _fail("the month has not ended yet", {"--month": month})
    count = snapshots.freeze(first, None, now)
    db.session.commit()
    click.echo(f"{first:%Y-%m}: {count} offices frozen")


@report.command("rollup")
@with_appcontext
def report_rollup() -> None:
    """Roll up now every closed day not rolled up or changed since (the scheduler does this
    every night on its report_rollup schedule; after an upgrade this fills the past at once)."""
    from controller.reports import rollup
    from controller.types import utcnow

    counts = rollup.run(utcnow())
    click.echo(f"{counts['rolled']} days rolled up of {counts['checked']} checked")
