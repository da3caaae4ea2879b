"""Captive portal: policies, vouchers, visitor sessions, pseudonym salts, seen neighbours."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from controller.extensions import db
from controller.types import UTCDateTime, utcnow


class PortalPolicy(db.Model):
    """The county default policy (office_id NULL) or one office's full override."""

    __tablename__ = "portal_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int | None] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE"), unique=True
    )
    methods: Mapped[list] = mapped_column(JSON, default=list)
    session_seconds: Mapped[int]
    daily_seconds: Mapped[int]
    idle_timeout_seconds: Mapped[int]
    session_bytes: Mapped[int | None] = mapped_column(BigInteger)
    daily_bytes: Mapped[int | None] = mapped_column(BigInteger)
    rate_down_kbit: Mapped[int | None]
    rate_up_kbit: Mapped[int | None]
    devices_per_voucher: Mapped[int] = mapped_column(default=1)
    opening_hours: Mapped[list | None] = mapped_column(JSON)  # None: always open
    walled_garden_hosts: Mapped[list] = mapped_column(JSON, default=list)
    walled_garden_cidrs: Mapped[list] = mapped_column(JSON, default=list)
    terms_pl: Mapped[str] = mapped_column(Text, default="")
    terms_en: Mapped[str] = mapped_column(Text, default="")
    wifi4eu_network_identifier: Mapped[str | None] = mapped_column(String(100))
    wifi4eu_snippet_url: Mapped[str | None] = mapped_column(String(300))
    updated_by: Mapped[str] = mapped_column(String(254), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class VoucherBatch(db.Model):
    """Vouchers made together for one office by an IT admin."""

    __tablename__ = "voucher_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"), index=True)
    count: Mapped[int]
    seconds: Mapped[int]  # time allowance of each voucher
    bytes: Mapped[int | None] = mapped_column(BigInteger)  # data allowance; None: no cap
    max_devices: Mapped[int] = mapped_column(default=1)
    multi_use: Mapped[bool] = mapped_column(default=False)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Voucher(db.Model):
    """One voucher: only the keyed hash of its code is stored."""

    __tablename__ = "vouchers"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("voucher_batches.id", ondelete="CASCADE"), index=True
    )
    office_id: Mapped[int] = mapped_column(index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    first_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PortalSession(db.Model):
    """A visitor's session on a gateway, granted here or reported after an offline start."""

    __tablename__ = "portal_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36), unique=True)  # made by the gateway
    office_id: Mapped[int] = mapped_column(index=True)  # kept for scoping and reports
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    pseudonym: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(10))
    voucher_id: Mapped[int | None] = mapped_column(
        ForeignKey("vouchers.id", ondelete="SET NULL"), index=True
    )
    offline: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_update_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bytes_down: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_up: Mapped[int] = mapped_column(BigInteger, default=0)
    end_reason: Mapped[str | None] = mapped_column(String(20))
    granted_seconds: Mapped[int | None]
    granted_bytes: Mapped[int | None] = mapped_column(BigInteger)
    rate_down_kbit: Mapped[int | None]
    rate_up_kbit: Mapped[int | None]
    idle_timeout_seconds: Mapped[int | None]  # None: not granted here (a gateway's record)
    end_requested_by: Mapped[str | None] = mapped_column(String(254))
    end_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_portal_sessions_pseudonym_started_at", "pseudonym", "started_at"),)

    @property
    def live(self) -> bool:
        """Whether the session has not ended yet."""
        return self.ended_at is None

    @property
    def expires_at(self) -> datetime | None:
        """When the grant runs out (None for sessions not granted here)."""
        from datetime import timedelta

        if self.granted_seconds is None:
            return None
        return self.started_at + timedelta(seconds=self.granted_seconds)


class PortalAttempt(db.Model):
    """A wrong voucher code typed by a visitor, kept ten minutes to limit guessing."""

    __tablename__ = "portal_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_portal_attempts_pseudonym_at", "pseudonym", "at"),)


class PseudonymSalt(db.Model):
    """The salt of visitor pseudonyms for one reporting year (made when first needed)."""

    __tablename__ = "pseudonym_salts"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Neighbour(db.Model):
    """A MAC address a gateway saw on its office LAN (ARP sweep), for adoption."""

    __tablename__ = "portal_neighbours"

    office_id: Mapped[int] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True
    )
    mac: Mapped[str] = mapped_column(String(17), primary_key=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
