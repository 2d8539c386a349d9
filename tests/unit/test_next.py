"""Run-time checks of self.next(...) on a flow instance."""

from __future__ import annotations

import pytest

from grange import FlowSpec, step
from grange.exceptions import InvalidNextError


class NextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    def helper(self):
        pass

    @step
    def end(self):
        pass


@pytest.fixture
def flow() -> NextFlow:
    return NextFlow(use_cli=False)


def test_linear_and_branch_transitions(flow: NextFlow) -> None:
    flow.next(flow.a, flow.b)
    assert flow._transition is not None
    assert flow._transition.steps == ("a", "b")


def test_foreach_transition(flow: NextFlow) -> None:
    flow.items = [1, 2]
    flow.next(flow.a, foreach="items")
    assert flow._transition is not None
    assert flow._transition.foreach == "items"


def test_switch_picks_the_case(flow: NextFlow) -> None:
    flow.mode = "y"
    flow.next({"x": flow.a, "y": flow.b}, condition="mode")
    assert flow._transition is not None
    assert flow._transition.steps == ("b",)
    assert flow._transition.case == "y"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.next(f.helper), "is not a step of this flow"),
        (lambda f: f.next(), "at least one step"),
        (lambda f: f.next(f.a, bogus=1), "unknown keyword 'bogus'"),
        (
            lambda f: f.next(f.a, foreach="missing"),
            "foreach='missing' names an attribute that is not set",
        ),
        (lambda f: f.next(f.a, f.b, foreach="items"), "exactly one step"),
        (lambda f: f.next(f.a, foreach=3), "must be the name of an attribute"),
        (lambda f: f.next({"x": f.a}), "needs condition="),
        (lambda f: f.next({"x": f.a}, condition="missing"), "condition='missing'"),
        (lambda f: f.next({}, condition="mode"), "empty"),
        (lambda f: f.next(f.a, condition="mode"), "needs a dict of cases"),
        (
            lambda f: f.next({"x": f.a}, condition="mode", foreach="items"),
            "cannot also be a foreach",
        ),
        (lambda f: f.next({"x": f.a, "z": f.b}, condition="mode"), "not one of the cases"),
        (lambda f: f.next(f.a, foreach="number"), "cannot be iterated"),
    ],
)
def test_invalid_calls_are_rejected(flow: NextFlow, call, message: str) -> None:
    flow.items = [1]
    flow.mode = "y"
    flow.number = 5
    with pytest.raises(InvalidNextError, match=message) as info:
        call(flow)
    assert info.value.line is not None and info.value.file and info.value.fix


def test_next_twice_is_rejected(flow: NextFlow) -> None:
    flow.next(flow.a)
    with pytest.raises(InvalidNextError, match="more than once"):
        flow.next(flow.b)
