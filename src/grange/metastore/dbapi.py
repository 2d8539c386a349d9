"""One text per query for every store: the connection the query modules talk to.

:mod:`grange.metastore.runs` and :mod:`grange.metastore.tasks` write each
statement once, as SQL that SQLite and PostgreSQL both accept, with ``?``
placeholders, and run it on a :class:`Sql`: the stdlib ``sqlite3``
connection of :class:`~grange.metastore.sqlite_store.SqliteStore` is one as
it is; :class:`DriverSql` makes one of a SQLAlchemy connection (SQLite or
PostgreSQL) by handing the same text to the driver (``exec_driver_sql``),
with ``?`` spelled ``%s`` for psycopg.

What "portable" means here: the column ``user`` is quoted (a reserved word in
PostgreSQL); booleans are written as Python ``bool`` and tested with ``NOT``,
never compared with 0 or 1; JSON columns are written as ``json.dumps`` text
and read back with :func:`from_json`, which takes SQLite's text and
PostgreSQL's already-parsed values alike; upserts use ``INSERT ... ON
CONFLICT ... DO UPDATE SET x = excluded.x`` and counters ``RETURNING``; no
``%`` appears in any statement (psycopg would read it as a placeholder).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


class Cursor(Protocol):
    """The result of :meth:`Sql.execute`: rows as tuples."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Sequence[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Sql(Protocol):
    """The part of a DB-API connection the query modules use."""

    @property
    def IntegrityError(self) -> type[Exception]: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...


class DriverSql:
    """A SQLAlchemy connection as a :class:`Sql`: the text goes to the driver as is."""

    def __init__(self, connection: Connection) -> None:
        from sqlalchemy.exc import IntegrityError

        self.connection = connection
        self.IntegrityError: type[Exception] = IntegrityError
        self._qmark = connection.dialect.paramstyle == "qmark"

    def _text(self, sql: str) -> str:
        return sql if self._qmark else sql.replace("?", "%s")

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        return self.connection.exec_driver_sql(self._text(sql), tuple(parameters))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> None:
        batch = [tuple(row) for row in rows]
        if batch:
            self.connection.exec_driver_sql(self._text(sql), batch)


def marks(count: int) -> str:
    """``?, ?, ...``: ``count`` placeholders."""
    return ", ".join("?" * count)


def to_json(value: Any) -> str | None:
    """A value for a JSON column (``None`` stays NULL)."""
    return None if value is None else json.dumps(value)


def from_json(value: Any) -> Any:
    """A JSON column's value: SQLite gives text, PostgreSQL the parsed value."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value
