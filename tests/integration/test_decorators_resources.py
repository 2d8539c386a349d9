"""@resources on this machine: tasks asking for every CPU never overlap (proved by the
marker files they write, not by durations); a request larger than the machine runs
alone with one notice; GPUs are handed out one per task and never shared; a step
without @resources is bounded only by --max-workers; @environment sets variables."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from decorator_support import flow, intervals, overlap
from grange import Flow
from grange.runtime.resources import Machine
from support import Runner

CPUS = len(os.sched_getaffinity(0))


def markers(runner: Runner) -> Path:
    folder = runner.cwd / "markers"
    folder.mkdir()
    return folder


def assert_one_at_a_time(folder: Path, peak: int) -> None:
    spans = intervals(folder)
    assert len(spans) == 3
    assert peak == 1  # no task saw another one's running-* marker
    for a, b in itertools.combinations(spans.values(), 2):
        assert not overlap(a, b), spans


def test_tasks_asking_for_every_cpu_run_one_at_a_time(runner: Runner) -> None:
    folder = markers(runner)
    result = runner.run(flow("resources_foreach"), env=runner.env(MARKERS_DIR=str(folder)))
    run = Flow("ResourcesForeachFlow")[result.run_id]
    assert_one_at_a_time(folder, run["join"].task.data.peak)
    assert "more than this machine has" not in result.stdout


def test_with_resources_makes_the_tasks_of_a_plain_step_reserve_cpus(runner: Runner) -> None:
    # Without @resources nothing is reserved: the tasks overlap (up to --max-workers)...
    free = markers(runner)
    result = runner.run(flow("unconstrained_foreach"), env=runner.env(MARKERS_DIR=str(free)))
    assert Flow("UnconstrainedForeachFlow")[result.run_id]["join"].task.data.peak > 1
    # ... with --with resources:cpu=N they run one at a time.
    folder = runner.cwd / "with"
    folder.mkdir()
    result = runner.run(
        flow("unconstrained_foreach"),
        "--with",
        f"resources:cpu={CPUS}",
        env=runner.env(MARKERS_DIR=str(folder)),
    )
    assert_one_at_a_time(
        folder, Flow("UnconstrainedForeachFlow")[result.run_id]["join"].task.data.peak
    )


def test_a_request_larger_than_the_machine_runs_alone_with_one_notice(runner: Runner) -> None:
    folder = markers(runner)
    result = runner.run(flow("oversized"), env=runner.env(MARKERS_DIR=str(folder)))
    run = Flow("OversizedFlow")[result.run_id]
    assert_one_at_a_time(folder, run["join"].task.data.peak)
    notices = [line for line in result.stdout.splitlines() if "more than this machine has" in line]
    assert len(notices) == 1, result.stdout
    assert notices[0].startswith("Step 'big' asks for cpu=1, memory=100000000 MiB")
    assert "its tasks run alone" in notices[0]


def test_gpus_are_assigned_one_per_task_and_never_shared(runner: Runner, fork: bool) -> None:
    folder = markers(runner)
    env = runner.env(MARKERS_DIR=str(folder), CUDA_VISIBLE_DEVICES="0,1")
    result = runner.run(flow("gpus"), env=env, fork=fork)
    run = Flow("GpuFlow")[result.run_id]
    data = run["join"].task.data
    assigned = data.assigned
    assert set(assigned.values()) <= {"0", "1"}
    spans = intervals(folder)
    pairs = list(itertools.combinations(sorted(spans), 2))
    overlapping = [(a, b) for a, b in pairs if overlap(spans[a], spans[b])]
    assert overlapping, spans  # two GPUs free: two tasks ran at once...
    for a, b in overlapping:
        assert assigned[a] != assigned[b]  # ... each with its own GPU
    # ... and the third waited for one of them to finish.
    assert not all(overlap(spans[a], spans[b]) for a, b in pairs)
    assert all(len(seen) <= 2 for seen in data.seen_together.values())
    assert data.join_gpus == ""  # @resources without gpu: no GPU visible
    assert run["end"].task.data.end_gpus == "0,1"  # no @resources: left as it was


def test_environment_variables_are_set_in_the_step(runner: Runner, fork: bool) -> None:
    result = runner.run(flow("environment"), "--with", 'environment:vars={"EXTRA": "x"}', fork=fork)
    run = Flow("EnvironmentFlow")[result.run_id]
    start, end = run["start"].task.data, run["end"].task.data
    assert (start.greeting, start.level) == ("hello", "3")
    # A fresh interpreter has them from its start; a forked task only once forked.
    assert start.greeting_at_import == (None if fork else "hello")
    assert end.greeting_in_end is None  # only the decorated step
    assert end.extra == "x"  # --with environment: every step without its own


def test_the_machine_is_what_the_tests_assume() -> None:
    assert Machine.detect().cpus == CPUS
