"""@card's arguments, its lint rules (one id per card, one customize=True per step), and
--with card."""

from __future__ import annotations

import pytest

from grange import card, step
from grange.decorators.base import decorators_of
from grange.decorators.registry import parse_decospec, step_decorators
from grange.exceptions import DecoratorError
from grange.graph import graph_of
from grange.graph.lint import lint
from support import FLOWS, load_flow


def test_defaults_and_several_cards_on_one_step() -> None:
    def start(self):
        pass

    start = card(type="blank", id="b")(card(id="a")(card(step(start))))
    found = decorators_of(start)
    assert [d.attributes["id"] for d in found] == ["b", "a", None]  # top first
    assert found[2].attributes == {
        "type": "default", "id": None, "options": {}, "timeout": 45, "save_errors": True,
        "refresh_interval": 5, "customize": False,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message", "fix"),
    [
        ({"type": "fancy"}, "there is no card type 'fancy'", "card types: 'default', 'blank'"),
        ({"id": "has space"}, "an id is 1 to 100 letters, digits and '_'", "@card(id='metrics')"),
        ({"id": "a" * 300}, "an id is 1 to 100 letters", "@card(id='metrics')"),
        ({"options": [1]}, "options must be a dict", "options="),
        ({"timeout": 0}, "above 0 and at most 3600", "timeout=45"),
        ({"timeout": float("inf")}, "timeout must be a number of seconds above 0", "timeout=45"),
        ({"timeout": float("nan")}, "at most 3600", "timeout=45"),
        ({"timeout": 3601}, "at most 3600", "timeout=45"),
        ({"refresh_interval": float("nan")}, "finite number of seconds >= 0", "refresh"),
        ({"refresh_interval": float("inf")}, "finite number of seconds >= 0", "refresh"),
        ({"customize": "maybe"}, "customize must be True or False", "customize=True"),
        ({"refresh_interval": -1}, "refresh_interval must be a number >= 0", "refresh"),
    ],
)
def test_bad_arguments_name_the_allowed_values(kwargs: dict, message: str, fix: str) -> None:
    def start(self):
        pass

    start = card(**kwargs)(step(start))
    problems = start.__grange_problems__
    assert any(message in p.message and fix in p.fix for p in problems), problems


def test_conflicting_cards_are_lint_errors_at_the_decorator_line() -> None:
    flow = load_flow(FLOWS / "broken" / "card_duplicate_id.py")
    problems = lint(graph_of(flow))
    assert [(p.rule, p.step, p.line) for p in problems] == [("decorator-conflict", "start", 8)]
    assert "two @card decorators have id='a'" in problems[0].message
    flow = load_flow(FLOWS / "cards" / "card_lint.py", "CardCustomizeFlow")
    problems = lint(graph_of(flow))
    assert [(p.rule, p.step, p.line) for p in problems] == [("decorator-conflict", "end", 14)]
    assert "customize=True" in problems[0].message and "current.card['id']" in problems[0].fix


def test_an_unknown_type_is_a_lint_error_listing_the_types() -> None:
    flow = load_flow(FLOWS / "cards" / "card_lint.py", "CardTypeFlow")
    problems = lint(graph_of(flow))
    assert [(p.rule, p.step, p.line) for p in problems] == [("decorator", "end", 25)]
    assert "'default', 'blank'" in (problems[0].fix or "")


@pytest.mark.parametrize(
    "spec",
    ["card:timeout=1e999", "card:timeout=nan", "card:refresh_interval=nan", "card:id=" + "a" * 300],
)
def test_with_card_rejects_unbounded_arguments(spec: str) -> None:
    with pytest.raises(DecoratorError, match="--with card:"):
        parse_decospec(spec)


def test_with_card_adds_a_card_where_there_is_none() -> None:
    deco = parse_decospec("card:type=blank,id=x,customize=True")
    assert deco.attributes["type"] == "blank" and deco.attributes["customize"] is True

    def fresh():  # type: ignore[no-untyped-def]
        def start(self):
            pass

        return step(start)

    plain = fresh()
    assert [d.attributes["id"] for d in step_decorators(plain, [deco])] == ["x"]
    own = card(id="mine")(fresh())  # as Metaflow: added beside the step's own
    assert [d.attributes["id"] for d in step_decorators(own, [deco])] == ["mine", "x"]
    same = card(type="blank", id="x")(fresh())  # unless the very same card is there
    assert [d.attributes["id"] for d in step_decorators(same, [deco])] == ["x"]
    default = card(fresh())
    assert len(step_decorators(default, [parse_decospec("card")])) == 1
    with pytest.raises(DecoratorError, match="card types: 'default', 'blank'"):
        parse_decospec("card:type=fancy")


def test_duplicates_lint_cannot_see_are_checked_on_the_decorators() -> None:
    from grange.decorators.registry import check_siblings

    def start(self):
        pass

    own = card(id="x")(step(start))
    added = step_decorators(own, [parse_decospec("card:type=blank,id=x")])
    with pytest.raises(DecoratorError) as err:
        check_siblings(added, file="flow.py", line=7, step="start")
    text = err.value.render()
    assert "step 'start' (--with card): two @card decorators have id='x'" in text
    assert "flow.py:7" in text and "give each @card of the step an id of its own" in text
    check_siblings(step_decorators(own, [parse_decospec("card")]), file=None, line=None,
                   step="start")  # fmt: skip
