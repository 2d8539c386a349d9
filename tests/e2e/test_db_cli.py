"""``grange db rebuild`` as a user types it: up to date, after a loss, on damage, --fresh."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from flow_runs import CLIENT_FLOWS, clean_env, python

GRANGE = "import sys; from grange.cli.main import main; sys.argv[0] = 'grange'; main()"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("params_flow.py", "foreach_flow.py"):
        shutil.copy(CLIENT_FLOWS / name, tmp_path / name)
    for name in ("params_flow.py", "foreach_flow.py", "params_flow.py"):
        done = python(tmp_path / name, "run", cwd=tmp_path, env=clean_env(), check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    return tmp_path


def grange(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return python("-c", GRANGE, *args, cwd=folder, env=clean_env(), check=False)


def test_an_up_to_date_index_stays_as_it_is(folder: Path) -> None:
    done = grange(folder, "db", "rebuild")
    assert done.returncode == 0, done.stderr
    assert "the index was up to date" in done.stdout


def test_a_damaged_index_is_moved_aside_and_rebuilt(folder: Path) -> None:
    db = folder / ".grange" / "metadata.db"
    runs = grange(folder, "runs", "--all")
    db.write_bytes(b"this is not a database" * 100)
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    broken = grange(folder, "runs", "--all")
    assert broken.returncode == 2 and "grange db rebuild" in broken.stderr, broken.stderr
    done = grange(folder, "db", "rebuild")
    assert done.returncode == 0, done.stderr
    assert "is damaged" in done.stderr and "Moved the old index aside" in done.stdout
    assert "added 3 run(s)" in done.stdout
    assert list((folder / ".grange").glob("metadata.db.old-*"))
    assert grange(folder, "runs", "--all").stdout == runs.stdout


def test_fresh_builds_a_new_index_with_the_same_runs(folder: Path) -> None:
    before = grange(folder, "runs", "--all").stdout
    done = grange(folder, "--quiet", "db", "rebuild", "--fresh")
    assert done.returncode == 0, done.stderr
    assert "reading" not in done.stderr
    assert grange(folder, "runs", "--all").stdout == before


def test_bad_arguments_are_named(folder: Path) -> None:
    done = grange(folder, "db", "rebuild", "--flow", "NoSuchFlow")
    assert done.returncode == 2 and "has no runs of NoSuchFlow" in done.stderr
    done = grange(folder, "db", "rebuild", "--datastore-root", str(folder / "nowhere"))
    assert done.returncode == 2 and "there is no datastore" in done.stderr


def test_an_index_damaged_past_its_header_is_rebuilt(folder: Path) -> None:
    import os

    db = folder / ".grange" / "metadata.db"
    before = grange(folder, "runs", "--all").stdout
    page = 4096
    with open(db, "r+b") as fh:  # the header page intact, every b-tree page broken
        for offset in range(2 * page, os.path.getsize(db), page):
            fh.seek(offset)
            fh.write(b"\xff" * 8)
    broken = grange(folder, "runs", "--all")
    assert broken.returncode == 2 and "grange db rebuild" in broken.stderr, broken.stderr
    done = grange(folder, "db", "rebuild")
    assert done.returncode == 0, done.stderr
    assert "is damaged" in done.stderr and "added 3 run(s)" in done.stdout
    assert grange(folder, "runs", "--all").stdout == before
