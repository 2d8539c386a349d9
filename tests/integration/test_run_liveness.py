"""Runs end the way users expect: SIGTERM and SIGHUP stop a run like Ctrl-C; what a
step starts never outlives it; resume refuses a run still running (unless --force),
names a deleted one, reuses everything of a succeeded one and every committed task."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from test_run_crash import WAIT, kill_survivors, process_gone, wait_for

from grange import Flow
from grange.metastore import MetadataStore
from support import Runner


def start_sleepy(
    runner: Runner, *, session: bool = False, fork: bool = True, nohup: bool = False
) -> tuple[subprocess.Popen[str], Path]:
    """SleepyFlow running, both 'nap' tasks started; returns the runtime and its run-id file."""
    pids = runner.cwd / "pids"
    pids.mkdir(exist_ok=True)
    argv, id_file = runner.argv("sleepy", "run", fork=fork)
    if nohup:
        argv = ["nohup", *argv]
    assert id_file is not None
    proc = subprocess.Popen(
        argv,
        cwd=runner.cwd,
        env=runner.env(SLEEPY_DIR=str(pids)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=session,
    )
    wait_for("both nap tasks to start", lambda: len(list(pids.glob("*.pid"))) == 2)
    return proc, id_file


def nap_pids(runner: Runner) -> list[int]:
    return [int(p.read_text()) for p in (runner.cwd / "pids").glob("*.pid")]


@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGTERM, False), (signal.SIGHUP, False), (signal.SIGTERM, True)],
    ids=["SIGTERM", "SIGHUP", "SIGTERM-to-the-group"],
)
def test_sigterm_and_sighup_stop_the_run_like_ctrl_c(
    runner: Runner, sig: signal.Signals, group: bool
) -> None:
    proc, id_file = start_sleepy(runner, session=group)
    try:
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        out, _ = proc.communicate(timeout=WAIT)
    finally:
        kill_survivors([proc.pid])
    assert proc.returncode == 128 + sig, out
    assert f"Stopped by {sig.name}; running tasks were stopped." in out
    assert "Resume with:" in out
    tasks = nap_pids(runner)
    try:
        for pid in tasks:
            wait_for(f"task {pid} to end", lambda pid=pid: process_gone(pid), timeout=10)
    finally:
        kill_survivors(tasks)
    run_id = id_file.read_text().strip()
    assert Flow("SleepyFlow")[run_id].status == "failed"
    resumed = runner.resume("sleepy")
    assert "2 reused" in resumed.stdout
    assert Flow("SleepyFlow")[resumed.run_id].data.outs == [0, 1]


def test_under_nohup_sighup_stops_nothing(runner: Runner, fork: bool) -> None:
    proc, _ = start_sleepy(runner, session=True, fork=fork, nohup=True)
    try:
        os.killpg(proc.pid, signal.SIGHUP)  # the terminal closed
        time.sleep(0.5)
        assert proc.poll() is None
        assert not any(process_gone(pid) for pid in nap_pids(runner))
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=WAIT)
    finally:
        kill_survivors([proc.pid])
    assert proc.returncode == 128 + signal.SIGTERM, out
    assert "Stopped by SIGTERM" in out
    assert_gone(nap_pids(runner))


def test_resume_of_a_run_still_running_is_refused_unless_forced(runner: Runner) -> None:
    proc, id_file = start_sleepy(runner)
    try:
        run_id = id_file.read_text().strip()
        store = MetadataStore.from_url(runner.metadata_url())
        wait_for("prep to be recorded", lambda: store.get_run("SleepyFlow", run_id) is not None)
        refused = runner.resume("sleepy", ok=False)
        assert refused.returncode == 2, refused.explain()
        assert f"run SleepyFlow/{run_id} is still running" in refused.output
        assert f"process {proc.pid}" in refused.output
        assert "--force" in refused.output and "Traceback" not in refused.output
        assert refused.run_id is None
        forced = runner.resume("sleepy", "--force", "--origin-run-id", run_id)
        assert Flow("SleepyFlow")[forced.run_id].data.outs == [0, 1]
    finally:
        proc.kill()
        proc.communicate()
        kill_survivors(nap_pids(runner))


def test_resume_of_a_run_whose_folder_was_deleted_says_so(runner: Runner) -> None:
    failed = runner.run("fail", env=runner.env(FAIL_ITEM="2"), ok=False)
    shutil.rmtree(runner.root / "FailRunFlow" / str(failed.run_id))
    result = runner.resume("fail", ok=False)
    assert result.returncode == 2
    assert f"run FailRunFlow/{failed.run_id} cannot be resumed" in result.output
    assert "was deleted" in result.output and "Traceback" not in result.output
    assert result.run_id is None


def test_resume_of_a_succeeded_run_reuses_every_task(runner: Runner) -> None:
    first = runner.run("fail")
    result = runner.resume("fail")
    assert "(0 task(s) run, 6 reused): nothing needed re-running." in result.stdout
    run = Flow("FailRunFlow")[result.run_id]
    assert run.successful and run.origin_pathspec == f"FailRunFlow/{first.run_id}"
    assert all(task.origin_pathspec for step in run for task in step)
    assert run.data.outs == [10, 20, 30]


def test_resume_reuses_tasks_committed_but_never_indexed(runner: Runner) -> None:
    """A runtime killed right after tasks committed never indexed them: the
    datastore's records are the truth, and resume reuses those tasks."""
    failed = runner.run("fail", env=runner.env(FAIL_ITEM="3"), ok=False)
    with sqlite3.connect(runner.root / "metadata.db") as db:
        for table in ("tasks", "attempts", "artifacts"):
            db.execute(f"DELETE FROM {table} WHERE step = 'work'")
    result = runner.resume("fail", "--origin-run-id", str(failed.run_id))
    run = Flow("FailRunFlow")[result.run_id]
    reused = sorted(t.data.out for t in run["work"] if t.origin_pathspec)
    assert reused == [10, 20]  # items 1 and 2 committed; item 3 ran again
    assert run.data.outs == [10, 20, 30]


