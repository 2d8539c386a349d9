"""A runtime killed with ``kill -9``: its tasks die with it, nothing half-written is
visible, the run reads as crashed at once on this host, and ``resume`` finishes it
reusing what was done. And two runs of one flow at once never mix their outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from grange import Flow
from grange.metastore import MetadataStore
from support import Runner

WAIT = 60.0  # an upper bound for things that take well under a second


def wait_for(what: str, condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie nobody reaped yet)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return state.split()[1] in ("Z", "X")


def kill_survivors(pids: list[int]) -> None:
    """Stop the test's own task processes that outlived their runtime (a failed test)."""
    for pid in pids:
        if not process_gone(pid):
            os.kill(pid, signal.SIGKILL)


def task_status(store: MetadataStore, run_id: str, step: str) -> list[str]:
    return [t.status for t in store.list_tasks("SleepyFlow", run_id, step=step)]


def kill_runtime_while_tasks_run(runner: Runner, fork: bool) -> tuple[str, list[int]]:
    """Start SleepyFlow, wait until both 'nap' tasks sleep, SIGKILL the runtime."""
    pids = runner.cwd / "pids"
    pids.mkdir()
    argv, id_file = runner.argv("sleepy", "run", fork=fork)
    assert id_file is not None
    with (runner.cwd / "runtime.log").open("w") as log:
        proc = subprocess.Popen(
            argv,
            cwd=runner.cwd,
            env=runner.env(SLEEPY_DIR=str(pids)),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for("both nap tasks to start", lambda: len(list(pids.glob("*.pid"))) == 2)
        run_id = id_file.read_text().strip()
        store = MetadataStore.from_url(runner.metadata_url())
        wait_for("prep to be recorded", lambda: task_status(store, run_id, "prep") == ["ok"])
        wait_for("nap to be recorded", lambda: len(task_status(store, run_id, "nap")) == 2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return run_id, [int(p.read_text()) for p in pids.glob("*.pid")]


def assert_nothing_half_written(root: Path) -> None:
    """Every visible record parses and every artifact it names is stored."""
    data = root / "SleepyFlow" / "data"
    for record_file in root.glob("SleepyFlow/*/*/*/*/record.json"):
        record = json.loads(record_file.read_text())
        for ref in record["artifacts"].values():
            assert (data / ref["key"][:2] / ref["key"]).is_file(), record_file


def test_kill_9_then_resume(runner: Runner, fork: bool) -> None:
    run_id, task_pids = kill_runtime_while_tasks_run(runner, fork)

    # The tasks die with the runtime.
    try:
        for pid in task_pids:
            wait_for(f"task process {pid} to die", lambda pid=pid: process_gone(pid), timeout=10)
    finally:
        kill_survivors(task_pids)

    # Nothing half-written: the killed tasks left no record, the finished ones all.
    assert_nothing_half_written(runner.root)
    assert not list(runner.root.glob(f"SleepyFlow/{run_id}/nap/*/*/record.json"))
    run = Flow("SleepyFlow")[run_id]
    assert run["prep"].task.data.prepared is True

    # On this host, a run whose runtime is gone reads crashed at once (no heartbeat wait).
    assert run.status == "crashed" and run.finished
    listing = subprocess.run(
        [sys.executable, "-c", "from grange.cli.main import main; main()", "runs", "SleepyFlow"],
        cwd=runner.cwd,
        env=runner.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "crashed" in listing.stdout and "running" not in listing.stdout
    store = MetadataStore.from_url(runner.metadata_url())
    assert task_status(store, run_id, "nap") == ["crashed", "crashed"]
    assert task_status(store, run_id, "prep") == ["ok"]

    # resume finishes it, reusing start and prep.
    resumed = runner.resume("sleepy", "--origin-run-id", run_id, fork=fork)
    assert "2 reused" in resumed.stdout
    new = Flow("SleepyFlow")[resumed.run_id]
    assert new.successful
    assert new.origin_pathspec == f"SleepyFlow/{run_id}"
    assert new["start"].task.origin_pathspec == f"SleepyFlow/{run_id}/start/1"
    assert new["prep"].task.origin_pathspec is not None
    assert not any(t.origin_pathspec for t in new["nap"])
    assert new.data.outs == [0, 1]
    assert Flow("SleepyFlow").latest_run == new


@pytest.mark.parametrize(
    "extra", [(), ("--with", "retry:times=2,minutes_between_retries=0")], ids=["", "retry"]
)
def test_ctrl_c_stops_the_tasks_and_resume_finishes_the_run(
    runner: Runner, extra: tuple[str, ...]
) -> None:
    """Also under @retry: the tasks Ctrl-C stopped are not retried (nor said to be)."""
    pids = runner.cwd / "pids"
    pids.mkdir()
    argv, id_file = runner.argv("sleepy", "run", *extra)
    proc = subprocess.Popen(
        argv,
        cwd=runner.cwd,
        env=runner.env(SLEEPY_DIR=str(pids)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for("both nap tasks to start", lambda: len(list(pids.glob("*.pid"))) == 2)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=WAIT)
    assert proc.returncode == 130  # interrupted, as shells report Ctrl-C
    assert "Interrupted (Ctrl-C); running tasks were stopped." in out
    assert "Resume with:" in out
    assert "will retry" not in out
    task_pids = [int(p.read_text()) for p in pids.glob("*.pid")]
    try:
        for pid in task_pids:
            wait_for(f"task process {pid} to die", lambda pid=pid: process_gone(pid), timeout=10)
    finally:
        kill_survivors(task_pids)
    assert id_file is not None
    run_id = id_file.read_text().strip()
    assert Flow("SleepyFlow")[run_id].status == "failed"
    resumed = runner.resume("sleepy")
    assert "2 reused" in resumed.stdout
    assert Flow("SleepyFlow")[resumed.run_id].data.outs == [0, 1]


def test_two_runs_of_one_flow_at_once_never_mix(runner: Runner) -> None:
    procs = []
    for value in ("left", "right"):
        argv, id_file = runner.argv("two_at_once", "run", "--value", value)
        proc = subprocess.Popen(
            argv, cwd=runner.cwd, env=runner.env(), stdout=subprocess.PIPE, text=True
        )
        procs.append((value, proc, id_file))
    run_ids = {}
    for value, proc, id_file in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        assert id_file is not None
        run_id = id_file.read_text().strip()
        run_ids[value] = run_id
        assert f"ConcurrentRunFlow/{run_id} succeeded" in out
        other = "right" if value == "left" else "left"
        assert f"value={value}" in out and f"value={other}" not in out
        prefixes = {line.split("/")[0] for line in out.splitlines() if line.startswith("[")}
        assert prefixes == {f"[{run_id}"}
    assert run_ids["left"] != run_ids["right"]
    for value, run_id in run_ids.items():
        run = Flow("ConcurrentRunFlow")[run_id]
        assert run.data.outs == [f"{value}-{n}" for n in range(8)]
        for task in run["work"]:
            assert task.stdout == f"value={value} item={task.index}\n"
