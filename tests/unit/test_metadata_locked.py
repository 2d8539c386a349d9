"""A metadata file locked by another process: a notice while waiting, then an error naming it.

Once, a run waited 60 s in silence and then died with an internal
``OperationalError: database is locked``.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import OpenStore
from grange.exceptions import MetadataError
from grange.metastore import MetadataStore, locked
from grange.metastore.sqlite_file import sqlite_path

HOLD = (
    "import sqlite3, sys\n"
    "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "c.execute('BEGIN IMMEDIATE')\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"  # until the test closes our stdin
)
LINUX_PROC = Path("/proc/locks").exists()


class Holder:
    """Another process holding the write lock of a SQLite file until released."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline() == "held\n"

    def release(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
            self.proc.wait()
            self.proc.stdout.close()


@pytest.fixture
def quick_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Silent for 0.2 s, then a notice; an error after 1 s in all."""
    monkeypatch.setattr(locked, "NOTICE_AFTER_S", 0.2)
    monkeypatch.setattr(locked, "NOTICE_AFTER_MS", 200)
    monkeypatch.setattr(locked, "TOTAL_WAIT_S", 1.0)


@pytest.fixture
def held(store_and_path: tuple[MetadataStore, Path]) -> Iterator[Holder]:
    holder = Holder(store_and_path[1])
    yield holder
    holder.release()


@pytest.fixture
def store_and_path(
    quick_waits: None, open_store: OpenStore, metadata_url: str
) -> tuple[MetadataStore, Path]:
    path = sqlite_path(metadata_url)
    if path is None:
        pytest.skip("SQLite files only")
    return open_store(), path


def test_a_lock_held_too_long_is_announced_then_named(
    store_and_path: tuple[MetadataStore, Path],
    held: Holder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, path = store_and_path
    with pytest.raises(MetadataError) as info:
        store.new_run("LockedFlow", user="ada")
    notice = capsys.readouterr().err
    assert f"the metadata database {path} is locked by" in notice
    assert "waiting up to 1 s" in notice
    message = info.value.render()
    assert f"the metadata database {path} has been locked by" in message
    assert "for 1 s" in message
    if LINUX_PROC:  # the kernel says who holds the lock
        pid = held.proc.pid
        assert f"process {pid} (" in notice
        assert f"process {pid} (" in message and f"kill {pid}" in message
    else:
        assert "lsof" in message


def test_a_lock_released_during_the_wait_lets_the_write_through(
    store_and_path: tuple[MetadataStore, Path],
    held: Holder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, _ = store_and_path
    monkeypatch.setattr(locked, "TOTAL_WAIT_S", 600.0)  # released long before

    class ReleaseOnNotice(io.StringIO):
        def write(self, text: str) -> int:
            if "is locked by" in text:
                held.release()
            return super().write(text)

    stderr = ReleaseOnNotice()
    monkeypatch.setattr(sys, "stderr", stderr)
    run_id = store.new_run("LockedFlow", user="ada")
    assert "is locked by" in stderr.getvalue()
    assert store.get_run("LockedFlow", run_id) is not None


def test_without_proc_the_message_says_how_to_find_the_holder(tmp_path: Path) -> None:
    error = locked.locked_error(tmp_path / "nobody-holds-this.db", 60)
    assert "locked by another process for 60 s" in error.message
    assert "lsof" in (error.fix or "")
