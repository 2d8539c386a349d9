"""Live cards: refresh() stores the card's document while the task runs, readable (and
rendered) through get_cards before the task ends; refreshes within refresh_interval are
coalesced, never lost; and cards whose render hangs, crashes or raises."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from grange import Flow, Step, Task
from grange.cards import get_cards
from grange.exceptions import ObjectNotFound
from support import FLOWS, Runner

CARD_FLOWS = FLOWS / "cards"


def test_a_running_task_shows_its_live_card(runner: Runner, tmp_path: Path) -> None:
    ready, go = tmp_path / "ready", tmp_path / "go"
    env = runner.env(READY_FILE=str(ready), GO_FILE=str(go))
    argv, id_file = runner.argv(CARD_FLOWS / "card_live.py", "run")
    with subprocess.Popen(
        argv, cwd=runner.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        try:
            while not ready.exists():
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.05)
            assert id_file is not None
            run_id = id_file.read_text().strip()
            task = _indexed_task(f"CardLiveFlow/{run_id}/start", proc)
            cards = get_cards(task)
            assert len(cards) == 1
            live = cards[0]
            assert not live.final and live.status == "running" and live.hash is None
            doc = live.get_data()
            assert doc is not None and doc["final"] is False and doc["data"] == {"done": 1}
            assert "progress: first half" in str(doc["components"])
            assert "progress: first half" in live.get()  # the live doc, rendered
        finally:
            go.write_text("go")
        output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    final = get_cards(Flow("CardLiveFlow")[run_id]["start"].task)[0]
    assert final.final and final.status == "ok"
    assert "progress: all done" in final.get()
    data = final.get_data()  # the last live data is the final document
    assert data is not None and data["final"] is True
    # end refreshed twice within its 60 s interval: the second is not lost
    end = get_cards(Flow("CardLiveFlow")[run_id]["end"].task)[0]
    end_data = end.get_data()
    assert end_data is not None and end_data["data"] == {"n": 2}
    assert "second" in str(end_data["components"])


def _indexed_task(step: str, proc: subprocess.Popen[str]) -> Task:
    """The step's task, once the runtime has indexed it (it does so in batches)."""
    while True:
        try:
            return Step(step).task
        except ObjectNotFound:
            assert proc.poll() is None
            time.sleep(0.05)


def test_cards_that_hang_crash_or_raise_never_fail_the_step(runner: Runner, fork: bool) -> None:
    result = runner.run(CARD_FLOWS / "card_broken.py", fork=fork)
    run = Flow("CardBrokenFlow")[str(result.run_id)]
    assert run.successful
    start = run["start"].task
    cards = get_cards(start)
    # the default card timed out (an artifact's repr never returns); the quiet one
    # crashed with save_errors=False: no card, and its live data is removed
    assert [(c.type, c.id, c.status) for c in cards] == [("default", None, "timeout")]
    page = cards[0].get()
    assert "timed out after 2 seconds" in page and "not affected" in page
    assert "card 0-default of task" in start.stderr and "took longer than 2 seconds" in start.stderr
    assert "card 1-blank-quiet" in start.stderr and "no card is stored" in start.stderr
    # a renderer killed by SIGSEGV: an error card
    middle = get_cards(run["middle"].task)
    assert [c.status for c in middle] == ["error"]
    assert "SIGSEGV" in middle[0].get()
    # a component whose render() raises becomes an error component of a good card
    end = get_cards(run["end"].task)
    assert [c.status for c in end] == ["ok"]
    assert "before the broken one" in end[0].get()
    assert "this component is broken" in end[0].get()


def test_a_task_killed_while_its_cards_render_keeps_its_result_and_live_card(
    runner: Runner, tmp_path: Path
) -> None:
    import os
    import signal

    from grange.datastore import LocalBlobStore, read_record

    pid_file = tmp_path / "pid"
    env = runner.env(PID_FILE=str(pid_file))
    argv, id_file = runner.argv(CARD_FLOWS / "card_killed.py", "run")
    with subprocess.Popen(
        argv, cwd=runner.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        while not pid_file.exists() or not pid_file.read_text():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.05)
        assert id_file is not None
        while not id_file.exists():
            time.sleep(0.05)
        run_id = id_file.read_text().strip()
        blobs = LocalBlobStore(runner.root)
        task_dir = runner.root / "CardKilledFlow" / run_id / "start"
        # the record is committed before the cards render: wait for it, then kill
        while not list(task_dir.glob("*/0/record.json")):
            assert proc.poll() is None
            time.sleep(0.05)
        task_id = next(task_dir.glob("*/0/record.json")).parts[-3]
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output  # the step had committed: the run goes on
    record = read_record(blobs, "CardKilledFlow", run_id, "start", task_id, 0)
    assert record is not None and record.status == "ok"
    task = Flow("CardKilledFlow")[run_id]["start"].task
    assert task.successful and task.data.value == 42
    cards = get_cards(task)
    # the attempt ended without the page: "unfinished", never "running" forever
    assert [(c.slot, c.final, c.status) for c in cards] == [("0-default", False, "unfinished")]
    page = cards[0].get()
    assert "live before the kill" in page  # its last live data, rendered
    assert "This card was never finished" in page
