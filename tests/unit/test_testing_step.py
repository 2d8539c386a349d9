"""``grange.testing.run_step``: one step alone, on inputs the test gives, with flows
defined in this module (as users write them)."""

from __future__ import annotations

import os
import signal
import sys
import tempfile

import pytest

from grange import (
    FlowSpec,
    Parameter,
    card,
    catch,
    current,
    environment,
    project,
    retry,
    step,
    timeout,
)
from grange.exceptions import GrangeError
from grange.parameters import current_username
from grange.testing import HarnessError, StepFailed, run_step

MODULE_STATE: list[str] = []


class TrainFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, type=float)
    epochs = Parameter("epochs", default=3, type=int)
    SEED = 7

    @step
    def start(self):
        self.data = [1, 2, 3]
        self.next(self.train)

    @retry(times=2)
    @step
    def train(self):
        MODULE_STATE.append("train")
        os.chdir("/")
        self.model = sum(self.data) * self.alpha + self.SEED
        self.who = (
            current.flow_name,
            current.run_id,
            current.step_name,
            current.task_id,
            current.is_running_flow,
        )
        self.next(self.end)

    @step
    def end(self):
        pass


class GridFlow(FlowSpec):
    @step
    def start(self):
        self.grid = [10, 20, 30]
        self.next(self.train, foreach="grid")

    @step
    def train(self):
        self.score = self.input * 2 + self.index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.best = max(i.score for i in inputs)
        self.indexes = [i.index for i in inputs]
        self.merge_artifacts(inputs, include=["shared"])
        self.next(self.end)

    @step
    def end(self):
        pass


class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.a, self.b)

    @catch(var="failure")
    @step
    def a(self):
        self.v = self.x + 1
        if self.x < 0:
            raise ValueError("x is negative")
        self.next(self.join)

    @timeout(seconds=30)
    @environment(vars={"GRANGE_TESTING_PROBE": "set"})
    @step
    def b(self):
        self.v = self.x + 2
        self.probe = os.environ.get("GRANGE_TESTING_PROBE")
        self.handler = signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = inputs.a.v + inputs.b.v
        self.merge_artifacts(inputs, exclude=["v"])
        self.next(self.end)

    @card
    @step
    def end(self):
        self.card_seen = True


def test_linear_step_reads_inputs_parameters_and_constants() -> None:
    result = run_step(TrainFlow, "train", inputs={"data": [1, 2, 3, 4]}, params={"alpha": 2})
    assert result.model == 27.0 and result["model"] == 27.0
    assert set(result.keys()) == {"data", "alpha", "epochs", "SEED", "model", "who"}
    assert "data" in result and result.epochs == 3  # the default, as a run fills it
    assert result.next == ["end"]  # self.next(...) checked against the graph, not failing
    assert result.who == ("TrainFlow", "test", "train", "1", True)


def test_a_parameter_is_converted_as_on_the_command_line() -> None:
    assert run_step(TrainFlow, "train", {"data": [1]}, {"alpha": "0.5"}).model == 7.5


def test_forked_by_default_so_the_test_process_is_untouched() -> None:
    cwd = os.getcwd()
    run_step(TrainFlow, "train", {"data": [1]})
    assert MODULE_STATE == [] and os.getcwd() == cwd
    result = run_step(BranchFlow, "b", {"x": 3})
    assert (result.v, result.probe, result.handler) == (5, "set", True)  # @environment, @timeout
    assert "GRANGE_TESTING_PROBE" not in os.environ
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL


def test_fork_false_runs_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(os.getcwd())  # put back after the step's chdir
    try:
        result = run_step(TrainFlow, "train", {"data": [1]}, fork=False)
        assert MODULE_STATE == ["train"] and os.getcwd() == "/"
        assert result.model == 7.5
        assert current.is_running_flow is False  # unbound after the step
    finally:
        MODULE_STATE.clear()


def test_start_step_and_a_foreach_it_starts() -> None:
    result = run_step(GridFlow, "start")
    assert result.grid == [10, 20, 30] and result.foreach_count == 3 and result.next == ["train"]


