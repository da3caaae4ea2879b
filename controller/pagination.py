"""List queries: text search, counting and slicing into pages."""

from dataclasses import dataclass
from math import ceil
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select

from controller.extensions import db


@dataclass
class Paged:
    """One page of results with the totals needed to navigate."""

    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, ceil(self.total / self.per_page))


def paginate(stmt: Select, page: int, per_page: int) -> Paged:
    """Run a query for one page and count the whole result."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique()
    return Paged(list(rows), total or 0, page, per_page)


def matches(text: str, *columns) -> ColumnElement[bool]:
    """Case-insensitive search for text in any of the columns; % and _ match literally."""
    return matching(contains_pattern(text), *columns)


def matching(pattern, *columns) -> ColumnElement[bool]:
    """Whether any of the columns, lower-cased, is LIKE pattern (see contains_pattern); the
    pattern may be a bind parameter, so the statement can be built once."""
    return or_(*(func.lower(c).like(pattern, escape="/") for c in columns))


def contains_pattern(text: str) -> str:
    """The LIKE pattern (escape character /) of lower-cased text anywhere in a value."""
    needle = text.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{needle}%"
