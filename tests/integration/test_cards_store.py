"""Cards on an S3 datastore (the moto server on loopback), a damaged card named with the
fix, and every run's graph in its claim (Run.graph)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grange import Flow, Run, metadata, namespace
from grange.cards import get_cards
from grange.exceptions import DatastoreError
from s3server import MotoServer
from support import FLOWS, Runner

CARD_FLOWS = FLOWS / "cards"


def test_cards_are_stored_and_read_on_s3(
    runner: Runner, s3_server: MotoServer, s3_bucket: str
) -> None:
    pytest.importorskip("obstore")
    root = f"s3://{s3_bucket}/runs"
    env = runner.env(**s3_server.env(), GRANGE_DATASTORE_ROOT=root)
    result = runner.run(CARD_FLOWS / "card_components.py", env=env)
    metadata(f"local@{root}")
    namespace(None)
    task = Flow("CardComponentsFlow")[str(result.run_id)]["end"].task
    cards = get_cards(task)
    assert [c.id for c in cards] == ["notes", "main", "extra"]
    assert cards[0].path.startswith(f"s3://{s3_bucket}/runs/CardComponentsFlow/")
    assert "a note for the notes card" in cards[0].get()


def test_a_damaged_card_is_named_with_the_fix(runner: Runner) -> None:
    result = runner.run(CARD_FLOWS / "card_components.py")
    task = Flow("CardComponentsFlow")[str(result.run_id)]["start"].task
    card = get_cards(task)[0]
    page = Path(card.path.removeprefix("file://"))
    page.write_text(page.read_text().replace("Only card", "Tampered"))
    with pytest.raises(DatastoreError) as err:
        get_cards(task)[0].get()
    text = err.value.render()
    assert f"card 0-blank of task {task.pathspec} (attempt 0) is damaged" in text
    assert "sha256" in text and "run the step again" in text


def test_every_run_records_its_graph(runner: Runner) -> None:
    result = runner.run(CARD_FLOWS / "card_foreach.py")
    run = Run(f"CardForeachFlow/{result.run_id}")
    graph = run.graph
    assert graph is not None and graph["flow"] == "CardForeachFlow"
    assert list(graph["steps"]) == ["start", "each", "join", "end"]
    assert graph["steps"]["start"]["foreach_var"] == "items"
    assert graph["steps"]["join"]["type"] == "join"
    # a run recorded before runs kept their graph has none
    claim = runner.root / "CardForeachFlow" / str(result.run_id) / "run.json"
    data = json.loads(claim.read_text())
    del data["extra"]["graph"]
    claim.write_text(json.dumps(data))
    assert Run(f"CardForeachFlow/{result.run_id}").graph is None
