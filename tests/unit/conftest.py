"""Fixtures of the metadata tests: a real store on SQLite, and on PostgreSQL when asked.

``metadata_url`` (and so ``store``) runs each test on a fresh SQLite file under
``tmp_path`` and, when ``GRANGE_TEST_POSTGRES_URL`` names a server
(``postgresql://user@host:port/db``, a role that may create schemas), once more
on a fresh PostgreSQL schema. Without it only ``test_metadata_postgres.py``
reports the PostgreSQL tests as skipped, with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from grange.metastore import MetadataStore
from grange.metastore.engine import dispose_all, normalize_url, sqlite_url

POSTGRES_ENV = "GRANGE_TEST_POSTGRES_URL"


BACKENDS = ["sqlite", "postgres"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


@pytest.fixture(params=BACKENDS)
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty metadata database, closed and removed after the test."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "store")
        dispose_all()
        return
    yield from postgres_schema(os.environ[POSTGRES_ENV])


def postgres_schema(base: str) -> Iterator[str]:
    """A URL whose connections work in a new schema, dropped afterwards."""
    name = f"grange_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_url(base))
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        url = sa.make_url(normalize_url(base)).update_query_dict(
            {"options": f"-csearch_path={name}"}
        )
        yield url.render_as_string(hide_password=False)
        dispose_all()
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    finally:
        admin.dispose()


@pytest.fixture
def store(metadata_url: str) -> MetadataStore:
    """A migrated, empty :class:`~grange.metastore.MetadataStore`."""
    return MetadataStore.from_url(metadata_url)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[MetadataStore]:
    """A store on SQLite only, for tests of SQLite itself (query plans, pragmas)."""
    yield MetadataStore.at_root(tmp_path / ".grange")
    dispose_all()
