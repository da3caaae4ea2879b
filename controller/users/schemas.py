"""API shapes of staff accounts."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from controller.auth.roles import Role
from controller.offices.schemas import OfficeRef
from controller.schemas import Id, Input, Output, PageQuery
from controller.validation import Email

Language = Literal["pl", "en"]


class UserFields(Input):
    """Editable fields of a staff account, all optional (PATCH semantics)."""

    NOT_NULL = ("email", "name", "role", "office_ids", "active", "locale", "password")

    email: Email | None = Field(None, max_length=254)
    name: str | None = Field(None, max_length=200)
    role: Role | None = None
    office_ids: list[Id] | None = Field(
        None, max_length=500, description="Offices the account is limited to; empty: all."
    )
    active: bool | None = None
    locale: Language | None = None
    password: str | None = Field(None, min_length=10, max_length=200, repr=False)


class UserCreate(UserFields):
    """A new staff account."""

    email: Email = Field(max_length=254)
    role: Role


class UserUpdate(UserFields):
    """A change to a staff account; fields left out stay as they are."""


class UserOut(Output):
    """A staff account as the API shows it (never its password hash)."""

    id: int
    email: str
    name: str
    role: Role
    offices: list[OfficeRef]
    active: bool
    locale: str
    last_login: datetime | None
    created_at: datetime


class UserQuery(PageQuery):
    """Filters of the staff list."""

    role: Role | None = None
    q: str | None = Field(None, max_length=100, description="Search in e-mail and name.")
