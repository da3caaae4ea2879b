"""Column types and clock helpers shared by the models."""

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given for a UTC column")
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def result_processor(self, dialect, coltype):
        """On SQLite, one C call per value (lists read thousands of timestamps) instead of
        SQLAlchemy's parser and this decorator's wrapper; the same values either way."""
        default = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite":
            return default

        def process(value):
            if value.__class__ is str:
                try:
                    read = datetime.fromisoformat(value)
                except ValueError:
                    return default(value)
                return read if read.tzinfo is not None else read.replace(tzinfo=UTC)
            return default(value)

        return process
