"""The README's first flow, copied as it is: it runs, and its @card holds the table it
promises. The commands shown under it that read the run back work on that run."""

from __future__ import annotations

import re
from pathlib import Path

from grange import Run
from grange.cards import get_cards
from support import Runner

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_flow_runs_and_its_card_has_the_table(runner: Runner) -> None:
    text = README.read_text()
    body = re.search(r"## A flow\n\n```python\n(.*?)```", text, re.S)
    assert body is not None
    flow = runner.cwd / "train.py"
    flow.write_text(body.group(1))
    result = runner.run(flow, "--scale", "1.5")
    run = Run(f"TrainFlow/{result.run_id}")
    assert run.data.best == 0.2
    cards = get_cards(f"TrainFlow/{result.run_id}/pick/{run['pick'].task.id}")
    assert [c.type for c in cards] == ["default"]
    page = cards[0].get()
    assert "Best rate: 0.2" in page
    for rate in ("0.1", "0.2", "0.5"):
        assert f">{rate}<" in page  # a cell of the table, as text
    listed = runner(flow, "card", "list", f"{result.run_id}/pick")
    assert "default" in listed.stdout
    html = runner.cwd / "pick.html"
    runner(flow, "card", "get", f"{result.run_id}/pick", str(html))
    assert "Best rate: 0.2" in html.read_text()
