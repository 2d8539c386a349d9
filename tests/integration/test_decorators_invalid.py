"""Invalid use of decorators stops a run before it starts: a clear message naming the
file, line and step, the fix, exit status 2, no traceback, and no run recorded."""

from __future__ import annotations

import pytest

from decorator_support import DECORATOR_FLOWS, flow, no_traceback
from support import Runner


def assert_refused(result_output: str, returncode: int) -> None:
    assert returncode == 2, result_output
    assert no_traceback(result_output), result_output
    assert "Running " not in result_output  # no run started


@pytest.mark.parametrize(
    ("name", "line", "message", "fix"),
    [
        (
            "invalid_args",
            11,
            "@retry got unknown argument(s) minutes",
            "@retry accepts: minutes_between_retries, times",
        ),
        (
            "invalid_type",
            11,
            "@timeout(seconds='soon'): seconds must be a number >= 0",
            "pass seconds= as a number >= 0",
        ),
        (
            "invalid_below",
            12,
            "@retry is placed below @step",
            "move @retry above @step",
        ),
    ],
    ids=["unknown-argument", "wrong-type", "below-step"],
)
def test_a_misused_decorator_is_reported_with_file_line_and_step(
    runner: Runner, name: str, line: int, message: str, fix: str
) -> None:
    result = runner.run(flow(name), ok=False)
    assert_refused(result.output, result.returncode)
    assert f"{name}.py:{line}, step 'train': " in result.output
    assert message in result.output
    assert f"Fix: {fix}" in result.output
    assert not runner.root.exists()  # nothing stored


@pytest.mark.parametrize(
    ("spec", "message", "fix"),
    [
        ("retri", "--with retri: there is no step decorator 'retri'", "did you mean 'retry'?"),
        (
            "slurm",
            "--with slurm: there is no step decorator 'slurm'",
            "step decorators: card, catch, conda, environment, kubernetes, pypi, resources, retry, secrets, timeout",
        ),
        (
            "parallel",
            "--with parallel: @parallel cannot be added to every step: it makes a step a gang "
            "that only self.next(..., num_parallel=N) may start",
            "put @parallel above @step on the step that num_parallel= goes to",
        ),
        (
            "retry:times=x",
            "--with retry:times=x: @retry(times='x'): times must be an integer >= 0",
            "pass times= as an integer >= 0",
        ),
        (
            "retry:times",
            "--with retry:times: 'times' is not key=value",
            "write --with name:key=value",
        ),
        (
            "resources:gpus=1",
            "--with resources:gpus=1: @resources got unknown argument(s) gpus",
            "@resources accepts: cpu, disk, gpu, memory, shared_memory",
        ),
    ],
    ids=["typo", "unknown", "parallel", "wrong-type", "not-key-value", "unknown-argument"],
)
def test_an_invalid_with_is_refused(runner: Runner, spec: str, message: str, fix: str) -> None:
    result = runner.run(flow("environment"), "--with", spec, ok=False)
    assert_refused(result.output, result.returncode)
    assert f"Invalid decorator: {message}\n" in result.output
    assert f"Fix: {fix}" in result.output


def test_with_catch_on_a_flow_whose_start_is_a_foreach(runner: Runner) -> None:
    result = runner.run(flow("resources_foreach"), "--with", "catch", ok=False)
    assert_refused(result.output, result.returncode)
    where = f"{DECORATOR_FLOWS / 'resources_foreach.py'}:"
    assert where in result.output and ", step 'start': " in result.output
    assert "--with catch: @catch cannot go on step 'start', which starts a foreach" in result.output


def test_with_is_checked_on_resume_too(runner: Runner) -> None:
    runner.run(flow("environment"))
    result = runner.resume(flow("environment"), "--with", "retri", ok=False)
    assert_refused(result.output, result.returncode)
    assert "there is no step decorator 'retri'" in result.output
