"""The environment cache's pieces: atomic writes, leftovers of killed builds, the
file lock between processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from grange.environments import cache


def test_write_atomic_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.json"
    cache.write_atomic(target, "one")
    cache.write_atomic(target, "two")
    assert target.read_text() == "two"
    assert os.listdir(target.parent) == ["b.json"]


def test_unlocked_sweep_keeps_what_a_live_process_builds(tmp_path: Path) -> None:
    live = tmp_path / f".resolve.tmp-{os.getpid()}-aaaa"
    dead = tmp_path / ".resolve.tmp-999999999-bbbb"
    other = tmp_path / ".other.tmp-999999999-cccc"
    for folder in (live, dead, other):
        folder.mkdir()
    cache.sweep(tmp_path, "resolve", locked=False)
    assert live.exists() and not dead.exists() and other.exists()
    cache.sweep(tmp_path, "resolve")  # with the lock held: every leftover is dead
    assert not live.exists() and other.exists()


def test_the_file_lock_makes_another_process_wait(tmp_path: Path) -> None:
    lock = tmp_path / ".x.lock"
    probe = (
        "import fcntl, os, sys\n"
        f"fd = os.open({str(lock)!r}, os.O_RDWR)\n"
        "try:\n"
        "    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n"
        "    sys.exit(3)\n"
    )
    with cache.file_lock(lock):
        held = subprocess.run([sys.executable, "-c", probe])
    free = subprocess.run([sys.executable, "-c", probe])
    assert (held.returncode, free.returncode) == (3, 0)


def test_publish_replaces_a_damaged_folder(tmp_path: Path) -> None:
    final = tmp_path / "envs" / "abc"
    (final / "junk").mkdir(parents=True)
    temp = cache.temp_dir(final)
    (temp / "good").write_text("")
    cache.publish(temp, final)
    assert os.listdir(final) == ["good"]
    assert sorted(os.listdir(final.parent)) == ["abc"]
