"""The database lease: only its holder executes jobs, so schedulers can run side by side."""

from datetime import datetime, timedelta

from sqlalchemy import case, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from controller.extensions import db
from controller.scheduler.models import SchedulerLease
from controller.types import UTCDateTime, utcnow

NAME = "scheduler"


def acquire(holder: str, ttl_s: float, now: datetime | None = None) -> bool:
    """Take or renew the lease for `ttl_s` seconds; False while another holder's is valid.

    One conditional UPDATE: renewing our own lease and taking over an expired one are the
    same statement, and the database lets only one of two racing processes match it.
    Clocks of the hosts running schedulers must agree (NTP) to well under the TTL.
    """
    now = now or utcnow()
    expires = now + timedelta(seconds=ttl_s)
    mine = SchedulerLease.holder == holder
    result = db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == NAME, or_(mine, SchedulerLease.expires_at < now))
        .values(holder=holder, expires_at=expires,
                acquired_at=case((mine, SchedulerLease.acquired_at),
                                 else_=literal(now, UTCDateTime)))
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if result.rowcount == 1:
        db.session.commit()
        return True
    db.session.rollback()
    try:  # the very first scheduler of a database
        db.session.execute(
            insert(SchedulerLease).values(
                name=NAME, holder=holder, acquired_at=now, expires_at=expires
            )
        )
        db.session.commit()
        return True
    except IntegrityError:
        db.session.rollback()
        return False


def release(holder: str) -> None:
    """Give the lease up at once (on a clean stop), so a standby takes over without waiting."""
    db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == NAME, SchedulerLease.holder == holder)
        .values(expires_at=utcnow() - timedelta(seconds=1))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def current() -> SchedulerLease | None:
    """The lease as it stands (its holder may have lapsed: compare expires_at with now)."""
    return db.session.scalar(select(SchedulerLease).where(SchedulerLease.name == NAME))
