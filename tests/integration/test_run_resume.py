"""``resume [STEP] [--origin-run-id]``: a new run that reuses, by reference, every
successful task of the origin and runs the rest; it records its origin, becomes the
latest run, and its re-run tasks see ``current.origin_run_id``."""

from __future__ import annotations

import json

import pytest

from grange import Flow
from grange.metastore import MetadataStore
from support import Runner


def test_resume_reruns_only_what_failed(runner: Runner, fork: bool) -> None:
    failed_id = runner.run("fail", env=runner.env(FAIL_ITEM="2"), fork=fork, ok=False).run_id
    result = runner.resume("fail", fork=fork)  # the latest run by this user
    flow = Flow("FailRunFlow")
    assert flow.latest_run is not None and flow.latest_run.id == result.run_id
    assert flow.latest_successful_run is not None
    assert flow.latest_successful_run.id == result.run_id
    run = flow[result.run_id]
    assert run.origin_pathspec == f"FailRunFlow/{failed_id}"
    assert run.data.outs == [10, 20, 30]
    origin = flow[failed_id]
    # start and the two items that succeeded are reused: same artifacts, by reference.
    assert run["start"].task.origin_pathspec == origin["start"].task.pathspec
    assert run["start"].task["before"].sha == origin["start"].task["before"].sha
    reused = {t.data.out: t for t in run["work"] if t.origin_pathspec}
    assert set(reused) == {10, 30}
    for task in reused.values():
        assert task.origin_pathspec.startswith(f"FailRunFlow/{failed_id}/work/")
        assert task.data.origin is None  # it ran in the origin run, not in a resume
    rerun = [t for t in run["work"] if not t.origin_pathspec]
    assert [t.data.out for t in rerun] == [20]
    assert rerun[0].data.origin == failed_id  # current.origin_run_id
    assert run["join"].task.origin_pathspec is None
    assert run.data.origin == failed_id
    assert "3 reused" in result.stdout  # _parameters is not counted: start + 2 items
    # As in Metaflow, every task of a resumed run names the origin run; clones also the task.
    assert rerun[0].metadata_dict["origin-run-id"] == failed_id
    assert "origin-task-id" not in rerun[0].metadata_dict
    assert run["end"].task.metadata_dict["origin-run-id"] == failed_id
    assert reused[10].metadata_dict["origin-run-id"] == failed_id
    assert "origin-run-id" not in origin["start"].task.metadata_dict  # not a resumed run


def test_logs_of_a_reused_task_are_those_it_printed_in_its_run(runner: Runner) -> None:
    failed_id = runner.run("fail", env=runner.env(FAIL_ITEM="2"), ok=False).run_id
    first = runner.resume("fail", env=runner.env(FAIL_ITEM="2"), ok=False).run_id
    second = runner.resume("fail").run_id  # item 1 reused twice: a clone of a clone
    origin = Flow("FailRunFlow")[failed_id]
    for run_id in (first, second):
        task = next(t for t in Flow("FailRunFlow")[run_id]["work"] if t.data.out == 10)
        source = next(t for t in origin["work"] if t.index == 0)
        assert task.origin_pathspec is not None
        assert task.stdout == "working on 1\n"
        assert task.log_source() == source.pathspec
        logs = runner("fail", "logs", task.pathspec.split("/", 1)[1], "--stdout")
        assert logs.stdout == "working on 1\n"
        assert f"reused by resume: printed by {source.pathspec} (attempt 0)" in logs.stderr


def test_resume_from_a_step_reruns_it_and_what_follows(runner: Runner) -> None:
    first = runner.run("fail").run_id
    result = runner.resume("fail", "join", "--origin-run-id", first)
    run = Flow("FailRunFlow")[result.run_id]
    assert run.origin_pathspec == f"FailRunFlow/{first}"
    assert all(t.origin_pathspec for t in run["work"])
    assert run["start"].task.origin_pathspec is not None
    assert run["join"].task.origin_pathspec is None
    assert run["end"].task.origin_pathspec is None
    assert run.data.origins == [None, None, None]
    assert run.data.origin == first


def test_resume_keeps_the_origin_parameters(runner: Runner) -> None:
    first = runner.run("params", "--alpha", "0.75", "--names", "x,y").run_id
    result = runner.resume("params", "start", "--origin-run-id", first)
    run = Flow("ParamsRunFlow")[result.run_id]
    assert run["start"].task.origin_pathspec is None
    assert run["start"].task.data.seen["alpha"] == 0.75
    assert run["start"].task.data.seen["names"] == ["x", "y"]


def test_resume_a_loop_from_the_failed_iteration(runner: Runner) -> None:
    failed = runner.run("switch_loop", "--rounds", "4", env=runner.env(LOOP_FAIL_AT="3"), ok=False)
    result = runner.resume("switch_loop", "--origin-run-id", failed.run_id)
    run = Flow("LoopRunFlow")[result.run_id]
    assert run.data.history == [1, 2, 3, 4]
    loops = sorted(run["loop"], key=lambda t: int(t.id))
    assert [bool(t.origin_pathspec) for t in loops] == [True, True, False, False]


def test_resume_of_a_foreach_split_reruns_every_item(runner: Runner) -> None:
    first = runner.run("foreach_kinds", "--kind", "generator").run_id
    result = runner.resume("foreach_kinds", "start", "--origin-run-id", first)
    run = Flow("ForeachKindsFlow")[result.run_id]
    assert not any(t.origin_pathspec for t in run["work"])
    assert run.data.pairs == [(0, 0), (1, 1), (2, 4)]


