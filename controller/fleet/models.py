"""Enrolment tokens of offices and the nonces of signed agent requests."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from controller.extensions import db
from controller.offices.models import Office
from controller.types import UTCDateTime, utcnow


class EnrollmentToken(db.Model):
    """A one-time (or few-times), expiring token that lets agents join an office."""

    __tablename__ = "enrollment_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uses_left: Mapped[int]

    office: Mapped[Office] = relationship(lazy="joined", innerjoin=True)


class AgentNonce(db.Model):
    """A nonce already used by a device, kept while its timestamp is inside the window."""

    __tablename__ = "agent_nonces"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
