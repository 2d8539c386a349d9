"""The same runs on every store a team may use: {local + SQLite, S3 + SQLite cache,
S3 + PostgreSQL}.

A representative subset of the run tests (foreach and joins, a failure and
resume, logs, the client, ``dump``, ``grange runs``), each run on the stores
below; the full run suite covers the local store. S3 is moto's server on
loopback; PostgreSQL is the server ``.ci/run`` starts (``GRANGE_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from grange import Flow, metadata, namespace
from s3server import MotoServer
from support import POSTGRES_ENV, Runner, postgres_schema

GRANGE = "import sys; from grange.cli.main import main; sys.argv[0] = 'grange'; main()"


@dataclass
class Store:
    """Where a test's runs go: the environment of its commands and the client's spec."""

    name: str
    env: dict[str, str]
    client: str  # what grange.metadata() is given

    @property
    def root(self) -> str:
        return self.env["GRANGE_DATASTORE_ROOT"]


@pytest.fixture(params=["local", "s3", "s3+postgres"])
def store(
    request: pytest.FixtureRequest, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    kind = request.param
    if kind == "local":
        yield Store(kind, {"GRANGE_DATASTORE_ROOT": str(runner.root)}, f"local@{runner.root}")
        return
    server: MotoServer = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    root = f"s3://{bucket}/team/grange"
    env = {**server.env(), "GRANGE_DATASTORE_ROOT": root}
    monkeypatch.setenv("GRANGE_DATASTORE_ROOT", root)  # where the client reads artifacts
    if kind == "s3":
        yield Store(kind, env, f"local@{root}")
        return
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_ENV}")
    for url in postgres_schema(os.environ[POSTGRES_ENV]):
        yield Store(kind, {**env, "GRANGE_METADATA": url}, url)


def read(store: Store) -> None:
    metadata(store.client)
    namespace(None)


def test_foreach_and_joins_read_back(runner: Runner, store: Store, fork: bool) -> None:
    nested = runner.run("nested_foreach", fork=fork, env=runner.env(**store.env))
    read(store)
    run = Flow("NestedForeachRunFlow")[str(nested.run_id)]
    assert run.successful
    assert run.data.grid == [["x1", "x2", "x3"], ["y1", "y2", "y3"]]
    assert len(list(run["leaf"])) == 6
    if store.name != "local":
        assert not runner.root.exists()  # nothing went to a local datastore


def test_failure_then_resume(runner: Runner, store: Store) -> None:
    env = runner.env(**store.env)
    failed = runner.run("fail", env={**env, "FAIL_ITEM": "2"}, ok=False)
    assert "item 2 failed on purpose" in failed.output
    hint = re.search(r"Resume with: (.+)$", failed.stdout, re.M)
    assert hint is not None
    if store.name != "local":  # the hint names the store: it resumes the same run
        assert f"--datastore-root {store.root}" in hint.group(1)
        env = {
            k: v for k, v in env.items() if k not in ("GRANGE_DATASTORE_ROOT", "GRANGE_METADATA")
        }
    argv = shlex.split(hint.group(1))
    at = argv.index("resume")
    resumed = runner(
        runner.cwd / argv[1], "resume", *argv[at + 1 :], top=tuple(argv[2:at]), env=env
    )
    assert f"resuming run {failed.run_id}" in resumed.output
    assert "3 task(s) run, 3 reused" in resumed.output
    read(store)
    run = Flow("FailRunFlow")[str(resumed.run_id)]
    assert run.successful and run.data.outs == [10, 20, 30]
    assert run.origin_pathspec == f"FailRunFlow/{failed.run_id}"
    assert not Flow("FailRunFlow")[str(failed.run_id)].successful


def test_logs_dump_and_runs_commands(runner: Runner, store: Store) -> None:
    env = runner.env(**store.env)
    run_id = runner.run("logs", env=env).run_id
    read(store)
    start = Flow("LogsRunFlow")[str(run_id)]["start"].task
    assert "hello from start" in start.stdout
    assert "a warning from start" in start.stderr
    out = runner("logs", "logs", f"{run_id}/start/{start.id}", "--stdout", env=env)
    assert "hello from start" in out.stdout
    dump = runner("logs", "dump", f"{run_id}/start", env=env)
    assert "items" in dump.output and "[0, 1, 2]" in dump.output
    runs = subprocess.run(
        [sys.executable, "-c", GRANGE, "runs", "--all"],
        cwd=runner.cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert runs.returncode == 0, runs.stderr
    assert "LogsRunFlow" in runs.stdout and "succeeded" in runs.stdout


def test_no_credentials_reach_the_store(runner: Runner, store: Store) -> None:
    """Neither the AWS secret key nor a database password is written anywhere a run
    writes: records, logs, run files, the index."""
    env = runner.env(**store.env)
    secrets = [env.get("AWS_SECRET_ACCESS_KEY", "grange-test-secret")]
    if store.name == "s3+postgres":
        # The test server trusts every login, so a password can be given and looked for.
        url = env["GRANGE_METADATA"].replace(
            "postgresql://postgres@", "postgresql://postgres:pw-4711@"
        )
        env["GRANGE_METADATA"] = url
        secrets.append("pw-4711")
    run_id = runner.run("logs", env=env).run_id
    assert run_id
    found = _everything_stored(store, runner)
    for secret in secrets:
        assert secret.encode() not in found


def _everything_stored(store: Store, runner: Runner) -> bytes:
    from grange.datastore.location import DatastoreLocation

    location = DatastoreLocation.of(store.root)
    blobs = location.open()
    data = b"".join(blobs.get_bytes(key) for key in blobs.list(""))
    index = location.index_dir
    if index.exists():
        data += b"".join(p.read_bytes() for p in index.rglob("*") if p.is_file())
    return data