def runs_stored(runner: Runner, flow: str) -> int:
    return len(MetadataStore.from_url(runner.metadata_url()).list_runs(flow))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nosuch"], "'nosuch' is not a step of FailRunFlow"),
        (["jion"], "did you mean 'join'?"),
        (["--origin-run-id", "999"], "flow FailRunFlow has no run '999'"),
    ],
    ids=["unknown-step", "misspelt-step", "unknown-run"],
)
def test_resume_refuses_clearly_and_starts_no_run(
    runner: Runner, args: list[str], expected: str
) -> None:
    runner.run("fail")
    result = runner.resume("fail", *args, ok=False)
    assert result.returncode == 2
    assert expected in result.output
    assert "Traceback" not in result.output
    assert result.run_id is None
    assert runs_stored(runner, "FailRunFlow") == 1


def test_resume_without_any_run(runner: Runner) -> None:
    runner.run("linear")  # the store exists, but FailRunFlow has no run
    result = runner.resume("fail", ok=False)
    assert result.returncode == 2
    assert "has no run by user 'tester' to resume" in result.output


BEFORE_EDIT = """
from grange import FlowSpec, step


class EditedFlow(FlowSpec):
    @step
    def start(self):
        self.trail = ["start"]
        self.next(self.a)

    @step
    def a(self):
        self.bug = 1 / 0  # fixed in the next version of the file
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EditedFlow()
"""

STEP_INSERTED = """
from grange import FlowSpec, step


class EditedFlow(FlowSpec):
    @step
    def start(self):
        self.trail = ["start"]
        self.next(self.prep)

    @step
    def prep(self):
        self.trail = self.trail + ["prep"]
        self.next(self.a)

    @step
    def a(self):
        self.trail = self.trail + ["a"]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EditedFlow()
"""

MADE_A_FOREACH = """
from grange import FlowSpec, step


class EditedFlow(FlowSpec):
    @step
    def start(self):
        self.trail = ["start"]
        self.parts = [1, 2]
        self.next(self.a, foreach="parts")

    @step
    def a(self):
        self.part = self.input
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.trail = ["start", "a", "gather"]
        self.parts_done = sorted(i.part for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EditedFlow()
"""


@pytest.mark.parametrize("edited", [STEP_INSERTED, MADE_A_FOREACH], ids=["step", "foreach"])
def test_resume_after_the_flow_file_changed_reruns_what_no_longer_fits(
    runner: Runner, edited: str
) -> None:
    """Metaflow's everyday loop: fix the code (and reshape the graph), then resume.
    A task whose transition the edited step no longer declares runs again."""
    flow_file = runner.cwd / "edited.py"
    flow_file.write_text(BEFORE_EDIT)
    failed = runner.run(flow_file, ok=False)
    flow_file.write_text(edited)
    resumed = runner.resume(flow_file, "--origin-run-id", str(failed.run_id))
    run = Flow("EditedFlow")[resumed.run_id]
    assert run.successful
    assert "Internal error" not in resumed.output
    assert run["start"].task.origin_pathspec is None  # its transition changed: it ran again
    assert run.data.trail[-1] in ("a", "gather")


def test_a_reused_task_shows_the_code_and_metadata_of_the_run_it_ran_in(runner: Runner) -> None:
    import shutil

    import grange
    from support import RUN_FLOWS

    file = runner.cwd / "fail.py"
    shutil.copy(RUN_FLOWS / "fail.py", file)
    failed_id = runner.run(file, env=runner.env(FAIL_ITEM="2"), ok=False).run_id
    file.write_text(file.read_text() + "\n# edited before the resume\n")
    run = Flow("FailRunFlow")[runner.resume(file).run_id]
    origin = Flow("FailRunFlow")[failed_id]
    assert run.code is not None and origin.code is not None
    assert run.code.sha != origin.code.sha  # the flow file changed in between
    reused = run["start"].task
    assert reused.origin_pathspec is not None
    assert reused.code is not None and reused.code.sha == origin.code.sha
    rerun = next(t for t in run["work"] if not t.origin_pathspec)
    assert rerun.code is not None and rerun.code.sha == run.code.sha
    # Metaflow's metadata names, read from the run's records (the task wrote none)
    meta = rerun.metadata_dict
    assert meta["user"] == "tester" and meta["runtime"] == "dev"  # Metaflow's local name
    assert meta["script-name"] == "fail.py"
    assert meta["ds-type"] == "local" and meta["ds-root"] == str(runner.root.resolve())
    assert meta["attempt-done"] == "0" and meta["attempt_ok"] == "True"
    assert meta["grange_version"] == grange.__version__
    assert meta["origin-run-id"] == failed_id
    assert meta["python_version"].count(".") == 2
    # Metaflow's Task.code reads this: the package of the run the task ran in
    assert json.loads(meta["code-package"]) == {
        "ds_type": "local", "sha": run.code.sha, "location": run.code.path,
    }  # fmt: skip
    assert json.loads(reused.metadata_dict["code-package"])["sha"] == origin.code.sha
    assert list(rerun.loglines("stdout")) == [(None, line) for line in rerun.stdout.splitlines()]
