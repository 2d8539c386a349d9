"""A SQLite metadata file locked by another process: say so while waiting, then who holds it.

SQLite's own busy handler waits silently. grange's connections wait
:data:`NOTICE_AFTER_S` seconds that way; a transaction that is still refused
then prints one notice naming the file and, when it can be found, the
process holding the lock, and goes on trying until
:data:`TOTAL_WAIT_S` (60 s) in all. If the lock is
still held, the wait ends with a :class:`~grange.exceptions.MetadataError`
naming the file, the holder and the fix.

SQLite does not say who holds a lock. On Linux the kernel does:
``/proc/locks`` lists every POSIX lock with its owner's pid, and a writer
holds a WRITE lock on the database file or on its ``-shm`` index (WAL mode).
Failing that, processes that have the file open are found in ``/proc/*/fd``.
Elsewhere the message says how to look (``lsof``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from grange.exceptions import MetadataError
from grange.metastore.sqlite_file import BUSY_TIMEOUT_MS

NOTICE_AFTER_S = 5.0  # each connection's busy_timeout: how long a wait stays silent
NOTICE_AFTER_MS = int(NOTICE_AFTER_S * 1000)
TOTAL_WAIT_S = BUSY_TIMEOUT_MS / 1000  # then the wait ends with an error

T = TypeVar("T")


def is_locked(err: BaseException) -> bool:
    """Whether ``err`` (sqlite3's or SQLAlchemy's) is SQLite's "database is locked"."""
    return "database is locked" in str(err)


def wait_for_lock(path: Path | str, attempt: Callable[[], T], *, waited: float) -> T:
    """Retry ``attempt`` (which already failed, locked, after ``waited`` seconds) until
    it succeeds or the whole wait reaches ``TOTAL_WAIT_S``; say so on stderr first."""
    total = TOTAL_WAIT_S
    print(
        f"grange: the metadata database {path} is locked by {describe_holders(path)}; "
        f"waiting up to {total:.0f} s for it...",
        file=sys.stderr,
        flush=True,
    )
    start = time.monotonic() - waited
    while True:
        try:
            return attempt()
        except Exception as err:
            if not is_locked(err):
                raise
            if time.monotonic() - start >= total:
                raise locked_error(path, total) from None


def locked_error(path: Path | str, waited: float | None = None) -> MetadataError:
    """The error for a lock held too long: the file, the holder, the fix."""
    holders = lock_holders(path)
    how_long = f" for {waited:.0f} s" if waited else ""
    if holders:
        pids = " ".join(str(pid) for pid, _ in holders)
        fix = f"let that process finish, or stop it (kill {pids}), then run the command again"
    else:
        fix = (
            f"find the process with: lsof {path} {path}-shm (or fuser); let it finish or "
            "stop it, then run the command again"
        )
    return MetadataError(
        f"the metadata database {path} has been locked by {describe_holders(path)}{how_long}",
        fix=fix,
    )


def describe_holders(path: Path | str) -> str:
    """``process 123 (python other.py)``, or ``another process`` when none is found."""
    holders = lock_holders(path)
    if not holders:
        return "another process"
    return ", ".join(f"process {pid} ({command})" for pid, command in holders)


def lock_holders(path: Path | str) -> list[tuple[int, str]]:
    """Other processes holding a write lock on the file (else having it open), with
    their command lines; empty where ``/proc`` cannot tell."""
    files = [Path(path), Path(f"{path}-shm"), Path(f"{path}-wal")]
    pids = _write_lockers(files) or _openers(files)
    return [(pid, _command(pid)) for pid in sorted(pids - {os.getpid()})]


def _write_lockers(files: list[Path]) -> set[int]:
    keys = set()
    for file in files:
        try:
            st = file.stat()
        except OSError:
            continue
        keys.add(f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}")
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return set()
    pids = set()
    for line in lines:
        # "1: POSIX  ADVISORY  WRITE 25953 fe:00:2222989 120 120"; "1: -> POSIX ..." waits
        fields = line.split()
        if len(fields) < 6 or fields[1] == "->":
            continue
        kind, owner, where = fields[3], fields[4], fields[5]
        if kind == "WRITE" and where in keys and owner.isdigit():  # an OFD lock's owner: -1
            pids.add(int(owner))
    return pids


def _openers(files: list[Path]) -> set[int]:
    wanted = {str(f.resolve()) for f in files if f.exists()}
    pids = set()
    try:
        procs = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return set()
    for pid in procs:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in wanted for fd in fds):
                pids.add(int(pid))
        except OSError:
            continue  # gone, or another user's
    return pids


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().split(b"\0")
    except OSError:
        return "command unknown"
    text = " ".join(a.decode(errors="replace") for a in args if a)
    return text[:120] + ("..." if len(text) > 120 else "") or "command unknown"