def test_foreach_body_gets_input_and_index() -> None:
    assert run_step(GridFlow, "train", input=20, index=1).score == 41
    assert run_step(GridFlow, "train", input=5).score == 10  # index 0
    with pytest.raises(StepFailed, match="NoneType"):  # an item None, given with its index
        run_step(GridFlow, "train", input=None, index=0)


def test_foreach_join_takes_one_dict_per_task() -> None:
    result = run_step(GridFlow, "join", [{"score": 1, "shared": "s"}, {"score": 5, "shared": "s"}])
    assert (result.best, result.indexes, result.shared) == (5, [0, 1], "s")


def test_static_join_by_list_or_by_branch_name() -> None:
    for inputs in (
        [{"v": 2, "x": 1}, {"v": 3, "x": 1}],
        {"b": {"v": 3, "x": 1}, "a": {"v": 2, "x": 1}},
    ):
        result = run_step(BranchFlow, "join", inputs)
        assert (result.total, result.x) == (5, 1)
        assert "v" not in result


def test_merge_artifacts_conflict_is_the_step_failing() -> None:
    with pytest.raises(StepFailed, match="cannot merge artifact 'x'"):
        run_step(BranchFlow, "join", [{"v": 2, "x": 1}, {"v": 3, "x": 2}])


def test_a_step_that_raises_raises_step_failed_with_the_user_traceback() -> None:
    with pytest.raises(StepFailed) as info:
        run_step(TrainFlow, "train", {"data": ["x"]})
    err = info.value
    assert "test_testing_step.py" in err.traceback and "in train" in err.traceback
    assert "TypeError" in str(err) and "grange/task" not in err.traceback
    assert err.exception["type"] == "builtins.TypeError"
    assert err.result["data"] == ["x"]  # what the step had when it failed
    assert isinstance(err, GrangeError)


def test_catch_handles_the_failure_as_in_a_run() -> None:
    result = run_step(BranchFlow, "a", {"x": -1})
    assert result.caught and "x is negative" in str(result.failure)
    assert result.v == 0
    with pytest.raises(AttributeError, match="its @catch caught"):
        result.nothing  # noqa: B018


def test_card_step_runs() -> None:
    assert run_step(BranchFlow, "end", {"total": 1}).card_seen is True


