"""Many runs at once, as a team starts them: 20 runs of a foreach flow, each its own
process, against one metadata database and one shared datastore, on PostgreSQL and
on the local SQLite file. Every run succeeds with its own id, no process meets a lock,
serialization or deadlock error, and every task of every run is indexed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from grange import Flow, metadata
from pgdb import POSTGRES_ENV, fresh_database
from support import Runner

pytestmark = pytest.mark.slow

RUNS = 20
FLOW = "ForeachIndexRunFlow"
TROUBLE = ("locked", "serializ", "deadlock", "Traceback", "could not", "aborted")


@pytest.fixture(params=["postgres", "sqlite"])
def index_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield "local"
        return
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_ENV}")
    with fresh_database() as url:
        yield url


def test_twenty_runs_at_once_share_one_index(
    runner: Runner, index_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    procs = []
    for _ in range(RUNS):
        argv, id_file = runner.argv("foreach_index", "run", top=("--metadata", index_url))
        proc = subprocess.Popen(
            argv,
            cwd=runner.cwd,
            env=runner.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append((proc, id_file))
    ids = []
    for proc, id_file in procs:
        out, err = proc.communicate()
        assert proc.returncode == 0, out + err
        assert not [t for t in TROUBLE if t in out + err], out + err
        assert id_file is not None
        ids.append(id_file.read_text().strip())
    assert len(set(ids)) == RUNS
    if index_url != "local":
        monkeypatch.setenv("GRANGE_DATASTORE_ROOT", str(runner.root))
        metadata(index_url)
    runs = {r.id: r for r in Flow(FLOW)}
    assert set(runs) == set(ids)
    for run in runs.values():
        assert run.successful
        tasks = [t for step in run for t in step]
        assert len(tasks) == 6 and all(t.successful for t in tasks)
        assert run.data.pairs == [(0, "a"), (1, "b"), (2, "c")]
