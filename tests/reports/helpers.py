"""A small generated world for report tests: offices, devices, sessions in local time."""

from datetime import UTC, date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from controller.devices.models import DeviceKind
from controller.extensions import db
from controller.fleet.models import DeviceEvent, UsageCounter
from controller.portal.models import PortalSession
from controller.reports import rollup
from controller.reports.periods import today
from controller.scheduler import jobs
from controller.scheduler.models import Outcome, Schedule, ScheduleRun
from tests.conftest import make_device, make_office

WARSAW = ZoneInfo("Europe/Warsaw")
_ids = count(1)


def local(text: str) -> datetime:
    """A Europe/Warsaw wall-clock time ('2026-03-29 01:30'), as an aware UTC datetime.

    Ambiguous times (the hour repeated when DST ends) are the first of the two.
    """
    return datetime.fromisoformat(text).replace(tzinfo=WARSAW).astimezone(UTC)


def session(office, device, pseudonym: str, start: str, end: str | None, size: int = 0,
            **kw) -> PortalSession:  # fmt: skip
    """A hotspot session between two local times, with `size` bytes each way."""
    row = PortalSession(session_id=f"s-{next(_ids):034d}", office_id=office.id,
                        device_id=device.id, pseudonym=pseudonym.ljust(32, "0"),
                        method="click", started_at=local(start),
                        ended_at=local(end) if end else None, bytes_down=size, bytes_up=size,
                        **kw)  # fmt: skip
    db.session.add(row)
    return row


def event(device, at: str, from_state: str, to_state: str) -> None:
    """A state change of a device at a local time."""
    db.session.add(DeviceEvent(device_id=device.id, office_id=device.office_id, at=local(at),
                               from_state=from_state, to_state=to_state))  # fmt: skip


def usage(device, day: str, metric: str, value: int) -> None:
    """A daily usage counter."""
    db.session.add(UsageCounter(device_id=device.id, office_id=device.office_id,
                                day=date.fromisoformat(day), metric=metric,
                                value=value))  # fmt: skip


def world():
    """Two offices: A with a gateway, a PC and an infomat; B with a gateway."""
    a, b = make_office(name="Urząd Gminy Alfa"), make_office(name="Urząd Gminy Beta")
    created = local("2025-01-01 00:00")
    devices = {
        "gw_a": make_device(a, name="GW-A", kind=DeviceKind.GATEWAY, created_at=created),
        "pc_a": make_device(a, name="PC-A", kind=DeviceKind.PC, created_at=created),
        "kiosk_a": make_device(a, name="KIOSK-A", kind=DeviceKind.INFOMAT, created_at=created),
        "gw_b": make_device(b, name="GW-B", kind=DeviceKind.GATEWAY, created_at=created),
    }
    return a, b, devices


def roll_up_around(now: datetime, every: int = 1) -> list[date]:
    """Roll up every `every`-th closed day from the day before the first session to a week
    after the last one started (what the nightly job would have done for them)."""
    first, last = db.session.execute(
        select(func.min(PortalSession.started_at), func.max(PortalSession.started_at))
    ).one()
    if first is None:
        return []
    day, end = today(first) - timedelta(days=1), min(today(last) + timedelta(days=8),
                                                     today(now) - timedelta(days=1))  # fmt: skip
    done = []
    while day <= end:
        rollup.roll_up(day, now)
        done.append(day)
        day += timedelta(days=every)
    db.session.commit()
    return done


def run_schedule(kind: str, cron: str, at: str) -> ScheduleRun:
    """Create a schedule of `kind` and run it as its trigger at local time `at` would; the run
    must have succeeded."""
    schedule = Schedule(name=kind, kind=kind, cron=cron, created_by="test", args={})
    db.session.add(schedule)
    db.session.commit()
    run = db.session.get(ScheduleRun, jobs.execute(schedule.id, local(at), "t").id)
    assert run.outcome == Outcome.OK, run.message
    return run
