"""Frozen monthly figures, and the index the reports read portal sessions by."""

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String
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
