"""A fresh PostgreSQL database for a test module: created with a random name, dropped after.

Runs against the server of ``GRANGE_TEST_POSTGRES_URL`` (``.ci/run`` starts one);
its role must be allowed to create databases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES_ENV = "GRANGE_TEST_POSTGRES_URL"

needs_postgres = pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV),
    reason=f"no PostgreSQL server: set {POSTGRES_ENV}=postgresql://user@host:port/db",
)


@contextmanager
def fresh_database(base: str | None = None) -> Iterator[str]:
    """The ``postgresql://`` URL of a new, empty database, dropped afterwards."""
    import sqlalchemy as sa

    from grange.metastore.engine import dispose_all, normalize_url

    base = base or os.environ[POSTGRES_ENV]
    name = f"grange_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.make_url(base).set(database=name)
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            dispose_all()
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
