"""grange ui over a team's stores: PostgreSQL for the index, S3 (moto on loopback) for the data."""

from __future__ import annotations

import os
import re
from pathlib import Path

from flow_runs import clean_env, python
from grange.client.config import Stores
from grange.datastore.location import DatastoreLocation
from pgdb import fresh_database, needs_postgres
from s3server import MotoServer
from ui_support import FLOW, RUNS, UI_FLOWS, browser, fill, ui_server

pytestmark = needs_postgres


def test_runs_of_s3_and_postgres_are_shown(
    tmp_path: Path, s3_server: MotoServer, s3_bucket: str
) -> None:
    with fresh_database(os.environ["GRANGE_TEST_POSTGRES_URL"]) as url:
        root = f"s3://{s3_bucket}/team"
        flow = UI_FLOWS / "hostile_flow.py"
        env = clean_env(
            GRANGE_DATASTORE_ROOT=root, GRANGE_METADATA=url, GRANGE_USER="ada", **s3_server.env()
        )
        python(flow, "run", "--run-id-file", tmp_path / "id", cwd=tmp_path, env=env)
        run_id = (tmp_path / "id").read_text().strip()
        stores = Stores(DatastoreLocation.of(root), url)
        with ui_server(stores) as ui, browser(ui) as client:
            runs = client.get("/flows/UiHostileFlow").text
            run = client.get(f"/flows/UiHostileFlow/runs/{run_id}").text
            step = client.get(f"/flows/UiHostileFlow/runs/{run_id}/steps/start").text
            task_id = re.findall(r'data-task="([^"]+)"', step)[0]
            task = client.get(f"/flows/UiHostileFlow/runs/{run_id}/steps/start/tasks/{task_id}")
            blob = client.get(f"/download/UiHostileFlow/{run_id}/start/{task_id}/note")
        assert f'data-run="{run_id}"' in runs
        assert re.search(r'data-testid="task-count">6<', run)
        assert "the last line" in task.text and "line 00000" not in task.text
        assert blob.status_code == 200 and len(blob.content) > 0


def test_a_page_of_ten_thousand_runs_on_postgres(tmp_path: Path) -> None:
    from grange.metastore import MetadataStore

    with fresh_database(os.environ["GRANGE_TEST_POSTGRES_URL"]) as url:
        fill(MetadataStore.from_url(url), RUNS)
        stores = Stores(DatastoreLocation.of(tmp_path / ".grange"), url)
        with ui_server(stores) as ui, browser(ui) as client:
            page = client.get(f"/flows/{FLOW}", params={"page": 2, "per_page": 100}).text
            bob = client.get(f"/flows/{FLOW}", params={"user": "bob", "tag": "tenth"}).text
        ids = re.findall(r'data-testid="run-row" data-run="(\d+)"', page)
        assert ids == [str(n) for n in range(RUNS - 100, RUNS - 200, -1)]
        assert re.findall(r'data-run="(\d+)"', bob)[:3] == ["9940", "9870", "9800"]
