"""Devices in the offices: telecentre PCs, infomats, hotspots, gateways."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.orm import Mapped, mapped_column, relationship

from controller.extensions import db
from controller.offices.models import Office, enum_column
from controller.types import UTCDateTime, utcnow


class DeviceKind(StrEnum):
    """What a device is."""

    PC = "pc"
    INFOMAT = "infomat"
    HOTSPOT = "hotspot"
    GATEWAY = "gateway"
    OTHER = "other"


class Management(StrEnum):
    """How the controller reaches a device."""

    AGENT = "agent"
    SSH = "ssh"
    NONE = "none"


class DeviceState(StrEnum):
    """Operational state of a device as the controller sees it."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


class DeviceTag(db.Model):
    """A free-form label on a device, used for filtering and bulk targets."""

    __tablename__ = "device_tags"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)

    def __init__(self, name: str) -> None:
        self.name = name


class Device(db.Model):
    """One managed or inventoried device in an office."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("office_id", "name"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(
        ForeignKey("offices.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[DeviceKind] = mapped_column(enum_column(DeviceKind), index=True)
    name: Mapped[str] = mapped_column(String(100))
    hostname: Mapped[str] = mapped_column(String(253), default="")
    mac: Mapped[str | None] = mapped_column(String(17), unique=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    serial_number: Mapped[str] = mapped_column(String(100), default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    management: Mapped[Management] = mapped_column(enum_column(Management), default=Management.NONE)
    state: Mapped[DeviceState] = mapped_column(
        enum_column(DeviceState), default=DeviceState.UNKNOWN, index=True
    )
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Endpoint agent: the per-device secret is derived from the instance secret and this salt,
    # so the database alone never holds a usable credential.
    agent_salt: Mapped[str | None] = mapped_column(String(32))
    agent_seq: Mapped[int] = mapped_column(default=0)  # last spooled record processed
    approved: Mapped[bool] = mapped_column(default=True)  # False: enrolled, awaiting approval
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    health: Mapped[dict | None] = mapped_column(JSON)  # the latest heartbeat, not a history
    inventory: Mapped[dict | None] = mapped_column(JSON)
    inventory_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    office: Mapped[Office] = relationship(lazy="joined", innerjoin=True)
    _tags: Mapped[list[DeviceTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by=DeviceTag.name
    )
    tags: AssociationProxy[list[str]] = association_proxy("_tags", "name")

    def __repr__(self) -> str:
        return f"<Device {self.id} {self.name!r}>"
