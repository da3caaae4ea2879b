"""Office scoping: staff only ever see the offices they are assigned to."""

from sqlalchemy import ColumnElement, Select, true

from controller.auth.models import User


def in_scope(user: User, column) -> ColumnElement[bool]:
    """A WHERE clause limiting an office-id column to the user's offices."""
    scope = user.office_scope()
    return true() if scope is None else column.in_(scope)


def office_visible(user: User, office_id: int | None) -> bool:
    """Whether the user may see objects of this office."""
    scope = user.office_scope()
    return scope is None or office_id in scope


def scoped(stmt: Select, user: User, column) -> Select:
    """Apply the user's office scope to a query."""
    return stmt.where(in_scope(user, column))
