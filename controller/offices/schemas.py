"""API shapes of offices."""

from datetime import datetime

from pydantic import Field

from controller.offices.models import OfficeType
from controller.schemas import Input, Output, PageQuery
from controller.validation import OptionalEmail, Teryt, Timezone


class OfficeFields(Input):
    """Editable fields of an office, all optional (PATCH semantics)."""

    NOT_NULL = ("name", "type", "address", "contact_person", "phone", "email", "timezone",
                "require_device_approval")  # fmt: skip

    name: str | None = Field(None, min_length=2, max_length=200)
    type: OfficeType | None = None
    teryt: Teryt = Field(None, description="TERYT code: 4 digits (powiat) or 7 (gmina).")
    address: str | None = Field(None, max_length=300)
    contact_person: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40, pattern=r"^[0-9 +()\-]*$")
    email: OptionalEmail | None = Field(None, max_length=254)
    timezone: Timezone | None = None
    require_device_approval: bool | None = Field(
        None, description="New device agents wait for an IT admin's approval."
    )


class OfficeCreate(OfficeFields):
    """A new office."""

    name: str = Field(min_length=2, max_length=200)
    type: OfficeType
    timezone: Timezone = "Europe/Warsaw"


class OfficeUpdate(OfficeFields):
    """A change to an office; fields left out stay as they are."""


class OfficeOut(Output):
    """An office as the API shows it."""

    id: int
    name: str
    type: OfficeType
    teryt: str | None
    address: str
    contact_person: str
    phone: str
    email: str
    timezone: str
    require_device_approval: bool
    created_at: datetime
    updated_at: datetime


class OfficeQuery(PageQuery):
    """Filters of the office list."""

    q: str | None = Field(None, max_length=100, description="Search in names and addresses.")


class OfficeRef(Output):
    """A short reference to an office inside other objects."""

    id: int
    name: str
