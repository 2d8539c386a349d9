"""Fixtures of the metadata tests: a real store on SQLite, and on PostgreSQL when asked.

``open_store`` (and so ``store``) runs each test with both implementations of
the store on SQLite: SQLAlchemy's and the stdlib ``sqlite3`` one that
``MetadataStore.from_url`` picks for an existing, up-to-date file.

``metadata_url`` (and so ``store``) runs each test on a fresh SQLite file under
``tmp_path`` and, when ``GRANGE_TEST_POSTGRES_URL`` names a server
(``postgresql://user@host:port/db``, a role that may create schemas), once more
on a fresh PostgreSQL schema. Without it only ``test_metadata_postgres.py``
reports the PostgreSQL tests as skipped, with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from grange.metastore import MetadataStore
from grange.metastore.engine import dispose_all, sqlite_url
from grange.metastore.sql_store import SqlAlchemyStore
from grange.metastore.sqlite_file import sqlite_path
from grange.metastore.sqlite_store import SqliteStore
from support import POSTGRES_ENV, postgres_schema

BACKENDS = ["sqlite", "postgres"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]
IMPLEMENTATIONS = ["sqlalchemy", "sqlite3"]

OpenStore = Callable[..., MetadataStore]


@pytest.fixture(params=BACKENDS)
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty metadata database, closed and removed after the test."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "store")
        dispose_all()
        return
    yield from postgres_schema(os.environ[POSTGRES_ENV])


@pytest.fixture(params=IMPLEMENTATIONS)
def open_store(request: pytest.FixtureRequest, metadata_url: str) -> Iterator[OpenStore]:
    """``open_store(**kwargs)``: a store on ``metadata_url`` in one implementation.

    The database is created (migrated) first through SQLAlchemy, as
    ``from_url`` does for a new file.
    """
    opened: list[SqliteStore] = []
    path = sqlite_path(metadata_url)
    if request.param == "sqlite3" and path is None:
        pytest.skip("the sqlite3 store serves SQLite files only")

    def open_store(**kwargs: Any) -> MetadataStore:
        created = SqlAlchemyStore.open(metadata_url, **kwargs)
        if request.param == "sqlalchemy":
            return created
        assert path is not None
        opened.append(SqliteStore(path, **kwargs))
        return opened[-1]

    yield open_store
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> MetadataStore:
    """A migrated, empty :class:`~grange.metastore.MetadataStore`."""
    return open_store()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlAlchemyStore]:
    """A SQLAlchemy store on SQLite, for tests of SQLite itself (query plans, pragmas)."""
    yield SqlAlchemyStore.open(sqlite_url(tmp_path / ".grange"))
    dispose_all()
