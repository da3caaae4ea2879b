"""The grant: how long and how much a visitor may use now. Pure functions, no database."""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agents.common.contract import open_until

COUNTY_ZONE = "Europe/Warsaw"  # quotas are counted per visitor per day of the county


class Refused(Exception):
    """A start the policy does not allow; code is the contract's error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


MB = 1_000_000  # staff speak megabytes; policies, grants and gateways speak bytes


@dataclass(frozen=True)
class Limits:
    """The numbers of the effective policy that bound a grant."""

    session_seconds: int
    daily_seconds: int
    session_bytes: int | None = None
    daily_bytes: int | None = None
    opening_hours: list[dict] | None = None  # None: always open
    timezone: str = COUNTY_ZONE


@dataclass(frozen=True)
class Used:
    """What the visitor has used today across every office of the county."""

    seconds: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class Allowance:
    """What is left on a voucher (bytes None: no data cap)."""

    seconds: int
    bytes: int | None = None


@dataclass(frozen=True)
class Grant:
    """Seconds and bytes (None: no cap) granted for one session."""

    seconds: int
    bytes: int | None


def day_bounds(now: datetime, zone: str = COUNTY_ZONE) -> tuple[datetime, datetime]:
    """Start and end (UTC) of the local day that holds now."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz).date()
    start = datetime.combine(local, time(0), tz)
    end = datetime.combine(local + timedelta(days=1), time(0), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def seconds_to_closing(opening_hours: list[dict] | None, now: datetime, zone: str) -> int | None:
    """Seconds until the office closes (None: always open, 0: closed now)."""
    if opening_hours is None:
        return None
    local = now.astimezone(ZoneInfo(zone))
    end = open_until(opening_hours, local)
    return 0 if end is None else int((end - local).total_seconds())


def _least(*values: int | None) -> int | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def compute_grant(
    limits: Limits, used: Used, now: datetime, voucher: Allowance | None = None
) -> Grant:
    """The grant for a new session, or Refused with the reason a visitor is told."""
    if voucher is not None and (
        voucher.seconds <= 0 or (voucher.bytes is not None and voucher.bytes <= 0)
    ):
        raise Refused("voucher_used_up")
    to_closing = seconds_to_closing(limits.opening_hours, now, limits.timezone)
    if to_closing == 0:
        raise Refused("outside_opening_hours")
    daily_left = limits.daily_seconds - used.seconds
    bytes_left = None if limits.daily_bytes is None else limits.daily_bytes - used.bytes
    if daily_left <= 0 or (bytes_left is not None and bytes_left <= 0):
        raise Refused("daily_quota_reached")
    seconds = _least(limits.session_seconds, daily_left, to_closing,
                     voucher.seconds if voucher else None)  # fmt: skip
    data = _least(limits.session_bytes, bytes_left, voucher.bytes if voucher else None)
    return Grant(seconds=int(seconds or 0), bytes=data)


def used_seconds(started: datetime, ended: datetime | None, granted: int | None,
                 now: datetime, since: datetime | None = None) -> int:  # fmt: skip
    """Seconds a session has used (up to now if live, never more than granted), from since."""
    start = max(started, since) if since else started
    stop = min(ended or now, now)
    if granted is not None:
        stop = min(stop, started + timedelta(seconds=granted))
    return max(0, int((stop - start).total_seconds()))
