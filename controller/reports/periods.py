"""Report periods: whole local days in the county's time zone, turned into UTC bounds."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from controller.errors import Invalid
from controller.portal.policy import COUNTY_ZONE

ZONE = ZoneInfo(COUNTY_ZONE)
MAX_DAYS = 366 * 3  # a range longer than this is a mistake, not a report
EARLIEST = date(2000, 1, 1)  # before the network existed; older dates are typing mistakes
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """From the first to the last local day, both included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        """The first day's local midnight, in UTC."""
        return local_midnight(self.first)

    @property
    def end(self) -> datetime:
        """The local midnight after the last day, in UTC (exclusive)."""
        return local_midnight(self.last + timedelta(days=1))

    @property
    def seconds(self) -> float:
        """Its length; DST days have 23 or 25 hours."""
        return (self.end - self.start).total_seconds()

    def months(self) -> list[date]:
        """The first days of the months it touches."""
        out, month = [], self.first.replace(day=1)
        while month <= self.last:
            out.append(month)
            month = next_month(month)
        return out

    def whole_month(self) -> date | None:
        """The month when the period is exactly one calendar month."""
        if self.first.day == 1 and self.last == next_month(self.first) - timedelta(days=1):
            return self.first
        return None


def local_midnight(day: date) -> datetime:
    """The start of a local day of the county, in UTC."""
    return datetime.combine(day, time(0), ZONE).astimezone(UTC)


def today(now: datetime) -> date:
    """The county's date at a moment."""
    return now.astimezone(ZONE).date()


def next_month(month: date) -> date:
    """The first day of the following month."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_period(month: date) -> Period:
    """A calendar month as a period."""
    return Period(month, next_month(month) - timedelta(days=1))


def parse_month(text: str, now: datetime, field: str = "month") -> date:
    """YYYY-MM, not in the future; Invalid otherwise."""
    match = _MONTH.match((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < EARLIEST.year:
        raise Invalid(_("The report is not valid."), {field: _("Give a month as YYYY-MM.")})
    month = date(int(match.group(1)), int(match.group(2)), 1)
    if month > today(now):
        raise Invalid(_("The report is not valid."), {field: _("This month has not begun yet.")})
    return month


def check_range(first: date, last: date, now: datetime) -> Period:
    """A period from two days, refused when reversed, in the future or too long."""
    if last < first:
        raise Invalid(_("The report is not valid."),
                      {"until": _("The end is before the start.")})  # fmt: skip
    if first < EARLIEST:
        raise Invalid(_("The report is not valid."),
                      {"since": _("Give a day from the year 2000 on.")})  # fmt: skip
    if last > today(now):
        raise Invalid(_("The report is not valid."),
                      {"until" if first <= today(now) else "since":
                       _("This day has not come yet.")})  # fmt: skip
    if (last - first).days >= MAX_DAYS:
        raise Invalid(_("The report is not valid."),
                      {"until": _("At most %(n)d days.", n=MAX_DAYS)})  # fmt: skip
    return Period(first, last)


def last_closed_month(now: datetime) -> date:
    """The month before the current one (county time)."""
    first = today(now).replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)
