"""Usage counters from agents, added up per device, local day and metric."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from controller.extensions import db
from controller.fleet.models import UsageCounter
from controller.fleet.schemas import UsageIn
from controller.offices.models import Office

METRICS = ("interaction_sessions", "pc_sessions", "pc_seconds")


def add(device, usage: UsageIn) -> None:
    """Add an agent's usage record to the day it belongs to in the office's time zone."""
    zone = db.session.scalar(select(Office.timezone).where(Office.id == device.office_id))
    day = datetime.fromtimestamp(usage.at, UTC).astimezone(ZoneInfo(zone))
    for metric in METRICS:
        value = getattr(usage, metric)
        if value:
            _upsert(device.id, device.office_id, day.date(), metric, value)


def _upsert(device_id: int, office_id: int, day, metric: str, value: int) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(UsageCounter).values(device_id=device_id, office_id=office_id, day=day,
                                       metric=metric, value=value)  # fmt: skip
    stmt = stmt.on_conflict_do_update(
        index_elements=["device_id", "day", "metric"],
        set_={"value": UsageCounter.value + stmt.excluded.value},
    )
    db.session.connection().execute(stmt)
