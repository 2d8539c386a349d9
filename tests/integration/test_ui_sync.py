"""A long-lived grange ui sees the runs that other processes stored only in the datastore."""

from __future__ import annotations

import re
from pathlib import Path

from flow_runs import run_flow
from grange.metastore import sqlite_url
from support import FLOWS
from ui_support import browser, stores_at, ui_server

FLOW = FLOWS / "run" / "linear.py"


def test_runs_stored_elsewhere_are_indexed_again_every_sync_interval(tmp_path: Path) -> None:
    root = tmp_path / ".grange"
    elsewhere = sqlite_url(tmp_path / "other-index")  # the runs' own index, not the UI's
    (tmp_path / "other-index").mkdir()
    first = run_flow(FLOW, root=root, user="ada", GRANGE_METADATA=elsewhere)
    stores = stores_at(root)

    def shown(client: object) -> list[str]:
        page = client.get("/flows/LinearRunFlow").text  # type: ignore[attr-defined]
        return re.findall(r'data-testid="run-row" data-run="([^"]+)"', page)

    with ui_server(stores, sync_every=3600.0) as ui, browser(ui) as client:
        assert shown(client) == [first]  # indexed from the datastore on first sight
        second = run_flow(FLOW, root=root, user="ada", GRANGE_METADATA=elsewhere)
        assert shown(client) == [first]  # compared again only after sync_every seconds
    with ui_server(stores, sync_every=0.0) as ui, browser(ui) as client:
        assert shown(client) == [second, first]
