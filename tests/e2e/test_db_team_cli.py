"""``grange db status``, ``db upgrade`` and ``db sync`` on a local store, as a user types them,
and runs indexed elsewhere found by the next reader."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from flow_runs import CLIENT_FLOWS, clean_env, python

GRANGE = "import sys; from grange.cli.main import main; sys.argv[0] = 'grange'; main()"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(CLIENT_FLOWS / "foreach_flow.py", tmp_path / "foreach_flow.py")
    return tmp_path


def grange(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return python("-c", GRANGE, *args, cwd=folder, env=clean_env(), check=False)


def run(folder: Path, *top: str) -> str:
    done = python(folder / "foreach_flow.py", *top, "run", cwd=folder, env=clean_env())
    return done.stdout.strip().splitlines()[-1].split("/")[1].split()[0]


def test_status_and_upgrade_of_a_local_index(folder: Path) -> None:
    none = grange(folder, "db", "status")
    assert none.returncode == 0 and "none yet (the first run creates it)" in none.stdout
    assert grange(folder, "db", "upgrade").returncode == 2
    run(folder)
    status = grange(folder, "db", "status")
    assert "Schema version   3, up to date" in status.stdout
    assert "Runs             1 in 1 flow(s)" in status.stdout and "SQLite" in status.stdout
    db = folder / ".grange" / "metadata.db"
    with sqlite3.connect(db) as connection:  # as grange 1 left it
        for column in ("runtime_host", "runtime_pid", "runtime_started"):
            connection.execute(f"ALTER TABLE runs DROP COLUMN {column}")
        for table in ("events", "deployments", "scheduler_state", "deployment_runs"):
            connection.execute(f"DROP TABLE {table}")
        connection.execute("DROP TABLE scheduler_leases")
        connection.execute("UPDATE schema_version SET version = 1")
    older = grange(folder, "db", "status")
    assert "1; this grange needs 3: grange upgrades it when it next opens it" in older.stdout
    done = grange(folder, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert "applied migration 2: record the runtime process of runs" in done.stdout
    assert "applied migration 3: events and the local scheduler" in done.stdout
    assert "from schema version 1 to 3" in done.stdout
    assert "is up to date (schema version 3)" in grange(folder, "db", "upgrade").stdout


def test_runs_indexed_elsewhere_are_found_by_sync_and_by_readers(folder: Path) -> None:
    run(folder)
    other = f"sqlite:///{folder / 'other.db'}"
    elsewhere = run(folder, "--metadata", other)  # its records are here, its index is not
    synced = grange(folder, "db", "sync")
    assert synced.returncode == 0, synced.stderr
    assert f"  added ClientForeachFlow/{elsewhere}" in synced.stdout.splitlines()
    assert "added 1 run(s)" in synced.stdout
    later = run(folder, "--metadata", other)
    listed = grange(folder, "runs", "--all")  # the reader indexes it first
    assert f"ClientForeachFlow  {later}" in listed.stdout, listed.stdout
    assert "the index was up to date" in grange(folder, "db", "sync").stdout
    bad = grange(folder, "db", "sync", "--flow", "NoSuchFlow")
    assert bad.returncode == 2 and "has no runs of NoSuchFlow" in bad.stderr
