"""grange push: a finished run copied to another store, deduplicated and resumable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grange.datastore import LocalBlobStore
from grange.datastore.backend import BlobStore, MemoryBlobStore
from grange.datastore.location import cache_dir
from grange.datastore.runs import read_claim
from grange.metastore import MetadataStore, sqlite_url
from grange.reindex.push import journal_path, push_run
from support import Runner

GRANGE = "import sys; from grange.cli.main import main; sys.argv[0] = 'grange'; main()"


def grange(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", GRANGE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_push_copies_a_run_with_a_new_id_and_shares_blobs(runner: Runner, tmp_path: Path) -> None:
    team = tmp_path / "team"
    first = runner.run("logs").run_id
    second = runner.run("logs").run_id
    # Someone else's run 1 is in the team store already: the pushed runs get new ids.
    other = Runner(tmp_path / "other")
    (tmp_path / "other").mkdir()
    other.run("logs", env=other.env(GRANGE_DATASTORE_ROOT=str(team)))
    out = grange(
        "push",
        f"LogsRunFlow/{first}",
        "--to-datastore-root",
        str(team),
        cwd=runner.cwd,
        env=runner.env(),
    )
    assert out.returncode == 0, out.stderr
    assert "as LogsRunFlow/2" in out.stdout
    out = grange(
        "push",
        f"LogsRunFlow/{second}",
        "--to-datastore-root",
        str(team),
        cwd=runner.cwd,
        env=runner.env(),
    )
    assert out.returncode == 0, out.stderr
    assert "as LogsRunFlow/3" in out.stdout and "0 artifact blobs copied" in out.stdout

    from grange import Flow, metadata, namespace

    metadata(f"local@{team}")
    namespace(None)
    pushed = Flow("LogsRunFlow")["2"]
    assert pushed.successful and pushed.finished
    assert len(list(pushed["work"])) == 3  # every task is indexed
    assert "hello from start" in pushed["start"].task.stdout
    assert pushed["start"].task["items"].data == [0, 1, 2]
    claim = read_claim(LocalBlobStore(team), "LogsRunFlow", "2")
    assert claim is not None and claim.extra["pushed_from"]["run"] == f"LogsRunFlow/{first}"
    assert claim.user == "tester"


def test_push_refuses_unknown_runs_and_missing_target(runner: Runner, tmp_path: Path) -> None:
    runner.run("linear")
    out = grange(
        "push",
        "LinearRunFlow/99",
        "--to-datastore-root",
        str(tmp_path / "t"),
        cwd=runner.cwd,
        env=runner.env(),
    )
    assert out.returncode == 2 and "no run LinearRunFlow/99" in out.stderr
    assert "Traceback" not in out.stderr
    out = grange("push", "LinearRunFlow/1", cwd=runner.cwd, env=runner.env())
    assert out.returncode == 2 and "--to-datastore-root" in out.stderr
    out = grange("push", "nonsense", "--to-datastore-root", "x", cwd=runner.cwd, env=runner.env())
    assert out.returncode == 2 and "FLOW/RUN" in out.stderr


class Failing(MemoryBlobStore):
    """A target that breaks after ``budget`` writes, as a network would."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget

    def put_chunks(self, key, chunks, *, overwrite=False):  # type: ignore[no-untyped-def]
        if self.budget <= 0:
            raise ConnectionError("the network went away")
        self.budget -= 1
        return super().put_chunks(key, chunks, overwrite=overwrite)


@pytest.mark.parametrize("budget", [1, 4, 8])
def test_an_interrupted_push_continues_the_same_run(
    runner: Runner, tmp_path: Path, budget: int
) -> None:
    run_id = runner.run("logs").run_id
    assert run_id
    source: BlobStore = LocalBlobStore(runner.root)
    target = Failing(budget)
    metadata = MetadataStore.from_url(sqlite_url(tmp_path))
    journal = journal_path(cache_dir(), str(runner.root), "memory", "LogsRunFlow", run_id)
    with pytest.raises(ConnectionError):
        push_run(source, "LogsRunFlow", run_id, target, metadata, journal=journal)
    # Nothing of the run is visible as finished: no record before its blobs, no end.
    assert not any(k.endswith("run-final.json") for k in target.list())
    target.budget = 10_000
    report = push_run(source, "LogsRunFlow", run_id, target, metadata, journal=journal)
    assert report.target == "LogsRunFlow/1" and report.resumed
    assert json.loads(journal.read_text()) == {"target_run_id": "1", "done": True}
    assert metadata.run_ids("LogsRunFlow") == ["1"] or list(metadata.run_ids("LogsRunFlow")) == [
        "1"
    ]
    records = [k for k in target.list() if k.endswith("record.json")]
    assert len(records) == len(
        [k for k in source.list("LogsRunFlow/" + run_id) if k.endswith("record.json")]
    )


