"""Frozen monthly figures, the daily roll-up, and the index the reports read sessions by."""

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from controller.extensions import db
from controller.portal.models import PortalSession
from controller.types import UTCDateTime, utcnow

# Reports select sessions by when they started; the portal's own queries do not need it.
Index("ix_portal_sessions_started_at", PortalSession.started_at)

OFFICE_ROW = 0  # device_id of an office's own row


class ReportSnapshot(db.Model):
    """The figures of one office (device_id 0) or device for one closed month."""

    __tablename__ = "report_snapshots"

    month: Mapped[date] = mapped_column(primary_key=True)  # the first day of the month
    office_id: Mapped[int] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    device_name: Mapped[str] = mapped_column(String(100), default="")
    device_kind: Mapped[str] = mapped_column(String(20), default="")
    figures: Mapped[dict] = mapped_column(JSON, default=dict)
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # indicators.fingerprint() of the month's sessions when frozen: unchanged, no recount
    source: Mapped[list | None] = mapped_column(JSON)
    # Session details of the month were purged: a recomputation would no longer be a correction.
    details_purged: Mapped[bool] = mapped_column(default=False)


# The daily roll-up (controller/reports/rollup.py). No foreign keys: sessions keep the office
# and device ids of offices and gateways that may be gone, and so do their aggregates.
class ReportDay(db.Model):
    """One closed local day's hotspot figures of an office (device_id 0: all its sessions) or
    of one of its gateways."""

    __tablename__ = "report_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    device_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    sessions: Mapped[int]  # started that day
    bytes: Mapped[int] = mapped_column(BigInteger)  # of the sessions started that day
    seconds: Mapped[float] = mapped_column(Float)  # session time inside the day
    peak: Mapped[int]  # most sessions open at once during the day


class ReportRollupDay(db.Model):
    """A rolled-up day and the fingerprint of the sessions it was rolled up from."""

    __tablename__ = "report_rollup_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    # rollup.fingerprints() of the days whose sessions reach into this one, when rolled up
    source: Mapped[list] = mapped_column(JSON, default=list)
    rolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Its session details were purged: the roll-up is all there is, never recomputed.
    details_purged: Mapped[bool] = mapped_column(default=False)


class ReportMonthVisitor(db.Model):
    """A pseudonym seen in a month at an office's gateway (device_id 0: no gateway left), for
    unique users of whole months without reading every session."""

    __tablename__ = "report_month_visitors"

    month: Mapped[date] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    device_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    pseudonym: Mapped[str] = mapped_column(String(32), primary_key=True)
