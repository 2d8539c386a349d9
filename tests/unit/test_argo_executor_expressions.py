"""The local Argo executor's small languages (tests/argo_executor): depends, when, {{...}}."""

from __future__ import annotations

import pytest

from argo_executor import ExpressionError, Refused, eval_depends, eval_when, substitute


def _results(**phases: str):
    def result(task: str, which: str) -> bool:
        phase = phases[task]
        if which == "Completed":
            return phase in ("Succeeded", "Failed")
        return {"Errored": "Error"}.get(which, which) == phase

    return result


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("a.Succeeded", True),
        ("a.Succeeded && b.Succeeded", False),
        ("a.Succeeded && (b.Failed || b.Skipped)", True),
        ("!b.Skipped", False),
        ("b", True),  # bare: Succeeded || Skipped || Daemoned
        ("c", False),
        ("c.Completed && a", True),
        ("c.Succeeded || b.Succeeded", False),
    ],
)
def test_depends(expr: str, expected: bool) -> None:
    assert eval_depends(expr, _results(a="Succeeded", b="Skipped", c="Failed")) is expected


def test_depends_refuses_unknown_results() -> None:
    with pytest.raises(Refused):
        eval_depends("a.Daemonized", _results(a="Succeeded"))


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("'heads' == 'heads'", True),
        ("'heads' == 'tails'", False),
        ("'a' != 'b' && !('x' == 'y')", True),
        ("3 < 10", True),  # numbers compare as numbers, not text
        ("true || false", True),
        ("('{{tasks.s.outputs.parameters.x}}' == 'a')", False),
    ],
)
def test_when(expr: str, expected: bool) -> None:
    assert eval_when(expr) is expected


def test_when_refuses_bare_words() -> None:
    with pytest.raises(ExpressionError):
        eval_when("heads == 'heads'")


def test_substitute() -> None:
    scope = {"workflow.name": "wf", "inputs.parameters.index": "3"}
    text = "{{workflow.name}}/{{ inputs.parameters.index }}.{{tasks.x.outputs.parameters.y}}"
    out = substitute(text, scope, lenient=lambda ref: ref.startswith("tasks."))
    assert out == "wf/3.{{tasks.x.outputs.parameters.y}}"
    with pytest.raises(ExpressionError):
        substitute("{{workflow.nmae}}", scope, lenient=lambda ref: False)
    with pytest.raises(Refused):
        substitute("{{=sprig.trim(x)}}", scope, lenient=lambda ref: False)
