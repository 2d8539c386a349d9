"""Several processes on one store: run id allocation, opening at once, fork safety."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from typing import Any

import pytest

from grange.metastore import (
    ArtifactRow,
    AttemptRecord,
    AttemptRow,
    MetadataStore,
    TaskRow,
    migrations,
)
from grange.metastore.engine import get_engine
from grange.runtime.zygote import task_fork

pytestmark = pytest.mark.slow

FLOW = "RaceFlow"
WORKERS = 6
RUNS_EACH = 15


def _allocate(url: str, n: int, barrier: Any, queue: Any, open_after_barrier: bool) -> None:
    """Worker: open the store (before or after everyone is ready), allocate ``n`` runs."""
    try:
        if open_after_barrier:
            barrier.wait()
            store = MetadataStore.from_url(url)
        else:
            store = MetadataStore.from_url(url)
            barrier.wait()
        ids = [
            store.new_run(FLOW, user=f"w{os.getpid()}", system_tags=["user:w"]) for _ in range(n)
        ]
        queue.put(("ok", ids))
    except BaseException as err:  # report it: the parent asserts on it
        queue.put(("error", repr(err)))


def _race(url: str, *, open_after_barrier: bool) -> list[list[str]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [
        ctx.Process(target=_allocate, args=(url, RUNS_EACH, barrier, queue, open_after_barrier))
        for _ in range(WORKERS)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    errors = [detail for kind, detail in results if kind == "error"]
    assert not errors, errors
    return [ids for _kind, ids in results]


def test_run_ids_are_unique_and_increasing_across_processes(metadata_url: str) -> None:
    per_process = _race(metadata_url, open_after_barrier=False)
    every = [int(i) for ids in per_process for i in ids]
    assert sorted(every) == list(range(1, WORKERS * RUNS_EACH + 1))  # unique, no gaps
    for ids in per_process:
        assert [int(i) for i in ids] == sorted(int(i) for i in ids)  # increasing in each
    store = MetadataStore.from_url(metadata_url)
    listed = [int(r.run_id) for r in store.list_runs(FLOW)]
    assert listed == sorted(every, reverse=True)


def test_processes_opening_a_new_store_at_once(metadata_url: str) -> None:
    per_process = _race(metadata_url, open_after_barrier=True)
    assert len({i for ids in per_process for i in ids}) == WORKERS * RUNS_EACH
    assert migrations.schema_version(get_engine(metadata_url)) == migrations.LATEST


def _child(body: Any, fork: Callable[[], int] = os.fork) -> int:
    """Fork; run ``body`` in the child; the child's exit code (0 when it passed)."""
    pid = fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            body()
            code = 0
        except BaseException as err:
            print(f"child failed: {err!r}", file=sys.stderr)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("how", ["os.fork", "fork server"])
def test_a_forked_child_opens_its_own_connections(store: MetadataStore, how: str) -> None:
    """Also when forked the fork server's way, which runs no os.register_at_fork hook."""
    first = store.new_run(FLOW, user="ada")
    engine = getattr(store, "engine", None)  # the sqlite3 store opens one per pid
    parent_pool = engine.pool if engine is not None else None
    assert engine is None or engine.pool.checkedin() >= 1  # the parent holds a connection

    def child() -> None:
        run_id = store.new_run(FLOW, user="child")
        if engine is not None:
            assert engine.pool is not parent_pool, "the child used the parent's pool"
        store.add_tags(FLOW, run_id, tags=["from-child"])
        assert store.get_run(FLOW, first) is not None

    assert _child(child, os.fork if how == "os.fork" else task_fork()) == 0
    # the parent's own pooled connection still works, and sees the child's write
    third = store.new_run(FLOW, user="ada")
    assert [r.run_id for r in store.list_runs(FLOW)] == [third, "2", first]
    assert store.run_tags(FLOW, "2").user == {"from-child"}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_workers_record_while_the_parent_writes(store: MetadataStore) -> None:
    run_id = store.new_run(FLOW, user="ada")
    workers, each = 4, 200
    store.register_tasks(
        [TaskRow(FLOW, run_id, "train", f"{w}-{i}") for w in range(workers) for i in range(each)]
    )
    pids = []
    for w in range(workers):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                for lo in range(0, each, 50):
                    store.record_attempts(
                        [
                            AttemptRecord(
                                AttemptRow(FLOW, run_id, "train", f"{w}-{i}", 0, status="ok"),
                                [ArtifactRow("x", f"k{w}-{i}", 1, "int", "pickle")],
                            )
                            for i in range(lo, lo + 50)
                        ]
                    )
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    for _ in range(20):
        store.heartbeat_run(FLOW, run_id)
        store.add_tags(FLOW, run_id, tags=["busy"])
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    assert codes == [0] * workers
    tasks = store.list_tasks(FLOW, run_id, step="train")
    assert len(tasks) == workers * each and {t.status for t in tasks} == {"ok"}
