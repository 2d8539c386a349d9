"""The task side of @card: the facts of the final card (values in memory previewed,
small inherited artifacts loaded, larger ones listed with their stored sizes), and
nothing of it on the path of steps without @card."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grange import card, step
from grange.datastore import ArtifactRef, AttemptRecord, MemoryBlobStore
from grange.decorators.base import decorators_of
from grange.task.cards import TaskCards
from grange.task.spec import TaskSpec
from grange.task.stores import TaskStores


def _ref(size: int) -> ArtifactRef:
    return ArtifactRef(key="k" * 40, size=size, encoding="gpickle5", type="builtins.bytes")


def test_final_facts_preview_what_is_in_memory_and_size_the_rest() -> None:
    def start(self):
        pass

    decos = decorators_of(card(id="a")(card(type="blank")(step(start))))
    spec = TaskSpec(flow="F", run_id="1", step="start", task_id="2")
    cards = TaskCards(decos, spec, TaskStores(MemoryBlobStore(), "F"), started=1.0, graph={})
    assert [c.spec.slot for c in cards.collector.cards] == ["0-default-a", "1-blank"]
    record = AttemptRecord(
        flow="F", run_id="1", step="start", task_id="2", attempt=0, status="failed",
        started_at=1.0, finished_at=2.0,
        artifacts={"loaded": _ref(10), "huge": _ref(10**9), "_private": _ref(5)},
        exception={"type": "builtins.ValueError", "message": "m", "text": "ValueError: m"},
    )  # fmt: skip
    facts, to_load = cards._final_facts(
        record, {"loaded": 1, "new": [1, 2], "_grange_task": object()}
    )
    assert facts.artifacts == {"loaded": 1, "new": [1, 2]} and to_load == []
    assert facts.unloaded == {"huge": 10**9}  # too large: never read
    assert (facts.status, facts.exception, facts.finished_at) == ("failed", "ValueError: m", 2.0)
    assert facts.pathspec == "F/1/start/2" and facts.attempt == 0


def test_small_inherited_artifacts_are_loaded_for_the_default_card() -> None:
    def start(self):
        pass

    stores = TaskStores(MemoryBlobStore(), "F")
    small = stores.save_artifacts({"small": "tiny value"}, "start")["small"]
    spec = TaskSpec(flow="F", run_id="1", step="start", task_id="2")
    decos = decorators_of(card(step(start)))
    cards = TaskCards(decos, spec, stores, started=1.0, graph={})
    record = AttemptRecord(
        flow="F", run_id="1", step="start", task_id="2", attempt=0, status="ok",
        started_at=1.0, finished_at=2.0, artifacts={"small": small, "huge": _ref(10**9)},
    )  # fmt: skip
    facts, to_load = cards._final_facts(record, {})
    # Nothing is unpickled in the task's process: the renderer child loads them.
    assert facts.artifacts == {} and facts.unloaded == {"small": small.size, "huge": 10**9}
    assert to_load == [("small", small)]
    cards.load_into(facts, to_load)
    assert facts.artifacts == {"small": "tiny value"} and facts.unloaded == {"huge": 10**9}
    assert cards._final_facts(record, {}, load=False)[1] == []


def test_artifacts_are_not_loaded_from_a_store_a_fork_cannot_use() -> None:
    from grange.task.cards import fork_safe

    class Remote(MemoryBlobStore):  # as S3: not one of the fork-safe stores
        pass

    assert fork_safe(MemoryBlobStore()) and not fork_safe(Remote())

    def start(self):
        pass

    stores = TaskStores(Remote(), "F")
    small = stores.save_artifacts({"small": "tiny value"}, "start")["small"]
    spec = TaskSpec(flow="F", run_id="1", step="start", task_id="2")
    cards = TaskCards(decorators_of(card(step(start))), spec, stores, started=1.0, graph={})
    record = AttemptRecord(
        flow="F", run_id="1", step="start", task_id="2", attempt=0, status="ok",
        started_at=1.0, finished_at=2.0, artifacts={"small": small},
    )  # fmt: skip
    facts, to_load = cards._final_facts(record, {})
    assert to_load == [] and facts.unloaded == {"small": small.size}


def test_steps_without_card_import_nothing_of_cards() -> None:
    code = (
        "import sys, grange.task.execute, grange.runtime.run; "
        "print(sorted(m for m in sys.modules if m.startswith(('grange.cards', 'grange.task.card'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ctrl_c_while_cards_render_says_the_cards_were_lost(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import grange.task.cards as module

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "render_cards", interrupted)

    def start(self):
        pass

    spec = TaskSpec(flow="F", run_id="1", step="start", task_id="2")
    stores = TaskStores(MemoryBlobStore(), "F")
    cards = TaskCards(decorators_of(card(step(start))), spec, stores, started=1.0, graph={})
    record = AttemptRecord(flow="F", run_id="1", step="start", task_id="2", attempt=0,
                           status="ok", started_at=1.0, finished_at=2.0)  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        cards.finish(record, {})
    err = capsys.readouterr().err
    assert "[@card] the cards of task F/1/start/2 not stored yet were lost" in err
    assert "KeyboardInterrupt" in err
