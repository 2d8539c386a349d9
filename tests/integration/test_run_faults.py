"""Fault injection: a run is killed at a random moment in one of six ways, and
through the client alone we check that it reads ``crashed`` or ``failed`` within
a second, that every run listed loads, and that ``resume`` finishes it with every
value right. Seeded: a failing trial names its seed, kind and moment."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_run_crash import WAIT, kill_survivors, process_gone, wait_for

from grange import Flow, Run
from grange.exceptions import ObjectNotFound
from grange.metastore.liveness import start_time
from support import Runner

pytestmark = pytest.mark.slow

TRIALS = 24
SEED = int(os.environ.get("GRANGE_FAULT_SEED", "20261206"))  # to explore other moments
N = 12
SQUARES = [i * i for i in range(N)]
KINDS = ("runtime", "group", "task", "fork-server", "ctrl-c", "sigterm")


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def a_live_task(folder: Path, rng: random.Random) -> int | None:
    """The pid of a 'work' task still running (checked by its start time), if any."""
    files = sorted(folder.iterdir())
    rng.shuffle(files)
    for file in files:
        try:
            pid, started = (int(x) for x in file.read_text().split())
        except (OSError, ValueError):
            continue
        if start_time(pid) == started:
            return pid
    return None


def inject(kind: str, proc: subprocess.Popen[bytes], folder: Path, rng: random.Random) -> None:
    if kind == "runtime":
        os.kill(proc.pid, signal.SIGKILL)
    elif kind == "group":
        os.killpg(proc.pid, signal.SIGKILL)
    elif kind == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends
    elif kind == "sigterm":
        os.kill(proc.pid, signal.SIGTERM)
    elif kind == "task":
        pid = a_live_task(folder, rng)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
    else:  # the fork server: the runtime's child
        for pid in children(proc.pid):
            os.kill(pid, signal.SIGKILL)


def fault_runs() -> list[Run]:
    """Every run of FaultFlow (none while the first run had no time to register)."""
    try:
        return list(Flow("FaultFlow").runs())
    except ObjectNotFound:
        return []


def check_everything_listed_loads() -> None:
    for run in fault_runs():
        assert run.status in ("succeeded", "failed", "crashed"), run
        for step in run:
            for task in step:
                if task.successful:
                    for artifact in task.artifacts:
                        artifact.data  # noqa: B018 - loading it is the check


def check_values(run_id: str) -> None:
    run = Flow("FaultFlow")[run_id]
    assert run.successful, run.status
    assert run.data.squares == SQUARES and run.data.checked is True
    assert sorted((t.data.square, t.index) for t in run["work"]) == [(i * i, i) for i in range(N)]


def test_runs_killed_at_random_moments_read_dead_and_resume_right(runner: Runner) -> None:
    rng = random.Random(SEED)
    kinds_seen = set()
    for trial in range(TRIALS):
        kind = KINDS[trial % len(KINDS)]
        fork = kind == "fork-server" or rng.random() < 0.75
        moment = rng.uniform(0.1, 1.5)  # a run takes ~0.5 s after ~0.4 s of start-up
        where = f"trial {trial} (seed {SEED}): {kind} at {moment:.2f}s, fork={fork}"
        folder = runner.cwd / f"tasks-{trial}"
        folder.mkdir()
        before = {run.id for run in fault_runs()}
        argv, id_file = runner.argv("faults", "run", "--max-workers", "4", fork=fork)
        proc = subprocess.Popen(
            argv,
            cwd=runner.cwd,
            env=runner.env(FAULT_DIR=str(folder)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, as from a terminal
        )
        try:
            if trial >= TRIALS - len(KINDS) and kind not in kinds_seen:
                # Its random moments all came after the run ended (a fast or a slow
                # machine): this time strike as soon as a task of the run is working.
                deadline = time.monotonic() + 30
                while proc.poll() is None and not any(folder.iterdir()):
                    assert time.monotonic() < deadline, f"{where}: no task started"
                    time.sleep(0.01)
            else:
                time.sleep(moment)
            if proc.poll() is None:
                inject(kind, proc, folder, rng)
                kinds_seen.add(kind)
            proc.wait(timeout=WAIT)
        finally:
            kill_survivors([proc.pid])
            with_pids = [int(p.name) for p in folder.iterdir()]
        new = [run for run in fault_runs() if run.id not in before]
        assert len(new) <= 1, where
        if new:
            run_id = new[0].id
            # Dead at once on this host: read within a second of the runtime's end.
            deadline = time.monotonic() + 1.0
            while Flow("FaultFlow")[run_id].status == "running":
                assert time.monotonic() < deadline, f"{where}: still running"
                time.sleep(0.05)
            status = Flow("FaultFlow")[run_id].status
            assert status in ("crashed", "failed", "succeeded"), where
            assert id_file is not None
        try:
            for pid in with_pids:
                wait_for(f"{where}: task {pid} to end", lambda p=pid: process_gone(p), timeout=10)
        finally:
            kill_survivors(with_pids)
        check_everything_listed_loads()
        if new and status != "succeeded":
            resumed = runner.resume("faults", "--origin-run-id", run_id, fork=fork)
            check_values(str(resumed.run_id))
        elif new:
            check_values(run_id)
    assert kinds_seen == set(KINDS)  # every kind hit a live run at least once
