"""Runs in the metadata store: ids, listing newest first, tag filters, finishing.

Every test using ``store`` runs on SQLite and, when ``GRANGE_TEST_POSTGRES_URL``
is set, on PostgreSQL too (see ``conftest.py``).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from grange.exceptions import GrangeError, MetadataError
from grange.metastore import MetadataStore
from grange.metastore.locked import NOTICE_AFTER_MS, TOTAL_WAIT_S
from grange.metastore.runs import runs_query


def _run(store: MetadataStore, flow: str = "TrainFlow", **kwargs: object) -> str:
    kwargs.setdefault("user", "ada")
    kwargs.setdefault("system_tags", ["user:ada", "runtime:local"])
    return store.new_run(flow, **kwargs)  # type: ignore[arg-type]


def test_run_ids_are_increasing_integers_per_flow(store: MetadataStore) -> None:
    assert [_run(store) for _ in range(3)] == ["1", "2", "3"]
    assert _run(store, "OtherFlow") == "1"
    assert _run(store) == "4"


def test_new_run_is_running_with_its_fields(store: MetadataStore) -> None:
    run_id = _run(store, tags=["exp"], parameters={"alpha": 0.5}, runtime="argo")
    run = store.get_run("TrainFlow", run_id)
    assert run is not None
    assert (run.status, run.user, run.runtime) == ("running", "ada", "argo")
    assert run.parameters == {"alpha": 0.5}
    assert run.tags.user == {"exp"}
    assert run.tags.system == {"user:ada", "runtime:local"}
    assert run.started_at is not None and run.heartbeat_at is not None
    assert run.finished_at is None and not run.finished and not run.successful
    assert run.pathspec == f"TrainFlow/{run_id}"
    assert store.get_flow("TrainFlow") is not None
    assert [f.name for f in store.list_flows()] == ["TrainFlow"]


def test_unknown_things_read_as_none_or_empty(store: MetadataStore) -> None:
    assert store.get_run("NoFlow", "1") is None
    assert store.get_flow("NoFlow") is None
    assert store.list_runs("NoFlow") == []
    assert store.list_steps("NoFlow", "1") == []


def test_list_runs_is_newest_first_with_limit(store: MetadataStore) -> None:
    ids = [_run(store) for _ in range(12)]
    assert [r.run_id for r in store.list_runs("TrainFlow")] == ids[::-1]
    assert [r.run_id for r in store.list_runs("TrainFlow", limit=2)] == ["12", "11"]


def test_list_runs_filters_by_all_tags(store: MetadataStore) -> None:
    _run(store, tags=["a"])
    _run(store, user="bob", system_tags=["user:bob"], tags=["a", "b"])
    _run(store, tags=["b"])
    assert [r.run_id for r in store.list_runs("TrainFlow", tags=["a"])] == ["2", "1"]
    assert [r.run_id for r in store.list_runs("TrainFlow", tags=["a", "b"])] == ["2"]
    assert [r.run_id for r in store.list_runs("TrainFlow", tags=["user:ada"])] == ["3", "1"]
    assert [r.run_id for r in store.list_runs("TrainFlow", tags=["user:bob", "b"])] == ["2"]
    assert store.list_runs("TrainFlow", tags=["user:carol"]) == []


def test_list_flows_in_a_namespace(store: MetadataStore) -> None:
    _run(store, "A")
    _run(store, "B", user="bob", system_tags=["user:bob"], tags=["x"])
    assert [f.name for f in store.list_flows(tags=["user:ada"])] == ["A"]
    assert [f.name for f in store.list_flows(tags=["user:bob", "x"])] == ["B"]
    assert store.list_flows(tags=["user:bob", "nope"]) == []
    assert [f.name for f in store.list_flows()] == ["A", "B"]


def test_namespace_filter_uses_the_tag_index(sqlite_store: MetadataStore) -> None:
    store = sqlite_store
    sql, params = runs_query("TrainFlow", tags=["user:ada"], limit=1, now=0.0, stale_after=60.0)
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(params))
        plan = " | ".join(r[-1] for r in rows)
    assert "ix_run_tags_tag" in plan, plan
    assert "uq_runs_flow_number" in plan or "sqlite_autoindex_runs" in plan, plan
    assert "SCAN runs" not in plan.replace("USING INDEX", "|"), plan


def test_finish_run(store: MetadataStore) -> None:
    ok, bad = _run(store), _run(store)
    store.finish_run("TrainFlow", ok, status="succeeded")
    store.finish_run("TrainFlow", bad, status="failed")
    done, failed = store.get_run("TrainFlow", ok), store.get_run("TrainFlow", bad)
    assert done is not None and failed is not None
    assert (done.status, done.finished, done.successful) == ("succeeded", True, True)
    assert (failed.status, failed.finished, failed.successful) == ("failed", True, False)
    assert done.finished_at is not None
    assert [r.run_id for r in store.list_runs("TrainFlow", status="succeeded")] == [ok]


def test_finish_run_refuses_other_statuses_and_unknown_runs(store: MetadataStore) -> None:
    run_id = _run(store)
    with pytest.raises(MetadataError, match="cannot finish with status 'crashed'"):
        store.finish_run("TrainFlow", run_id, status="crashed")
    with pytest.raises(MetadataError, match="no run TrainFlow/99"):
        store.finish_run("TrainFlow", "99", status="failed")
    with pytest.raises(MetadataError, match="no run TrainFlow/99"):
        store.heartbeat_run("TrainFlow", "99")


def test_scheduler_run_ids(store: MetadataStore) -> None:
    first = _run(store)
    assert _run(store, run_id="argo-train-x7k2") == "argo-train-x7k2"
    assert _run(store) == "3"  # the counter still moves, so ordering holds
    assert [r.run_id for r in store.list_runs("TrainFlow")] == ["3", "argo-train-x7k2", first]
    with pytest.raises(MetadataError, match="exists already"):
        _run(store, run_id="argo-train-x7k2")
    for bad in ("42", "", "a/b"):
        with pytest.raises(GrangeError, match="invalid run id"):
            _run(store, run_id=bad)


def test_origin_run_id_is_kept(store: MetadataStore) -> None:
    first = _run(store)
    resumed = _run(store, origin_run_id=first)
    run = store.get_run("TrainFlow", resumed)
    assert run is not None and run.origin_run_id == first


def test_rows_are_frozen(store: MetadataStore) -> None:
    run = store.get_run("TrainFlow", _run(store))
    assert run is not None
    with pytest.raises(AttributeError):
        run.status = "failed"  # type: ignore[misc]


def test_sqlite_store_runs_in_wal_mode(sqlite_store: MetadataStore) -> None:
    assert sqlite_store.engine.url.database
    assert sqlite_store.engine.url.database.endswith("/.grange/metadata.db")
    with sqlite_store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        # SQLite waits silently this long for a lock, then grange says so and waits on.
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == NOTICE_AFTER_MS
        assert TOTAL_WAIT_S >= 10
        assert sa.inspect(connection).has_table("runs")
