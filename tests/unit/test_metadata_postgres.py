"""The metadata store on PostgreSQL: what only PostgreSQL can show.

These tests, and a ``[postgres]`` variant of every test using the ``store`` or
``metadata_url`` fixture, run when ``GRANGE_TEST_POSTGRES_URL`` names a server
(``postgresql://user@host:port/db``; each test works in a schema of its own,
dropped afterwards).

``.ci/run`` starts a server on loopback and sets the variable.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from grange.metastore import MetadataStore, TaskKey, TaskRow
from grange.metastore.engine import dispose_all

POSTGRES_ENV = "GRANGE_TEST_POSTGRES_URL"

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get(POSTGRES_ENV),
        reason=f"no PostgreSQL server: set {POSTGRES_ENV}=postgresql://user@host:port/db",
    ),
    pytest.mark.parametrize("metadata_url", ["postgres"], indirect=True),
]


def test_plain_postgresql_urls_use_psycopg(metadata_url: str) -> None:
    plain = metadata_url.replace("postgresql+psycopg://", "postgresql://", 1)
    store = MetadataStore.from_url(plain)
    assert store.engine.dialect.name == "postgresql"
    assert store.engine.dialect.driver == "psycopg"
    run_id = store.new_run("PgFlow", user="ada", system_tags=["user:ada"])
    store.register_tasks([TaskRow("PgFlow", run_id, "start", "1")])
    assert store.get_task("PgFlow", run_id, step="start", task_id="1") is not None
    assert store.latest_attempt(TaskKey("PgFlow", run_id, "start", "1")) is None
    dispose_all()


def test_tables_use_portable_types(store: MetadataStore) -> None:
    columns = {c["name"]: c["type"] for c in sa.inspect(store.engine).get_columns("runs")}
    assert isinstance(columns["parameters"], sa.JSON)
    assert isinstance(columns["created_at"], sa.Double | sa.Float)