def test_missing_artifact_suggests_a_name() -> None:
    result = run_step(TrainFlow, "train", {"data": [1]})
    with pytest.raises(AttributeError, match="did you mean 'model'"):
        result.modle  # noqa: B018
    with pytest.raises(KeyError):
        result["modle"]
    with pytest.raises(AttributeError, match="read-only"):
        result.model = 1


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((TrainFlow, "trian"), {}, "no step 'trian'.*did you mean 'train'"),
        ((TrainFlow, "train", {"data": lambda: 1}), {}, "input of step 'train' cannot be stored"),
        ((TrainFlow, "train", {"alpha": 1}), {}, "is a parameter or constant"),
        ((TrainFlow, "train", [{"data": 1}]), {}, "must be a dict of artifacts"),
        ((TrainFlow, "start", {"data": 1}), {}, "has no parent step"),
        ((TrainFlow, "train"), {"input": 1}, "not inside a foreach"),
        ((GridFlow, "train"), {}, "needs the item it works on.*pass input="),
        ((GridFlow, "train"), {"input": 1, "index": -1}, "index= must be a position"),
        ((GridFlow, "join", {"score": 1}), {}, "is a join"),
        ((BranchFlow, "join", [{"v": 1}]), {}, "joins 2 branches"),
        (("TrainFlow", "train"), {}, "takes a FlowSpec class"),
    ],
)
def test_harness_errors_say_what_to_pass(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(HarnessError, match="(?s)" + message):
        run_step(*args, **kwargs)  # type: ignore[arg-type]


class BrokenFlow(FlowSpec):
    name = Parameter("name", default="x")  # reserved: a run refuses the flow

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class ExitFlow(FlowSpec):
    how = Parameter("how", default="exit")

    @step
    def start(self):
        if self.how == "exit":
            sys.exit(3)
        if self.how == "die":
            os._exit(3)  # as a crash in C code: the process ends with no record
        if self.how == "ctrl-c":
            os.kill(os.getpid(), signal.SIGINT)  # as the user's Ctrl-C
        if self.how == "raise":
            raise KeyboardInterrupt  # the step's own: a failure of the step
        self.next(self.end)

    @step
    def end(self):
        pass


def test_sys_exit_fails_the_step_and_a_dead_process_is_said() -> None:
    with pytest.raises(StepFailed, match="SystemExit"):
        run_step(ExitFlow, "start")
    before = set(os.listdir(tempfile.gettempdir()))
    with pytest.raises(StepFailed, match=r"without a result \(exit status 3") as info:
        run_step(ExitFlow, "start", params={"how": "die"})
    assert "run it with fork=False" not in str(info.value.fix)  # that ends the test process
    left = {n for n in set(os.listdir(tempfile.gettempdir())) - before if "ExitFlow" in n}
    assert not left  # its temporary store is removed


@pytest.mark.parametrize("fork", [True, False])
def test_ctrl_c_in_the_step_stops_the_test_run(fork: bool) -> None:
    with pytest.raises(KeyboardInterrupt):
        run_step(ExitFlow, "start", params={"how": "ctrl-c"}, fork=fork)
    with pytest.raises(StepFailed, match="KeyboardInterrupt"):
        run_step(ExitFlow, "start", params={"how": "raise"}, fork=fork)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@project(name="fraud")
class ProjectFlow(FlowSpec):
    @step
    def start(self):
        self.facts = (current.project_name, current.branch_name, current.is_user_branch)
        self.next(self.end)

    @step
    def end(self):
        pass


def test_project_facts_are_the_users_own_branch() -> None:
    facts = run_step(ProjectFlow, "start").facts
    assert facts == ("fraud", f"user.{current_username()}", True)


def test_a_flow_a_run_refuses_is_refused() -> None:
    with pytest.raises(GrangeError, match="reserved"):
        run_step(BrokenFlow, "start")


def test_an_unknown_parameter_is_named() -> None:
    with pytest.raises(GrangeError, match="no parameter 'beta'"):
        run_step(TrainFlow, "train", {"data": [1]}, {"beta": 1})


class CarryFlow(FlowSpec):
    alpha = Parameter("alpha", default=1, type=int)
    SCALE = 10

    @step
    def start(self):
        self.items = ["x", "y", "z"]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.v = self.input
        self.stack = [(i, n) for i, n, _ in self.foreach_stack()]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen = ([i.alpha for i in inputs], [i.SCALE for i in inputs], self.alpha)
        self.next(self.split)

    @step
    def split(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.both)

    @step
    def b(self):
        self.next(self.both)

    @step
    def both(self, inputs):
        self.seen = [i.alpha * i.SCALE for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


def test_made_up_parents_carry_parameters_and_constants_as_real_ones() -> None:
    assert run_step(CarryFlow, "join", [{"v": 1}, {"v": 2}]).seen == ([1, 1], [10, 10], 1)
    result = run_step(CarryFlow, "join", [{"v": 1}, {"v": 2}], params={"alpha": 3})
    assert result.seen == ([3, 3], [10, 10], 3)
    assert run_step(CarryFlow, "both", [{}, {}], params={"alpha": 2}).seen == [20, 20]
    assert run_step(CarryFlow, "work", input="x")["alpha"] == 1  # the foreach's parent too


def test_a_foreach_body_takes_its_items_from_the_inputs() -> None:
    result = run_step(CarryFlow, "work", {"items": ["x", "y", "z"]}, index=2)
    assert (result.v, result.stack) == ("z", [(2, 3)])
    assert run_step(CarryFlow, "work", {"items": ["x", "y"]}).v == "x"
    assert run_step(CarryFlow, "work", {"items": ["x", "y"]}, input="q", index=1).v == "q"
    with pytest.raises(HarnessError, match="past the 2 items"):
        run_step(CarryFlow, "work", {"items": ["x", "y"]}, index=2)
    with pytest.raises(HarnessError, match="not a list of items"):
        run_step(CarryFlow, "work", {"items": 3})


class ClientFlow(FlowSpec):
    @step
    def start(self):
        self.run_id = current.run.id
        self.next(self.end)

    @step
    def end(self):
        pass


def test_current_run_says_there_is_no_run_to_look_up() -> None:
    for fork in (True, False):
        with pytest.raises(StepFailed, match=r"current\.run: run_step runs the step alone"):
            run_step(ClientFlow, "start", fork=fork)
