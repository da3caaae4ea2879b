"""Statements of the hottest paths, compiled once per dialect and run on the DBAPI cursor.

SQLAlchemy spends far more time per execution than SQLite takes to run a primary-key lookup;
for the few statements that every agent request runs, that overhead was most of the request.
A `Prepared` statement is written with SQLAlchemy Core as usual (so types, dialects and
column names stay checked), compiled once per dialect, and executed on the request's DBAPI
connection (`database.statement_target`: the ORM session shares it) with the columns' own bind
and result processors applied — the same values SQLAlchemy would have written and read, without
its per-call machinery.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ClauseElement

from controller.database import statement_target

Row = Sequence[Any]
Target = tuple[Dialect, Any]  # (dialect, DBAPI connection): where a statement runs


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # bind parameter names, in the order the SQL wants them
    binders: tuple[Callable | None, ...]
    readers: tuple[Callable | None, ...]
    positional: bool
    defaults: dict[str, Any]  # values bound inside the statement itself (IN lists, literals)


class Prepared:
    """One Core statement with named bind parameters, ready to run without SQLAlchemy."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("expanding IN lists cannot be prepared; compare with OR instead")
        if compiled.positional:
            names = tuple(compiled.positiontup or ())
        else:
            names = tuple(compiled.params)
        binders = tuple(compiled.binds[name].type._cached_bind_processor(dialect) for name in names)
        columns = getattr(self.statement, "selected_columns", ())
        readers = tuple(column.type._cached_result_processor(dialect, None) for column in columns)
        defaults = {name: value for name, value in compiled.params.items() if value is not None}
        return _Compiled(compiled.string, names, binders, readers, compiled.positional, defaults)

    def _run(self, params: Mapping[str, Any], target: Target | None):
        dialect, driver = target or statement_target()
        compiled = self._for(dialect)
        values = []
        defaults = compiled.defaults
        for name, binder in zip(compiled.names, compiled.binders, strict=True):
            value = params[name] if name in params else defaults[name]
            values.append(binder(value) if binder is not None else value)
        cursor = driver.cursor()
        args = values if compiled.positional else dict(zip(compiled.names, values, strict=True))
        try:
            cursor.execute(compiled.sql, args)
        except dialect.loaded_dbapi.IntegrityError as exc:
            cursor.close()
            raise IntegrityError(compiled.sql, args, exc) from exc
        return compiled, cursor

    def execute(self, params: Mapping[str, Any], target: Target | None = None) -> int:
        """Run an INSERT, UPDATE or DELETE; return the number of rows it touched.

        On target if given, else on the request's connection (so on every method)."""
        _compiled, cursor = self._run(params, target)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    def first(self, params: Mapping[str, Any], target: Target | None = None) -> Row | None:
        """Run a SELECT and return its first row (processed like SQLAlchemy would), or None."""
        compiled, cursor = self._run(params, target)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        return tuple(
            reader(value) if reader is not None else value
            for reader, value in zip(compiled.readers, row, strict=True)
        )
