"""current.card (CardCollector): where append goes, ids, live refreshes rate-limited by
refresh_interval and coalesced (the latest one is kept, never dropped)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grange.cards.collector import CardCollector, CardSpec
from grange.cards.components import Markdown
from grange.cards.default import TaskFacts


def facts() -> TaskFacts:
    return TaskFacts(
        pathspec="F/1/start/1", flow="F", run_id="1", step="start", task_id="1", attempt=0,
        status="running", started_at=1.0, finished_at=None, parameters={}, artifacts={},
        unloaded={}, graph={}, exception=None,
    )  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def collector(*specs: CardSpec, clock: Clock | None = None) -> tuple[CardCollector, list[Any]]:
    written: list[Any] = []

    def write(spec: CardSpec, data: bytes) -> None:
        written.append((spec.slot, json.loads(data)))

    return CardCollector(specs, facts=facts, write=write, clock=clock or Clock()), written


def texts(handle: Any) -> list[str]:
    return [c.render()["text"] for c in handle]


def test_append_goes_to_the_only_card() -> None:
    cards, _ = collector(CardSpec(0, "default"))
    cards.append(Markdown("x"))
    assert texts(cards.cards[0]) == ["x"]


def test_append_goes_to_the_customized_card_then_to_the_one_without_id() -> None:
    cards, _ = collector(
        CardSpec(0, "blank", "a"), CardSpec(1, "default", "b", customize=True), CardSpec(2, "blank")
    )
    cards.append(Markdown("x"))
    assert [len(c) for c in cards.cards] == [0, 1, 0]
    cards, _ = collector(CardSpec(0, "blank", "a"), CardSpec(1, "default"))
    cards.extend([Markdown("y")])
    assert [len(c) for c in cards.cards] == [0, 1]


def test_append_without_a_target_warns_once_and_does_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cards, _ = collector(CardSpec(0, "blank", "a"), CardSpec(1, "default", "b"))
    cards.append(Markdown("x"))
    cards.append(Markdown("y"))
    assert [len(c) for c in cards.cards] == [0, 0]
    err = capsys.readouterr().err
    assert err.count("[@card WARNING]") == 1 and "current.card['id']" in err


def test_ids_types_and_replacing_components(capsys: pytest.CaptureFixture[str]) -> None:
    cards, _ = collector(CardSpec(0, "blank", "a"), CardSpec(1, "default", "b"))
    cards["a"].append(Markdown("to a"), id="first")
    assert cards["a"].components["first"].render()["text"] == "to a"
    cards["b"] = [Markdown("1"), Markdown("2")]
    assert texts(cards["b"]) == ["1", "2"]
    assert [h.spec.id for h in cards.get(type="blank")] == ["a"]
    assert "a" in cards and "zz" not in cards
    cards["zz"].append(Markdown("lost"))
    assert "no @card of this step has id='zz'" in capsys.readouterr().err
    cards["a"].clear()
    assert len(cards["a"]) == 0


def test_refresh_is_rate_limited_and_the_latest_is_kept() -> None:
    clock = Clock()
    cards, written = collector(CardSpec(0, "blank", refresh_interval=5), clock=clock)
    handle = cards.cards[0]
    cards.append(Markdown("one"))
    cards.refresh({"step": 1})  # the first refresh is written at once
    assert [w[1]["data"] for w in written] == [{"step": 1}] and not handle.pending
    clock.now += 1
    cards.append(Markdown("two"))
    cards.refresh({"step": 2})  # too soon: pending
    cards.refresh({"step": 3})
    assert len(written) == 1 and handle.pending and handle.data == {"step": 3}
    clock.now += 5
    cards.refresh({"step": 4})  # the interval passed: the latest is written
    assert [w[1]["data"] for w in written] == [{"step": 1}, {"step": 4}]
    doc = written[-1][1]
    assert doc["final"] is False and doc["type"] == "blank"
    assert [c["text"] for c in doc["components"]] == ["one", "two"]
    clock.now += 1
    cards.refresh(force=True)  # force: now
    assert len(written) == 3


def test_a_failing_component_or_store_never_fails_the_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Broken(Markdown):
        def render(self) -> dict[str, Any]:
            raise RuntimeError("nope")

    def write(spec: CardSpec, data: bytes) -> None:
        raise OSError("disk full")

    cards = CardCollector([CardSpec(0, "blank")], facts=facts, write=write, clock=Clock())
    cards.append(Broken())
    assert cards.cards[0].rendered_components()[0]["type"] == "error"
    cards.refresh()
    cards.refresh(force=True)
    err = capsys.readouterr().err
    assert err.count("could not be stored") == 1 and "disk full" in err
    assert cards.cards[0].pending  # not written: the end of the task writes it


def test_refresh_data_that_is_not_json_is_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    cards, written = collector(CardSpec(0, "blank"))
    cards.refresh({"x": object()})
    assert "not JSON" in capsys.readouterr().err and "data" not in written[0][1]


def test_no_card_call_fails_the_step(capsys: pytest.CaptureFixture[str]) -> None:
    cards, written = collector(CardSpec(0, "blank"))
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    cards.refresh(data=deep)  # json.dumps raises RecursionError: the data is ignored
    cards.refresh(data=deep, force=True)
    err = capsys.readouterr().err
    assert err.count("refresh(data=...) is not JSON") == 1 and "RecursionError" in err
    assert [w[0] for w in written] == ["0-blank", "0-blank"] and "data" not in written[0][1]
    cards["x"] = 5  # type: ignore[assignment]  # not a list of components: a warning
    cards.extend(5)  # type: ignore[arg-type]
    cards.extend(5)  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert err.count("extend() raised TypeError") == 1 and "never fails the step" in err


def test_keyboard_interrupt_is_not_swallowed() -> None:
    class Stop:
        def __iter__(self):  # type: ignore[no-untyped-def]
            raise KeyboardInterrupt

    cards, _ = collector(CardSpec(0, "blank"))
    with pytest.raises(KeyboardInterrupt):
        cards.extend(Stop())


def test_a_live_update_past_the_budget_is_stored_as_an_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import grange.cards.collector as module

    monkeypatch.setattr(module, "MAX_CARD_BYTES", 10_000)
    cards, written = collector(CardSpec(0, "blank", refresh_interval=0))
    cards.refresh(data={"big": "x" * 20_000})
    cards.refresh(data={"big": "x" * 20_000})
    assert len(written) == 2 and all("big" not in json.dumps(doc) for _, doc in written)
    assert written[0][1]["components"][0]["type"] == "error"
    assert "too large" in json.dumps(written[0][1])
    assert capsys.readouterr().err.count("past the 10,000-byte budget") == 1


def test_an_id_that_is_not_text_is_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    cards, _ = collector(CardSpec(0, "blank", "a"))
    cards[["a"]].append(Markdown("x"))  # type: ignore[index]  # unhashable: no TypeError
    assert "no @card of this step has id=['a']" in capsys.readouterr().err
