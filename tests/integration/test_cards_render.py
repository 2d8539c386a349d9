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
