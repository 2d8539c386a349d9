"""Cards on an S3 datastore (the moto server on loopback), a damaged card named with the
fix, and every run's graph in its claim (Run.graph)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grange import Flow, Run, metadata, namespace
from grange.cards import get_cards
from grange.exceptions import DatastoreError, GrangeError
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
    assert "sha256" in text and "Run the flow again" in text and "artifacts are unaffected" in text


def test_a_damaged_meta_hides_no_other_card(runner: Runner) -> None:
    result = runner.run(CARD_FLOWS / "card_components.py")
    task = Flow("CardComponentsFlow")[str(result.run_id)]["end"].task
    meta = Path(get_cards(task)[1].path.removeprefix("file://")).with_suffix(".json")
    meta.write_text("{cut short")
    cards = get_cards(task)
    assert [(c.id, c.status) for c in cards] == [
        ("notes", "ok"), ("main", "damaged"), ("extra", "ok")
    ]  # fmt: skip
    assert "a note for the notes card" in cards[0].get()
    assert "its meta cannot be read" in (cards[1].damage or "")
    with pytest.raises(GrangeError) as err:
        cards[1].get()
    text = err.value.render()
    assert f"card 1-default-main of task {task.pathspec}" in text and "1-default-main.json" in text
    assert "Run the flow again" in text
    listed = runner(CARD_FLOWS / "card_components.py", "card", "list", f"{result.run_id}/end")
    assert "damaged" in listed.stdout and "notes" in listed.stdout and "extra" in listed.stdout
    assert "its meta cannot be read" in listed.output


def test_a_default_card_on_s3_renders_with_inherited_artifacts_listed(
    runner: Runner, s3_server: MotoServer, s3_bucket: str
) -> None:
    # An S3 client is not fork-safe: the renderer child reads nothing from the store, so
    # the artifacts end only inherited are listed with their size instead of previewed.
    pytest.importorskip("obstore")
    root = f"s3://{s3_bucket}/runs"
    env = runner.env(**s3_server.env(), GRANGE_DATASTORE_ROOT=root)
    result = runner.run(CARD_FLOWS / "card_default.py", env=env)
    metadata(f"local@{root}")
    namespace(None)
    run = Flow("CardDefaultFlow")[str(result.run_id)]
    for step in ("start", "end"):
        cards = get_cards(run[step].task)
        assert [c.status for c in cards] == ["ok"], step
    page = get_cards(run["end"].task)[0].get()
    for name in ("frame", "note", "big", "total"):
        assert name in page


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
