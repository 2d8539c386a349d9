"""A team's setup end to end: runs, a failure, resume and client reads with the
metadata index on PostgreSQL (``--metadata postgresql://...``), artifacts on disk.

Runs when ``GRANGE_TEST_POSTGRES_URL`` names a server (``.ci/run`` starts one);
every test works in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from grange import Flow, metadata
from grange.exceptions import ClientError
from support import POSTGRES_ENV, Runner, postgres_schema

pytestmark = pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV),
    reason=f"no PostgreSQL server: set {POSTGRES_ENV}=postgresql://user@host:port/db",
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_schema(os.environ[POSTGRES_ENV])


def test_run_fail_resume_and_read_back_on_postgresql(
    runner: Runner, pg_url: str, fork: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = ("--metadata", pg_url)
    env = runner.env(FAIL_ITEM="2")
    failed = runner.run("fail", "--tag", "pg", top=top, env=env, fork=fork, ok=False)
    resumed = runner.resume("fail", top=top, fork=fork)
    nested = runner.run("nested_foreach", top=top, fork=fork)
    # Read with no datastore (the index alone): a clear error, not None.
    monkeypatch.setenv("GRANGE_DATASTORE_ROOT", str(runner.cwd / "elsewhere"))
    metadata(pg_url)
    with pytest.raises(ClientError, match="holds no record of it") as caught:
        _ = Flow("FailRunFlow")[str(resumed.run_id)].data
    assert "GRANGE_DATASTORE_ROOT" in caught.value.render()
    monkeypatch.setenv("GRANGE_DATASTORE_ROOT", str(runner.root))  # where the artifacts are
    metadata(pg_url)  # the client reads the same index
    flow = Flow("FailRunFlow")
    assert [r.id for r in flow] == [resumed.run_id, failed.run_id]
    origin, run = flow[str(failed.run_id)], flow[str(resumed.run_id)]
    assert not origin.successful and origin.finished and "pg" in origin.tags
    assert run.successful and run.origin_pathspec == f"FailRunFlow/{failed.run_id}"
    assert run.data.outs == [10, 20, 30]
    assert {t.data.out for t in run["work"] if t.origin_pathspec} == {10, 30}
    assert len(list(run["work"])) == 3
    grid = Flow("NestedForeachRunFlow")[str(nested.run_id)]
    assert grid.data.grid == [["x1", "x2", "x3"], ["y1", "y2", "y3"]]
    assert len(list(grid["leaf"])) == 6
    # Nothing of these runs went to a local SQLite index.
    assert not (runner.root / "metadata.db").exists()
