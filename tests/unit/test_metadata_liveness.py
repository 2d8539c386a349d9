"""Liveness: on the runtime's host, a run reads crashed as soon as its runtime process
is gone; from elsewhere the heartbeat window decides, and GRANGE_HEARTBEAT_WINDOW sets it."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from grange.exceptions import MetadataError
from grange.metastore import AttemptRow, MetadataStore, TaskRow
from grange.metastore.liveness import (
    RuntimeProcess,
    current_process,
    heartbeat_window,
    is_alive,
    this_host,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="exact on Linux")

OpenStore = Callable[..., MetadataStore]
FLOW = "LiveFlow"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def never_a_pid() -> int:
    """A pid no process can have: the kernel's pid_max is one past the largest."""
    return int(Path("/proc/sys/kernel/pid_max").read_text())


def me() -> RuntimeProcess:
    process = current_process()
    assert process is not None
    return process


def test_this_process_is_alive_and_others_are_told_apart() -> None:
    process = me()
    assert process.pid == os.getpid() and process.host == this_host()
    assert is_alive(process.host, process.pid, process.started) is True
    # Same pid, another start time: the pid was reused by another process.
    assert is_alive(process.host, process.pid, process.started + 1) is False
    assert is_alive(process.host, never_a_pid(), process.started) is False
    # Another host, or nothing recorded: this host cannot tell.
    assert is_alive("elsewhere:boot:1", process.pid, process.started) is None
    assert is_alive(None, None, None) is None


def test_the_host_id_names_host_boot_and_pid_namespace() -> None:
    host = this_host()
    assert host is not None
    name, boot, namespace = host.split(":")
    assert boot == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert namespace.isdigit() and name


def test_a_run_whose_runtime_is_gone_reads_crashed_at_once(open_store: OpenStore) -> None:
    clock = Clock()
    store = open_store(stale_after=60.0, clock=clock)
    dead = dataclasses.replace(me(), pid=never_a_pid())
    run_id = store.new_run(FLOW, user="ada", process=dead)
    store.register_tasks([TaskRow(FLOW, run_id, "start", "1", created_at=clock.now)])
    store.start_attempts([AttemptRow(FLOW, run_id, "start", "1", 0, started_at=clock.now)])
    run = store.get_run(FLOW, run_id)
    assert run is not None and run.status == "crashed"  # no heartbeat wait
    assert run.runtime_pid == never_a_pid()
    assert [r.run_id for r in store.list_runs(FLOW, status="crashed")] == [run_id]
    assert store.list_runs(FLOW, status="running") == []
    task = store.get_task(FLOW, run_id, step="start", task_id="1")
    assert task is not None and task.status == "crashed"


def test_a_run_whose_runtime_lives_reads_running_whatever_its_heartbeat(
    open_store: OpenStore,
) -> None:
    """A suspended laptop wakes up with a stale heartbeat: its runtime is alive."""
    clock = Clock()
    store = open_store(stale_after=60.0, clock=clock)
    run_id = store.new_run(FLOW, user="ada", process=me())
    clock.now += 3600
    assert store.get_run(FLOW, run_id).status == "running"  # type: ignore[union-attr]
    assert [r.run_id for r in store.list_runs(FLOW, status="running", limit=1)] == [run_id]
    store.finish_run(FLOW, run_id, status="failed")
    assert store.get_run(FLOW, run_id).status == "failed"  # type: ignore[union-attr]


def test_a_run_of_another_host_follows_the_heartbeat_window(open_store: OpenStore) -> None:
    clock = Clock()
    store = open_store(stale_after=60.0, clock=clock)
    other = RuntimeProcess("another-host:boot:4026531836", 1, 1)
    run_id = store.new_run(FLOW, user="ada", process=other)
    clock.now += 59
    assert store.get_run(FLOW, run_id).status == "running"  # type: ignore[union-attr]
    clock.now += 2
    assert store.get_run(FLOW, run_id).status == "crashed"  # type: ignore[union-attr]


def test_status_filters_with_a_limit_count_only_matching_runs(open_store: OpenStore) -> None:
    store = open_store(stale_after=60.0, clock=Clock())
    alive = store.new_run(FLOW, user="ada", process=me())
    dead = [
        store.new_run(FLOW, user="ada", process=dataclasses.replace(me(), pid=never_a_pid()))
        for _ in range(3)
    ]
    assert [r.run_id for r in store.list_runs(FLOW, status="running", limit=1)] == [alive]
    assert [r.run_id for r in store.list_runs(FLOW, status="crashed", limit=2)] == dead[::-1][:2]


def test_the_window_comes_from_the_environment(
    metadata_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert heartbeat_window({}, 60.0) == 60.0
    assert heartbeat_window({"GRANGE_HEARTBEAT_WINDOW": " 300 "}, 60.0) == 300.0
    for bad in ("soon", "5", "-1", "nan", "inf"):
        with pytest.raises(MetadataError, match="GRANGE_HEARTBEAT_WINDOW") as caught:
            heartbeat_window({"GRANGE_HEARTBEAT_WINDOW": bad}, 60.0)
        assert "at least 30" in caught.value.message
    monkeypatch.setenv("GRANGE_HEARTBEAT_WINDOW", "120")
    assert MetadataStore.from_url(metadata_url).stale_after == 120.0
    assert MetadataStore.from_url(metadata_url, stale_after=5.0).stale_after == 5.0


def test_a_version_1_store_is_migrated_and_its_runs_kept(tmp_path: Path) -> None:
    import sqlite3

    from grange.metastore import sqlite_url
    from grange.metastore.sqlite_schema import DDL

    path = tmp_path / "metadata.db"
    with sqlite3.connect(path) as db:
        for statement in DDL:
            db.execute(
                statement.replace(
                    "    runtime_host VARCHAR,\n    runtime_pid INTEGER,\n"
                    "    runtime_started BIGINT,\n",
                    "",
                )
            )
        db.execute("INSERT INTO schema_version VALUES (1, 1, 0)")
        db.execute(
            "INSERT INTO runs (flow, run_id, number, user, status, created_at, runtime) "
            "VALUES ('Old', '1', 1, 'ada', 'succeeded', 1.0, 'local')"
        )
        db.execute("INSERT INTO run_counters VALUES ('Old', 1)")
    store = MetadataStore.from_url(sqlite_url(tmp_path))
    old = store.get_run("Old", "1")
    assert old is not None and old.status == "succeeded" and old.runtime_pid is None
    run_id = store.new_run("Old", user="ada", process=me())
    assert run_id == "2" and store.get_run("Old", run_id).status == "running"  # type: ignore[union-attr]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchone() == (3,)