def test_push_to_s3_and_postgresql(runner: Runner, s3_bucket: str) -> None:
    """The team setup: a laptop's run pushed to S3 with its index on PostgreSQL, then
    read back there by the client; pushing it again copies nothing."""
    import os

    from support import POSTGRES_ENV, postgres_schema

    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_ENV}")
    run_id = runner.run("nested_foreach").run_id
    target = f"s3://{s3_bucket}/team"
    for url in postgres_schema(os.environ[POSTGRES_ENV]):
        args = ("push", f"NestedForeachRunFlow/{run_id}", "--to-datastore-root", target)
        out = grange(*args, "--to-metadata", url, cwd=runner.cwd, env=runner.env())
        assert out.returncode == 0, out.stderr
        assert "as NestedForeachRunFlow/1" in out.stdout
        again = grange(*args, "--to-metadata", url, cwd=runner.cwd, env=runner.env())
        assert (
            "continued an earlier push" in again.stdout
            and "0 artifact blobs copied" in again.stdout
        )

        from grange import Flow, metadata, namespace

        os.environ["GRANGE_DATASTORE_ROOT"] = target
        try:
            metadata(url)
            namespace(None)
            run = Flow("NestedForeachRunFlow")["1"]
            assert run.successful
            assert run.data.grid == [["x1", "x2", "x3"], ["y1", "y2", "y3"]]
            assert len(list(run["leaf"])) == 6
        finally:
            del os.environ["GRANGE_DATASTORE_ROOT"]


def test_push_to_a_profile_obeys_its_policy(runner: Runner, tmp_path: Path) -> None:
    team = tmp_path / "team-store"
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[profiles.team]
datastore_root = "{team}"

[profiles.team.policy]
allowed_datastore_roots = ["{team}"]
required_tags = ["team:*"]
"""
    )
    env = runner.env(GRANGE_CONFIG=str(config))
    untagged = runner.run("linear", env=env).run_id
    tagged = runner.run("linear", "--tag", "team:vision", env=env).run_id
    refused = grange("push", f"LinearRunFlow/{untagged}", "--to", "team", cwd=runner.cwd, env=env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "required_tags" in refused.stderr and "team:" in refused.stderr
    assert not (team / "LinearRunFlow").exists()  # nothing was copied
    out = grange("push", f"LinearRunFlow/{tagged}", "--to", "team", cwd=runner.cwd, env=env)
    assert out.returncode == 0, out.stderr
    assert f"to {team} as LinearRunFlow/1" in out.stdout
    unknown = grange("push", f"LinearRunFlow/{tagged}", "--to", "nope", cwd=runner.cwd, env=env)
    assert unknown.returncode == 2 and "team" in unknown.stderr  # the profiles are listed
    both = grange(
        "push",
        "LinearRunFlow/1",
        "--to",
        "team",
        "--to-datastore-root",
        "x",
        cwd=runner.cwd,
        env=env,
    )
    assert both.returncode == 2 and "give one of them" in both.stderr


def test_a_pushed_resumed_run_keeps_the_logs_of_the_tasks_it_reused(
    runner: Runner, tmp_path: Path
) -> None:
    team = tmp_path / "team"
    failed = runner.run("fail", env=runner.env(FAIL_ITEM="2"), ok=False)
    resumed = runner.resume("fail")
    out = grange(
        "push",
        f"FailRunFlow/{resumed.run_id}",
        "--to-datastore-root",
        str(team),
        cwd=runner.cwd,
        env=runner.env(),
    )
    assert out.returncode == 0, out.stderr
    from grange import Flow, metadata, namespace

    metadata(f"local@{team}")
    namespace(None)
    run = Flow("FailRunFlow")["1"]
    assert run.successful and run.data.outs == [10, 20, 30]
    logs = sorted(task.stdout.strip() for task in run["work"])
    assert logs == ["working on 1", "working on 2", "working on 3"]  # reused ones too
    assert all(task.origin_pathspec is None for task in run["work"])  # no dangling origin
    assert failed.run_id
