"""Schema migrations: idempotent, ordered, and refusing a store from a newer grange."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from grange.exceptions import MetadataError
from grange.metastore import MetadataStore, migrations, schema
from grange.metastore.engine import get_engine
from grange.metastore.sql_store import SqlAlchemyStore


def test_a_new_store_is_at_the_latest_version(metadata_url: str) -> None:
    engine = get_engine(metadata_url)
    assert migrations.schema_version(engine) == 0
    assert migrations.migrate(engine) == migrations.LATEST
    assert migrations.schema_version(engine) == migrations.LATEST


def test_migrate_is_idempotent_and_keeps_data(metadata_url: str) -> None:
    store = SqlAlchemyStore.open(metadata_url)
    run_id = store.new_run("F", user="ada", tags=["keep"])
    for _ in range(3):
        assert migrations.migrate(store.engine) == migrations.LATEST
    store = MetadataStore.from_url(metadata_url)
    run = store.get_run("F", run_id)
    assert run is not None and run.tags.user == {"keep"}
    with get_engine(metadata_url).connect() as connection:
        rows = connection.execute(sa.select(schema.schema_version)).all()
    assert [(r.id, r.version) for r in rows] == [(1, migrations.LATEST)]


def test_the_database_matches_schema_py(metadata_url: str) -> None:
    MetadataStore.from_url(metadata_url)
    inspector = sa.inspect(get_engine(metadata_url))
    for table in schema.METADATA.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == set(table.columns.keys()), table.name
    indexes = {i["name"] for i in inspector.get_indexes("run_tags")}
    assert "ix_run_tags_tag" in indexes


def test_a_store_from_a_newer_grange_is_refused(metadata_url: str) -> None:
    MetadataStore.from_url(metadata_url)
    with get_engine(metadata_url).begin() as connection:
        connection.execute(schema.schema_version.update().values(version=migrations.LATEST + 1))
    with pytest.raises(MetadataError, match=r"written by a newer grange.*upgrade") as caught:
        MetadataStore.from_url(metadata_url)
    assert "pip install --upgrade grange" in caught.value.render()


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [v for v, _doc, _step in migrations.MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1))
    assert versions[-1] == migrations.LATEST


def test_an_older_store_runs_the_missing_steps_once(
    metadata_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlAlchemyStore.open(metadata_url)
    run_id = store.new_run("F", user="ada")
    calls: list[int] = []

    def add_note(connection: Connection) -> None:
        calls.append(1)
        connection.exec_driver_sql("ALTER TABLE runs ADD COLUMN note VARCHAR")

    later = (*migrations.MIGRATIONS, (migrations.LATEST + 1, "add runs.note", add_note))
    monkeypatch.setattr(migrations, "MIGRATIONS", later)
    monkeypatch.setattr(migrations, "LATEST", migrations.LATEST + 1)
    assert migrations.migrate(store.engine) == migrations.LATEST
    assert migrations.migrate(store.engine) == migrations.LATEST
    assert calls == [1]
    assert migrations.schema_version(store.engine) == migrations.LATEST
    assert "note" in {c["name"] for c in sa.inspect(store.engine).get_columns("runs")}
    assert store.get_run("F", run_id) is not None


def test_a_failed_migration_changes_nothing(
    metadata_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlAlchemyStore.open(metadata_url)
    before = migrations.LATEST

    def broken(connection: Connection) -> None:
        connection.exec_driver_sql("ALTER TABLE runs ADD COLUMN half_done VARCHAR")
        raise RuntimeError("boom")

    monkeypatch.setattr(
        migrations, "MIGRATIONS", (*migrations.MIGRATIONS, (before + 1, "x", broken))
    )
    monkeypatch.setattr(migrations, "LATEST", before + 1)
    with pytest.raises(RuntimeError, match="boom"):
        migrations.migrate(store.engine)
    assert migrations.schema_version(store.engine) == before
    assert "half_done" not in {c["name"] for c in sa.inspect(store.engine).get_columns("runs")}
