"""A new local store is created with stdlib sqlite3, exactly as SQLAlchemy would create it."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from grange.metastore import MetadataStore, migrations, schema, sqlite_url
from grange.metastore.engine import dispose_all, get_engine
from grange.metastore.sqlite_schema import DDL, create_new
from grange.metastore.sqlite_store import SqliteStore


def _normalized(statement: str) -> str:
    return " ".join(statement.split())


def _sqlalchemy_ddl() -> list[str]:
    dialect = sqlite.dialect()
    out = []
    for table in schema.METADATA.sorted_tables:
        out.append(str(CreateTable(table).compile(dialect=dialect)))
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            out.append(str(CreateIndex(index).compile(dialect=dialect)))
    return out


def _master(path: Path) -> list[tuple[str, str, str]]:
    """Every table and index of the file with its SQL (whitespace normalized)."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name"
        ).fetchall()
    finally:
        connection.close()
    return [(kind, name, _normalized(sql)) for kind, name, sql in rows]


def _version(path: Path) -> list[tuple[int, int]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT id, version FROM schema_version").fetchall()
    finally:
        connection.close()


def test_the_ddl_is_what_sqlalchemy_emits_for_schema_py() -> None:
    assert [_normalized(s) for s in DDL] == [_normalized(s) for s in _sqlalchemy_ddl()]


def test_a_new_file_equals_one_made_by_sqlalchemy(tmp_path: Path) -> None:
    ours = tmp_path / "ours" / "metadata.db"
    create_new(ours)
    theirs = tmp_path / "theirs" / "metadata.db"
    try:
        migrations.migrate(get_engine(sqlite_url(theirs.parent)))
    finally:
        dispose_all()
    assert _master(ours) == _master(theirs)
    assert _version(ours) == _version(theirs) == [(1, migrations.LATEST)]


def test_from_url_creates_a_new_local_store_without_sqlalchemy(tmp_path: Path) -> None:
    store = MetadataStore.at_root(tmp_path / "new")
    assert isinstance(store, SqliteStore)
    run_id = store.new_run("F", user="ada", tags=["t"])
    again = MetadataStore.at_root(tmp_path / "new")
    run = again.get_run("F", run_id)
    assert run is not None and run.tags.user == {"t"}


def test_processes_creating_one_new_store_at_once_agree(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def create() -> None:
        try:
            start.wait()
            create_new(path)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _version(path) == [(1, migrations.LATEST)]
    assert [name for kind, name, _ in _master(path) if kind == "table"] == sorted(
        t.name for t in schema.METADATA.sorted_tables
    )


def _open_and_write(root: Path, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        store = MetadataStore.at_root(root)
        run_id = store.new_run("F", user="ada")
        results.put((type(store).__name__, run_id))
    except BaseException as e:  # reported by the parent
        results.put(("error", repr(e)))


def test_processes_opening_one_new_store_at_once_all_use_sqlite3(tmp_path: Path) -> None:
    """None of them falls back to SQLAlchemy because another one's file appeared first."""
    context = multiprocessing.get_context("fork")
    for trial in range(3):
        root = tmp_path / f"store-{trial}"
        barrier, results = context.Barrier(6), context.Queue()
        workers = [
            context.Process(target=_open_and_write, args=(root, barrier, results)) for _ in range(6)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=60)
        got = [results.get(timeout=10) for _ in workers]
        assert {kind for kind, _ in got} == {"SqliteStore"}, got
        assert sorted(int(run_id) for _, run_id in got) == list(range(1, 7))
