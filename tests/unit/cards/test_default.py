"""The default and blank card documents of a task."""

from __future__ import annotations

import json

import pytest

from grange.cards import Markdown
from grange.cards.components import render_component
from grange.cards.default import TaskFacts, card_doc
from grange.cards.render import render_html

from .conftest import flow_graph


def facts(**kw: object) -> TaskFacts:
    base: dict[str, object] = dict(
        pathspec="LinearFlow/7/start/3",
        flow="LinearFlow",
        run_id="7",
        step="start",
        task_id="3",
        attempt=1,
        status="ok",
        started_at=1000.0,
        finished_at=1002.5,
        parameters={"alpha": 0.5},
        artifacts={"alpha": 0.5, "model": {"w": [1, 2]}, "_private": 1, "secret": "s"},
        unloaded={"huge": 3 * 1024**3},
        graph=flow_graph("linear"),
    )
    base.update(kw)
    return TaskFacts(**base)  # type: ignore[arg-type]


def test_default_card() -> None:
    user = [render_component(Markdown("# mine"))]
    doc = card_doc(
        "default", None, facts(), user, final=True, options={"hidden_artifacts": ["secret"]}
    )
    json.dumps(doc)
    assert doc["version"] == 1 and doc["type"] == "default" and doc["final"] is True
    assert doc["title"] == "LinearFlow/7/start/3"
    kinds = [c["type"] for c in doc["components"]]
    assert kinds[:2] == ["status", "facts"]
    text = json.dumps(doc)
    assert '"model"' in text and "_private" not in text and '"secret"' not in text
    assert "3.0 GB" in text and "2.50 s" in text
    assert doc["components"][-1]["components"] == user
    html = render_html(doc)
    assert 'data-testid="dag"' in html and 'data-highlight="true"' in html and "# mine" not in html


def test_failed_task_shows_its_exception() -> None:
    doc = card_doc(
        "default",
        "x",
        facts(status="failed", exception="ValueError: no"),
        [],
        final=True,
        options={},
    )
    assert doc["components"][0] == {
        "type": "status",
        "status": "failed",
        "exception": "ValueError: no",
    }
    assert doc["id"] == "x"


def test_only_repr_option() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1]})
    typed = card_doc("default", None, facts(artifacts={"df": frame}), [], final=False, options={})
    plain = card_doc(
        "default",
        None,
        facts(artifacts={"df": frame}),
        [],
        final=False,
        options={"only_repr": True},
    )
    assert "dataframe" in json.dumps(typed) and "dataframe" not in json.dumps(plain)


def test_blank_card_has_user_components_only() -> None:
    user = [render_component(Markdown("x"))]
    doc = card_doc("blank", None, facts(), user, final=False, options={"title": "Report"})
    assert doc["components"] == user and doc["title"] == "Report" and doc["final"] is False
