"""What an error from SQLite means for the user: disk full, read-only, or damaged.

SQLite reports all three as ``sqlite3.DatabaseError`` subclasses, and a
message like "unable to open database file" may mean any of them; the advice
differs completely (free space; read elsewhere; rebuild from the records), and
the wrong advice is harmful: moving a "damaged" index away used to make the
next run reuse run ids. :func:`storage_error` tells them apart.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from grange.exceptions import GrangeError, MetadataError, StoreFullError, StoreReadOnlyError

_FULL = ("disk is full", "database or disk is full", "no space left")
_READ_ONLY = ("readonly database", "read-only", "readonly")


def writable(path: Path) -> bool:
    """Whether the file (or, if it does not exist, its folder) can be written here."""
    target = path if path.exists() else path.parent
    return os.access(target, os.W_OK) and (not path.exists() or os.access(path.parent, os.W_OK))


def storage_error(err: BaseException, path: Path, *, doing: str = "use") -> GrangeError:
    """The :class:`GrangeError` to raise for ``err``, met trying to ``doing`` ``path``."""
    text = str(err).lower()
    if any(s in text for s in _FULL) or getattr(err, "errno", None) == errno.ENOSPC:
        return full_error(path)
    if any(s in text for s in _READ_ONLY) or getattr(err, "errno", None) in (
        errno.EROFS,
        errno.EACCES,
    ):
        return read_only_error(path, doing)
    if "unable to open" in text and not writable(path):
        return read_only_error(path, doing)
    if "locked" in text or "busy" in text:
        return MetadataError(
            f"the metadata database {path} is locked by another process ({err})",
            fix="wait for the other grange process to finish, or stop it",
        )
    return MetadataError(
        f"{path} is not a grange metadata database, or it is damaged ({err})",
        fix="rebuild the index from the records in the datastore: grange db rebuild "
        "(it moves the damaged file aside; nothing in the datastore is lost)",
    )


def full_error(path: Path) -> StoreFullError:
    free = ""
    with contextlib.suppress(OSError):
        free = f" ({shutil.disk_usage(path.parent).free // 1024:,} KiB free)"
    return StoreFullError(
        f"the disk holding {path} is full{free}: the write did not happen, and nothing "
        "stored before it was lost",
        fix="free some space there (or move the store with --datastore-root), then run "
        "again; 'resume' continues a run that stopped here",
    )


def read_only_error(path: Path, doing: str) -> StoreReadOnlyError:
    return StoreReadOnlyError(
        f"cannot {doing} {path}: the store is read-only here (a read-only file system, "
        "or no write permission); reading runs works, running flows or changing tags does not",
        fix="run flows with a writable --datastore-root (or copy the store somewhere writable)",
    )
