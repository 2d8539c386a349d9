"""Step decorators: arguments, placement, `--with` specs, and the options they set."""

from __future__ import annotations

import pytest

from grange import FlowSpec, catch, environment, resources, retry, step, timeout
from grange.decorators import decorators_of
from grange.decorators.registry import parse_decospec, step_decorators, task_options
from grange.exceptions import DecoratorError
from grange.graph import graph_of
from grange.graph.lint import lint
from support import FLOWS, load_flow


class Decorated(FlowSpec):
    @retry(times=2, minutes_between_retries=0)
    @timeout(seconds=5, minutes=1)
    @resources(cpu=2, memory=60000)
    @environment(vars={"MODE": "test", "LEVEL": 3})
    @catch(var="failure", print_exception=False)
    @step
    def start(self):
        self.next(self.end)

    @retry
    @step
    def end(self):
        pass


def test_decorators_are_recorded_outermost_first_without_wrapping() -> None:
    func = Decorated.start
    assert [d.name for d in decorators_of(func)] == [
        "retry",
        "timeout",
        "resources",
        "environment",
        "catch",
    ]
    assert func.__name__ == "start"  # the user's own function, not a wrapper


def test_options_from_decorators() -> None:
    options = task_options(decorators_of(Decorated.start))
    assert options.retries == 2 and options.retry_delay == 0 and options.max_attempts == 3
    assert options.timeout == 65
    assert options.resources is not None
    assert options.resources.cpu == 2 and options.resources.memory == 60000
    assert options.env == {"MODE": "test", "LEVEL": "3"}
    assert options.catch and options.catch_var == "failure" and not options.print_exception


def test_bare_decorator_takes_defaults() -> None:
    options = task_options(decorators_of(Decorated.end))
    # As Metaflow's local runtime: retry at once unless minutes_between_retries is given.
    assert options.retries == 3 and options.retry_delay == 0
    assert options.resources is None  # no @resources: nothing reserved locally


def test_retry_waits_locally_only_when_asked() -> None:
    assert task_options([parse_decospec("retry")]).retry_delay == 0
    assert task_options([parse_decospec("retry:times=1")]).retry_delay == 0
    explicit = parse_decospec("retry:minutes_between_retries=2")
    assert task_options([explicit]).retry_delay == 120
    assert task_options([parse_decospec("retry:minutes_between_retries=0.5")]).retry_delay == 30


def test_graph_lists_decorators_with_arguments_and_lines() -> None:
    node = graph_of(Decorated)["start"]
    names = [d.name for d in node.decorators]
    assert names == ["retry", "timeout", "resources", "environment", "catch"]
    assert node.decorator("retry").attributes == {"times": 2, "minutes_between_retries": 0}
    assert node.decorator("retry").line == node.line - 6


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: retry(times=-1), "times must be an integer >= 0"),
        (lambda: retry(times="x"), "times must be an integer >= 0"),
        (lambda: retry(tims=3), "unknown argument(s) tims"),
        (lambda: timeout(), "duration above zero"),
        (lambda: timeout(seconds="soon"), "seconds must be a number >= 0"),
        (lambda: resources(cpu=0), "needs some CPU"),
        (lambda: resources(memory=-5), "memory must be an integer >= 0"),
        (lambda: environment(vars=["A"]), "dict of names to values"),
        (lambda: catch(var="not a name"), "name of an attribute"),
    ],
)
def test_bad_arguments_are_recorded_not_raised(make, message: str) -> None:
    def start(self):
        pass

    start = step(start)
    make()(start)  # must not raise inside a class body: lint reports it
    recorded = [p.message for p in getattr(start, "__grange_problems__", [])]
    assert any(message in m for m in recorded), recorded
    assert decorators_of(start) == []


def test_bad_arguments_are_lint_errors_at_the_decorator_line() -> None:
    flow = load_flow(FLOWS / "broken" / "bad_decorator_args.py")
    problems = lint(graph_of(flow))
    assert [(p.rule, p.step, p.line) for p in problems] == [("decorator", "train", 9)]
    assert "minutes_betwen_retries" in problems[0].message
    assert "accepts: minutes_between_retries, times" in (problems[0].fix or "")


def test_catch_on_a_foreach_split_is_refused_with_its_line() -> None:
    flow = load_flow(FLOWS / "broken" / "catch_on_foreach.py", "CatchOnSplitFlow")
    problems = lint(graph_of(flow))
    assert [(p.rule, p.step, p.line) for p in problems] == [("decorator-placement", "start", 25)]
    assert "starts a foreach" in problems[0].message


def test_catch_inside_a_foreach_is_fine() -> None:
    flow = load_flow(FLOWS / "broken" / "catch_on_foreach.py", "CatchOnForeachFlow")
    assert lint(graph_of(flow)) == []


def test_with_specs() -> None:
    assert parse_decospec("retry").attributes == {"times": 3, "minutes_between_retries": 2}
    deco = parse_decospec("retry:times=5,minutes_between_retries=0")
    assert (
        deco.attributes == {"times": 5, "minutes_between_retries": 0}
        and not deco.statically_defined
    )
    assert parse_decospec("resources:cpu=2,memory=1000").attributes["cpu"] == 2
    env = parse_decospec('environment:vars={"A":"1","B":"x,y"}')
    assert env.attributes["vars"] == {"A": "1", "B": "x,y"}


@pytest.mark.parametrize(
    ("spec", "message", "fix"),
    [
        ("retyr", "no step decorator 'retyr'", "did you mean 'retry'"),
        ("retry:times", "'times' is not key=value", "key=value"),
        ("retry:tims=3", "unknown argument(s) tims", "accepts: minutes_between_retries, times"),
        ("timeout:seconds=-1", "seconds must be a number >= 0", "seconds="),
    ],
)
def test_bad_with_specs(spec: str, message: str, fix: str) -> None:
    with pytest.raises(DecoratorError) as info:
        parse_decospec(spec)
    assert message in info.value.message and f"--with {spec}" in info.value.message
    assert fix in (info.value.fix or "")


def test_a_steps_own_decorator_wins_over_with() -> None:
    extra = [parse_decospec("retry:times=7"), parse_decospec("timeout:seconds=9")]
    decos = step_decorators(Decorated.end, extra)
    assert [d.name for d in decos] == ["retry", "timeout"]
    options = task_options(decos)
    assert options.retries == 3  # the step's own @retry, not --with's times=7
    assert options.timeout == 9


def test_decorators_see_a_step_through_their_own_step_shape() -> None:
    """The graph's StepNode is one StepShape; any object with a name and a type is another."""
    from types import SimpleNamespace

    from grange.decorators.catch import CatchDecorator

    deco = CatchDecorator({})
    assert "starts a foreach" in (
        deco.step_init(node=SimpleNamespace(name="start", type="split-foreach")) or ""
    )
    assert deco.step_init(node=SimpleNamespace(name="train", type="linear")) is None
    flow = load_flow(FLOWS / "broken" / "catch_on_foreach.py", "CatchOnSplitFlow")
    assert "starts a foreach" in (deco.step_init(node=graph_of(flow)["start"]) or "")
