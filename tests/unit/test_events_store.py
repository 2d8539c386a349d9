"""The ``events`` table through :class:`EventStore`, on every backend of the metadata
index: SQLite through ``sqlite3`` and through SQLAlchemy, and PostgreSQL (a real
server, when ``GRANGE_TEST_POSTGRES_URL`` names one)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from grange.events.model import EventRecord
from grange.events.store import EventStore, open_event_store
from grange.exceptions import EventError
from grange.metastore import MetadataStore, sqlite_url
from pgdb import POSTGRES_ENV, fresh_database, needs_postgres


@pytest.fixture(params=["sqlite3", "sqlalchemy-sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    if request.param == "sqlite3":
        yield EventStore(MetadataStore.from_url(sqlite_url(tmp_path)))
    elif request.param == "sqlalchemy-sqlite":
        from grange.metastore.sql_store import SqlAlchemyStore

        yield EventStore(SqlAlchemyStore.open(sqlite_url(tmp_path)))
    else:
        import os

        if not os.environ.get(POSTGRES_ENV):
            pytest.skip(f"no PostgreSQL server: set {POSTGRES_ENV}")
        with fresh_database() as url:
            yield EventStore(MetadataStore.from_url(url))


def event(name: str = "new_data", **payload: object) -> EventRecord:
    return EventRecord.new(name, payload)


def test_an_event_is_recorded_once_and_read_back_whole(store: EventStore) -> None:
    sent = event(date="2024-06-01", rows=3, nested={"a": [1, 2]})
    assert store.record(sent) is True
    assert store.record(sent) is False  # delivered twice: recorded once
    again = EventRecord.new("other", {"id": sent.event_id})
    assert store.record(again) is False  # the id is what counts; the first one stays
    got = store.get(sent.event_id)
    assert got is not None and got.seq is not None
    assert got == sent.with_seq(got.seq)
    assert store.get("no-such-id") is None
    assert [e.event_id for e in store.list()] == [sent.event_id]


def test_lists_are_newest_first_by_name_and_paged(store: EventStore) -> None:
    sent = [event("a" if i % 2 else "b", i=i) for i in range(7)]
    for one in sent:
        store.record(one)
    newest = store.list(limit=3)
    assert [e.payload["i"] for e in newest] == [6, 5, 4]
    assert [e.payload["i"] for e in store.list("a")] == [5, 3, 1]
    assert [e.payload["i"] for e in store.list(limit=3, before_seq=newest[-1].seq)] == [3, 2, 1]
    assert store.list("none") == []


def test_after_reads_in_arrival_order_from_a_cursor(store: EventStore) -> None:
    assert store.last_seq() == 0 and store.after(0) == []
    for i in range(5):
        store.record(event(i=i))
    first = store.after(0, limit=2)
    assert [e.payload["i"] for e in first] == [0, 1]
    rest = store.after(first[-1].seq or 0)
    assert [e.payload["i"] for e in rest] == [2, 3, 4]
    assert store.last_seq() == rest[-1].seq
    assert store.after(store.last_seq()) == []


def test_concurrent_deliveries_of_the_same_events_record_each_once(store: EventStore) -> None:
    events = [event(i=i) for i in range(20)]
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def deliver() -> None:
        start.wait()
        for one in events:
            got = store.record(one)
            with lock:
                results.append(got)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == len(events) and len(results) == 4 * len(events)
    recorded = store.after(0, limit=1000)
    assert sorted(e.event_id for e in recorded) == sorted(e.event_id for e in events)
    seqs = [e.seq for e in recorded]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_the_profiles_store_is_the_local_index_of_the_datastore(tmp_path: Path) -> None:
    env = {"GRANGE_DATASTORE_ROOT": str(tmp_path / "store"), "HOME": str(tmp_path)}
    with pytest.raises(EventError, match="no grange store"):
        open_event_store(env=env, cwd=tmp_path, create=False)
    assert not (tmp_path / "store").exists()  # a reader leaves nothing behind
    store = open_event_store(env=env, cwd=tmp_path)
    store.record(event())
    assert (tmp_path / "store" / "metadata.db").is_file()
    assert "metadata.db" in store.describe()
    assert len(open_event_store(env=env, cwd=tmp_path, create=False).list()) == 1


def test_the_profiles_store_may_be_a_database_url(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    env = {"GRANGE_METADATA": url, "HOME": str(tmp_path)}
    open_event_store(env=env, cwd=tmp_path).record(event())
    assert (tmp_path / "elsewhere" / "metadata.db").is_file()
    assert not (tmp_path / ".grange" / "metadata.db").exists()


def test_a_profile_chooses_the_store(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.team]\ndatastore_root = "{tmp_path / "team"}"\n')
    env = {"GRANGE_CONFIG": str(config)}
    open_event_store("team", env=env, cwd=tmp_path).record(event())
    assert (tmp_path / "team" / "metadata.db").is_file()


@needs_postgres
def test_the_profiles_store_may_be_postgresql(tmp_path: Path) -> None:
    with fresh_database() as url:
        env = {"GRANGE_METADATA": url, "HOME": str(tmp_path)}
        store = open_event_store(env=env, cwd=tmp_path, create=False)
        assert store.record(event()) is True
        assert "postgresql://" in store.describe() and len(store.list()) == 1
    assert not (tmp_path / ".grange").exists()