# -- what a step starts does not outlive it --------------------------------------------


def children_of_the_step(folder: Path) -> list[int]:
    return [int((folder / name).read_text()) for name in ("background", "popen")]


def start_children(runner: Runner, fork: bool) -> tuple[subprocess.Popen[bytes], Path]:
    folder = runner.cwd / "children"
    folder.mkdir()
    argv, _ = runner.argv("children", "run", fork=fork)
    proc = subprocess.Popen(
        argv,
        cwd=runner.cwd,
        env=runner.env(CHILDREN_DIR=str(folder), CHILDREN_HOLD="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for("the step to start its children", lambda: (folder / "holding").exists())
    return proc, folder


def assert_gone(pids: list[int]) -> None:
    try:
        for pid in pids:
            wait_for(f"process {pid} to end", lambda pid=pid: process_gone(pid), timeout=10)
    finally:
        kill_survivors(pids)


def test_processes_a_step_starts_end_with_its_task(runner: Runner, fork: bool) -> None:
    folder = runner.cwd / "children"
    folder.mkdir()
    result = runner.run("children", fork=fork, env=runner.env(CHILDREN_DIR=str(folder)))
    assert Flow("ChildrenFlow")[result.run_id].data.started is True
    pids = children_of_the_step(folder)
    assert [pid for pid in pids if not process_gone(pid)] == []
    kill_survivors(pids)


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return int(stat[stat.rfind(b")") + 2 :].split()[1])


@pytest.mark.parametrize("target", ["runtime", "task", "parent"])
def test_processes_a_step_starts_end_when_it_is_killed(
    runner: Runner, fork: bool, target: str
) -> None:
    """``parent``: the fork server (fork), or the guard of a fresh interpreter (no-fork)."""
    proc, folder = start_children(runner, fork)
    task = int((folder / "holding").read_text())
    victim = {"runtime": proc.pid, "task": task, "parent": parent_of(task)}[target]
    assert victim != proc.pid or target == "runtime"
    try:
        os.kill(victim, signal.SIGKILL)
        proc.wait(timeout=WAIT)
    finally:
        kill_survivors([proc.pid])
    assert_gone([task, *children_of_the_step(folder)])
