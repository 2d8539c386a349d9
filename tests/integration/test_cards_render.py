"""The final render in forked children (grange.task.card_render), job by job: a good card,
one whose document raises, one whose renderer dies, one past its timeout; all at once."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from grange.cards.collector import CardCollector, CardSpec
from grange.cards.default import TaskFacts
from grange.task.card_render import RenderJob, render_cards

FACTS = TaskFacts(pathspec="F/1/s/2", flow="F", run_id="1", step="s", task_id="2", attempt=0,
                  status="ok")  # fmt: skip


def jobs(*behaviours: str, timeout: float = 30) -> list[RenderJob]:
    specs = [CardSpec(i, "blank", f"c{i}") for i in range(len(behaviours))]
    cards = CardCollector(specs, facts=lambda: FACTS, write=lambda s, d: None)
    out = []
    for handle, how in zip(cards.cards, behaviours, strict=True):
        original = handle.doc

        def doc(facts: TaskFacts, *, final: bool, how: str = how, original: Any = original) -> Any:
            if how == "raise":
                raise KeyError("no such thing")
            if how == "crash":
                os.kill(os.getpid(), signal.SIGSEGV)
            if how == "hang":
                time.sleep(3600)
            return original(facts, final=final)

        handle.doc = doc  # type: ignore[method-assign]
        out.append(RenderJob(handle, timeout))
    return out


def test_each_card_gets_its_own_result(capfd: pytest.CaptureFixture[str]) -> None:
    results = render_cards(jobs("ok", "raise", "crash"), FACTS)
    assert [r.status for r in results] == ["ok", "error", "error"]
    assert results[0].html is not None and b"<html" in results[0].html.lower()
    assert results[0].doc is not None and b'"final":true' in results[0].doc
    assert "building the card raised KeyError" in results[1].reason
    assert "killed by SIGSEGV" in results[2].reason
    assert "Traceback" in capfd.readouterr().err  # the raise's traceback, for the log


def test_a_hung_card_is_killed_at_its_timeout_and_the_others_finish() -> None:
    results = render_cards(jobs("hang", "ok", timeout=1), FACTS)
    assert [r.status for r in results] == ["timeout", "ok"]
    assert results[0].reason == "it took longer than 1 seconds"


def _children() -> set[int]:
    pids: set[int] = set()
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/children") as fh:
            pids.update(int(p) for p in fh.read().split())
    return pids


def test_no_child_is_left_behind() -> None:
    before = _children()  # the session's own (an S3 server ...)
    render_cards(jobs("ok", "hang", timeout=0.5), FACTS)
    assert _children() == before  # every renderer was reaped, the hung one killed first


def test_cards_survive_sigchld_ignored() -> None:
    # A step that sets SIGCHLD to SIG_IGN: the kernel reaps the renderers, and
    # os.waitpid raises ECHILD. The pages already received are kept; a card that
    # sent none is an error naming why.
    old = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        results = render_cards(jobs("ok", "crash", "ok"), FACTS)
    finally:
        signal.signal(signal.SIGCHLD, old)
    assert [r.status for r in results] == ["ok", "error", "ok"]
    assert results[0].html is not None and results[2].html is not None
    assert "exit status is lost" in results[1].reason


def test_prepare_runs_in_the_child_of_a_default_card_under_its_timeout() -> None:
    specs = [CardSpec(0, "default"), CardSpec(1, "blank")]
    cards = CardCollector(specs, facts=lambda: FACTS, write=lambda s, d: None)
    seen: list[int] = []

    def prepare(facts: TaskFacts) -> None:
        seen.append(os.getpid())  # in the child: the parent's list never sees it
        facts.artifacts["loaded"] = "from the child"
        if os.environ.get("GRANGE_TEST_HANG_PREPARE"):
            time.sleep(3600)

    results = render_cards([RenderJob(c, 30) for c in cards.cards], FACTS, prepare=prepare)
    assert [r.status for r in results] == ["ok", "ok"] and seen == []
    assert results[0].html is not None and b"from the child" in results[0].html
    assert results[1].html is not None and b"from the child" not in results[1].html
    os.environ["GRANGE_TEST_HANG_PREPARE"] = "1"
    try:
        results = render_cards([RenderJob(cards.cards[0], 0.5)], FACTS, prepare=prepare)
    finally:
        del os.environ["GRANGE_TEST_HANG_PREPARE"]
    assert results[0].status == "timeout"


def test_each_card_is_stored_on_its_own_when_the_disk_is_full(
    capfd: pytest.CaptureFixture[str],
) -> None:
    import errno

    from grange import card, step
    from grange.datastore import AttemptRecord, MemoryBlobStore, TaskPaths
    from grange.datastore.cards import list_cards
    from grange.decorators.base import decorators_of
    from grange.task.cards import TaskCards
    from grange.task.spec import TaskSpec
    from grange.task.stores import TaskStores

    class Full(MemoryBlobStore):
        def put_chunks(self, key, chunks, *, overwrite=False):  # type: ignore[no-untyped-def]
            if "/cards/0-blank-a" in key:
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().put_chunks(key, chunks, overwrite=overwrite)

    def start(self):  # type: ignore[no-untyped-def]
        pass

    blobs = Full()
    decos = decorators_of(card(type="blank", id="a")(card(type="blank", id="b")(step(start))))
    spec = TaskSpec(flow="F", run_id="1", step="start", task_id="2")
    cards = TaskCards(decos, spec, TaskStores(blobs, "F"), started=1.0, graph={})
    record = AttemptRecord(flow="F", run_id="1", step="start", task_id="2", attempt=0,
                           status="ok", started_at=1.0, finished_at=2.0)  # fmt: skip
    cards.finish(record, {})
    stored = list_cards(blobs, TaskPaths("F", "1", "start", "2", 0))
    assert [(c.slot, c.meta is not None) for c in stored] == [("1-blank-b", True)]
    err = capfd.readouterr().err
    assert "[@card] card 0-blank-a of task F/1/start/2 was not stored" in err
    assert "No space left on device" in err
