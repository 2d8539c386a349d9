"""The decorator examples of the course slides run as written, with ``from grange import``
(tests/flows/course: the slides' code, with what is not valid Python or NumPy fixed)."""

from __future__ import annotations

from decorator_support import COURSE_FLOWS, statuses, summary_of
from grange import Flow
from grange.runtime.resources import Machine
from support import Runner


def test_catch_division_by_zero_in_a_foreach(runner: Runner) -> None:
    result = runner.run(COURSE_FLOWS / "CatchFlow.py")
    join = Flow("CatchFlow")[result.run_id]["join"].task
    assert join.stdout == "compute failed for parameter: 0\n"
    assert f"[{result.run_id}/join/{join.id}] compute failed for parameter: 0" in result.stdout
    caught = [t for t in Flow("CatchFlow")[result.run_id]["compute"] if t.data.compute_failed]
    assert len(caught) == 1 and caught[0].data.div == 0
    assert statuses(runner, caught[0].pathspec) == ["caught"]


def test_timeout_stops_the_big_matrix_step(runner: Runner) -> None:
    result = runner.run(COURSE_FLOWS / "BigSumTimeout.py", ok=False)
    assert result.returncode == 1
    run = Flow("BigSumTimeout")[result.run_id]
    start = run["start"].task
    assert (
        start.exception is not None
        and start.exception.type == "grange.decorators.timeout.TimeoutException"
    )
    assert "step 'start' timed out after 5 seconds" in summary_of(result.stdout)
    assert "sum" not in start.data
    assert "end" not in run


def test_retry_on_the_big_sum(runner: Runner) -> None:
    result = runner.run(COURSE_FLOWS / "BigSumRetry.py")
    run = Flow("BigSumRetry")[result.run_id]
    assert isinstance(run.data.sum, float) and run.data.took >= 0
    assert statuses(runner, run["start"].task.pathspec) == ["ok"]


def test_resources_larger_than_the_machine_and_run_with_retry(runner: Runner) -> None:
    for args in ((), ("--with", "retry")):  # python BigSum.py run [--with retry]
        result = runner.run(COURSE_FLOWS / "BigSum.py", *args)
        run = Flow("BigSum")[result.run_id]
        assert isinstance(run.data.sum, float)
        assert f"[{result.run_id}/end/2] sum is " in result.stdout
        if Machine.detect().memory < 60000:
            notice = (
                "Step 'start' asks for cpu=1, memory=60000 MiB, gpu=0, more than this machine has"
            )
            assert len([line for line in result.stdout.splitlines() if notice in line]) == 1
