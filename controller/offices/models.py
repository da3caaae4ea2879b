"""The offices of the county: starostwo, town and gmina offices."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from controller.extensions import db
from controller.types import UTCDateTime, utcnow


class OfficeType(StrEnum):
    """What kind of public office this is."""

    STAROSTWO = "starostwo"
    URZAD_MIEJSKI = "urzad_miejski"
    URZAD_GMINY = "urzad_gminy"
    OTHER = "other"


def enum_column(enum: type[StrEnum], length: int = 20) -> Enum:
    """A portable enum column stored as its string values with a CHECK constraint."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        name=enum.__name__.lower(),
    )


class Office(db.Model):
    """A public office (the unit that staff are scoped to)."""

    __tablename__ = "offices"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused: audit scope

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[OfficeType] = mapped_column(enum_column(OfficeType))
    teryt: Mapped[str | None] = mapped_column(String(7))
    address: Mapped[str] = mapped_column(String(300), default="")
    contact_person: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Warsaw")
    # New agents of this office wait for an IT admin's approval before they count.
    require_device_approval: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Office {self.id} {self.name!r}>"
