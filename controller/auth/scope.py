"""Office scoping: staff only ever see the offices they are assigned to."""

from typing import TypeVar

from sqlalchemy import ColumnElement, Select, true

from controller.auth.models import User

T = TypeVar("T")


def in_scope(user: User, column) -> ColumnElement[bool]:
    """A WHERE clause limiting an office-id column to the user's offices."""
    scope = user.office_scope()
    return true() if scope is None else column.in_(scope)


def office_visible(user: User, office_id: int | None) -> bool:
    """Whether the user may see objects of this office."""
    scope = user.office_scope()
    return scope is None or office_id in scope


def get_visible(user: User, model: type[T], ident: int, message: str) -> T:
    """The model's row with that id if it belongs to the user's offices; NotFound(message)
    when it is missing or outside them (the two look alike, so ids reveal nothing)."""
    from controller.errors import NotFound
    from controller.extensions import db

    row = db.session.get(model, ident)
    office_id = getattr(row, "office_id", getattr(row, "id", None))  # an office is its own
    if row is None or not office_visible(user, office_id):
        raise NotFound(message)
    return row


def scoped(stmt: Select, user: User, column) -> Select:
    """Apply the user's office scope to a query."""
    return stmt.where(in_scope(user, column))
