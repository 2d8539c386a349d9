"""@card in real runs: the default card over a DataFrame and arrays, blank cards with
components, several cards by id, current.card's routing, failed steps, --with card on
a foreach, and resume following the cards of reused tasks."""

from __future__ import annotations

import html
from pathlib import Path

from grange import Flow, Run, Task
from grange.cards import get_cards
from support import FLOWS, Runner

CARD_FLOWS = FLOWS / "cards"


def flow(name: str) -> Path:
    return CARD_FLOWS / f"{name}.py"


def test_the_default_card_previews_artifacts_and_escapes_text(runner: Runner) -> None:
    result = runner.run(flow("card_default"), "--alpha", "0.25")
    run = Flow("CardDefaultFlow")[str(result.run_id)]
    cards = get_cards(run["start"].task)
    assert len(cards) == 1
    card = cards[0]
    assert (card.type, card.id, card.index, card.slot) == ("default", None, 0, "0-default")
    assert card.final and card.status == "ok" and card.attempt == 0
    assert card.pathspec == run["start"].task.pathspec
    page = card.get()
    assert len(card.hash or "") == 64
    assert "Oslo" in page and "Lima" in page  # the DataFrame's head
    assert "float64" in page  # the array's dtype
    assert "<script>alert" not in page and "alert(" in html.unescape(page)  # escaped text
    assert "0.25" in page  # the parameter
    assert card.path.startswith("file://") and card.path.endswith("/cards/0-default.html")
    # end loaded only `array`: the others are listed by name, not loaded
    end_page = get_cards(run["end"].task)[0].get()
    for name in ("frame", "note", "big", "total"):
        assert name in end_page


def test_blank_cards_several_ids_and_where_append_goes(runner: Runner) -> None:
    result = runner.run(flow("card_components"))
    run = Run(f"CardComponentsFlow/{result.run_id}")
    start = get_cards(run["start"].task)
    assert [c.type for c in start] == ["blank"]
    assert "Only card of start" in start[0].get()
    end = run["end"].task
    cards = get_cards(end)
    assert [(c.index, c.type, c.id) for c in cards] == [
        (0, "blank", "notes"),
        (1, "default", "main"),
        (2, "blank", "extra"),
    ]
    by_id = {c.id: c.get() for c in cards}
    assert "appended without an id" in by_id["main"]  # customize=True takes append
    assert "appended without an id" not in by_id["notes"] + by_id["extra"]
    assert "a note for the notes card" in by_id["notes"]
    assert "by type" in by_id["notes"]  # current.card.get(type="blank")[0]
    assert "extra one" in by_id["extra"] and "extra two" in by_id["extra"]
    assert "lost" not in "".join(by_id.values())
    assert "current.card['nowhere']: no @card of this step has id='nowhere'" in end.stderr
    # filters
    assert [c.id for c in get_cards(end, id="extra")] == ["extra"]
    assert [c.id for c in get_cards(end.pathspec, type="blank")] == ["notes", "extra"]
    assert len(get_cards(end, id="nope")) == 0


def test_a_failed_step_has_the_card_that_saves_errors_only(runner: Runner) -> None:
    result = runner.run(flow("card_failure"), ok=False)
    task = Flow("CardFailureFlow")[str(result.run_id)]["start"].task
    cards = get_cards(task)
    assert [c.id for c in cards] == ["loud", "plain"]  # quiet has save_errors=False
    plain = cards[1].get()
    assert "The step failed" in plain and "the model diverged" in html.unescape(plain)
    page = cards[0].get()
    assert cards[0].status == "ok"  # the card rendered; it shows the step's failure
    assert "ValueError" in page and "the model diverged" in html.unescape(page)
    assert "<b>badly</b>" not in page  # the message is escaped
    assert "set before the failure" in page  # the artifact the step had set


def test_with_card_gives_every_foreach_task_a_card_and_resume_follows_them(
    runner: Runner,
) -> None:
    first = runner.run(
        flow("card_foreach"), top=("--with", "card"), env=runner.env(CARD_FAIL_JOIN="1"), ok=False
    )
    run1 = Flow("CardForeachFlow")[str(first.run_id)]
    each = list(run1["each"])
    assert len(each) == 3
    for task in each:
        cards = get_cards(task)
        assert [c.type for c in cards] == ["default"]
        assert task.data.item in cards[0].get()
    assert [c.type for c in get_cards(run1["join"].task)] == ["default"]  # failed, saved

    second = runner.resume(flow("card_foreach"), top=("--with", "card:type=blank,id=x"))
    run2 = Flow("CardForeachFlow")[str(second.run_id)]
    assert run2.graph is not None and run2.graph == run1.graph  # a resumed run records it too
    reused = run2["each"].task
    assert reused.origin_pathspec is not None
    followed = get_cards(reused)
    assert followed.from_resumed and followed.origin_pathspec == reused.origin_pathspec
    assert [c.type for c in followed] == ["default"]  # the cards of run 1's task
    assert followed[0].pathspec == reused.origin_pathspec
    assert len(get_cards(reused, follow_resumed=False)) == 0  # the clone rendered none
    # steps that ran again have the resume's --with card
    assert [(c.type, c.id) for c in get_cards(run2["join"].task)] == [("blank", "x")]


def test_get_cards_refuses_what_is_not_a_task(runner: Runner) -> None:
    import pytest

    from grange.exceptions import InvalidPathspec

    with pytest.raises(InvalidPathspec, match="Flow/run/step/task"):
        get_cards("CardDefaultFlow/1/start")
    with pytest.raises(TypeError, match="not int"):
        get_cards(3)  # type: ignore[arg-type]


def test_a_notebook_shows_cards_in_sandboxed_frames(runner: Runner) -> None:
    result = runner.run(flow("card_components"))
    task = Task(Run(f"CardComponentsFlow/{result.run_id}")["end"].task.pathspec)
    cards = get_cards(task)
    frame = cards[0]._repr_html_()
    assert frame.startswith('<iframe sandbox="allow-scripts" srcdoc="')
    assert "<html" not in frame and "&lt;" in frame  # the page is escaped into srcdoc
    assert cards._repr_html_().count("<iframe") == 3
