"""get_cards' status of a card without a page: ``running`` while the task's attempt
runs, ``unfinished`` once it ended (its record exists, or the index has the task or
its run as ended), and the banner on such a card's page."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from grange.client.cards import Card, _Ended, _task_finished
from grange.datastore import MemoryBlobStore, TaskPaths
from grange.datastore.cards import StoredCard, write_live_data

PATHS = TaskPaths("F", "1", "train", "4", 0)


def fake_task(*, finished: bool, run_finished: bool) -> Any:
    run = SimpleNamespace(finished=run_finished)
    return SimpleNamespace(finished=finished, parent=SimpleNamespace(parent=run))


def test_a_card_of_an_ended_run_is_unfinished_with_a_banner() -> None:
    blobs = MemoryBlobStore()
    doc = b'{"version":1,"type":"blank","id":null,"title":"t","created_at":0,"final":false,' \
        b'"components":[{"type":"markdown","text":"live text"}]}'  # fmt: skip
    write_live_data(blobs, PATHS, "0-blank", doc)
    stored = StoredCard("0-blank", None, True)
    running = fake_task(finished=False, run_finished=False)
    card = Card(blobs, PATHS, stored, pathspec="F/1/train/4", ended=_Ended(blobs, PATHS, running))
    assert card.status == "running" and "never finished" not in card.get()
    crashed = fake_task(finished=False, run_finished=True)  # the run crashed, the task row lags
    card = Card(blobs, PATHS, stored, pathspec="F/1/train/4", ended=_Ended(blobs, PATHS, crashed))
    assert card.status == "unfinished"
    page = card.get()
    assert "This card was never finished" in page and "live text" in page


def test_task_finished_never_raises() -> None:
    class Broken:
        @property
        def finished(self) -> bool:
            raise RuntimeError("no row")

    assert _task_finished(Broken()) is False  # type: ignore[arg-type]
    assert _task_finished(fake_task(finished=True, run_finished=False)) is True
