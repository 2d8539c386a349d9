"""Cards a step puts at risk (tests/flows/cards/card_lost.py): SIGCHLD ignored, a
step @timeout shorter than the card's, inherited artifacts unpickled only in the
renderer child, a task that exits without its cards (status "unfinished"), a failed
step whose save_errors=False card leaves nothing behind; and duplicate ids through
an alias, caught before the run starts."""

from __future__ import annotations

import html
from pathlib import Path

from grange import Flow
from grange.cards import get_cards
from support import FLOWS, Runner

FLOW = FLOWS / "cards" / "card_lost.py"


def test_cards_a_step_puts_at_risk_are_stored(runner: Runner, tmp_path: Path) -> None:
    setstate = tmp_path / "setstate"
    result = runner.run(FLOW, env=runner.env(SETSTATE_FILE=str(setstate)))
    run = Flow("CardLostFlow")[str(result.run_id)]
    # SIGCHLD ignored by the step: both cards are stored all the same
    start = get_cards(run["start"].task)
    assert [(c.slot, c.status) for c in start] == [("0-default", "ok"), ("1-blank-b", "ok")]
    assert "SIGCHLD ignored" in start[1].get()
    # the step's @timeout (2 s) cut the card short: the page says so, and the fix
    middle = get_cards(run["middle"].task)
    assert [c.status for c in middle] == ["timeout"]
    page = html.unescape(middle[0].get())
    assert "cut short by the step's @timeout" in page and "@timeout(seconds=...)" in page
    assert "@card(timeout=...)" not in page.replace("than @card(timeout=...)", "")
    # the inherited `slow` was unpickled for end's default card, never in end's process
    end = run["end"].task
    pids = {int(p) for p in setstate.read_text().split()}
    assert pids and end.data.end_pid not in pids
    assert [(c.slot, c.status) for c in get_cards(end)] == [
        ("0-default", "ok"), ("1-blank-quiet", "ok")
    ]  # fmt: skip


def test_a_task_that_exits_leaves_an_unfinished_card(runner: Runner, tmp_path: Path) -> None:
    env = runner.env(SETSTATE_FILE=str(tmp_path / "setstate"))
    result = runner.run(FLOW, "--how", "exit", env=env, ok=False)
    task = Flow("CardLostFlow")[str(result.run_id)]["end"].task
    cards = get_cards(task)
    assert [(c.slot, c.final, c.status) for c in cards] == [("0-default", False, "unfinished")]
    page = cards[0].get()
    assert "This card was never finished" in page and "live before the end" in page
    listed = runner(FLOW, "card", "list", f"{result.run_id}/end")
    assert "unfinished" in listed.stdout


def test_a_failed_step_leaves_no_trace_of_a_save_errors_false_card(
    runner: Runner, tmp_path: Path
) -> None:
    env = runner.env(SETSTATE_FILE=str(tmp_path / "setstate"))
    result = runner.run(FLOW, "--how", "raise", env=env, ok=False)
    task = Flow("CardLostFlow")[str(result.run_id)]["end"].task
    assert [(c.slot, c.status) for c in get_cards(task)] == [("0-default", "ok")]
    assert "card 1-blank-quiet" in task.stderr and "save_errors=False" in task.stderr
    assert "its last refresh() is dropped with it" in task.stderr


def test_duplicate_ids_through_an_alias_stop_the_run_before_it_starts(
    runner: Runner, tmp_path: Path
) -> None:
    flow = tmp_path / "alias_flow.py"
    flow.write_text(
        "from grange import FlowSpec, card, step\n"
        "blank = card(type='blank', id='x')\n"
        "class AliasFlow(FlowSpec):\n"
        "    @blank\n"
        "    @card(id='x')\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
        "if __name__ == '__main__':\n"
        "    AliasFlow()\n"
    )
    result = runner.run(flow, ok=False)
    assert "two @card decorators have id='x'" in result.stderr
    assert "alias_flow.py:" in result.stderr and "'start'" in result.stderr
    assert "Traceback" not in result.stderr and result.run_id is None
    assert not (runner.root / "AliasFlow").exists() or not any(
        p.name.isdigit() for p in (runner.root / "AliasFlow").iterdir()
    )
