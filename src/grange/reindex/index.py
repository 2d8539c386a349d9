"""Opening the local index, rebuilding it first when it is missing.

``metadata.db`` can be deleted or moved away while the datastore keeps every
run. The next command must then not see an empty store: the index is built
from the records. It is built in a private file and moved into place in one
step (a hard link, which fails if another process was quicker: then that
one's index is used), so a reader never sees a half-built index and a process
killed while building leaves no index behind, only a temporary file.
On a store that cannot be written, the index is built in a temporary
directory instead and used from there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from grange.datastore import BlobStore
from grange.metastore import MetadataStore, sqlite_url
from grange.metastore.sqlite_file import SQLITE_FILE
from grange.reindex.rebuild import RebuildReport, flows_in, rebuild

WAL_SUFFIXES = ("", "-wal", "-shm")


def open_local_index(
    root: Path, blobs: BlobStore, *, notice: Callable[[str], None] | None = None
) -> MetadataStore:
    """The SQLite index under ``root``, rebuilt from the records first if it is
    missing while the datastore holds runs."""
    if (root / SQLITE_FILE).exists() or not flows_in(blobs):
        return MetadataStore.from_url(sqlite_url(root))
    store, report = build_local_index(root, blobs)
    if notice is not None:
        notice(
            f"the metadata index {root / SQLITE_FILE} was missing; rebuilt it from the "
            f"records in the datastore ({report.describe()})"
        )
    return store


def build_local_index(
    root: Path,
    blobs: BlobStore,
    *,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
) -> tuple[MetadataStore, RebuildReport]:
    """Build a new index of every flow in a private file, then put it in place.

    Without ``replace`` it is linked in only where there is no index yet; with
    ``replace`` the old files are moved aside (``metadata.db.old-<time>``) and it
    replaces them. Returns the index in place and what the rebuild found.
    """
    target = root / SQLITE_FILE
    writable = os.access(root, os.W_OK)
    folder = root if writable else Path(tempfile.mkdtemp(prefix="grange-index-"))
    temp = folder / f".{SQLITE_FILE}.rebuild-{os.getpid()}-{os.urandom(4).hex()}"
    store = MetadataStore.from_url(f"sqlite:///{temp}")
    try:
        report = rebuild(blobs, store, progress=progress)
    except BaseException:
        store.close()
        _remove(temp)
        raise
    store.close()  # the last connection: SQLite folds the WAL into the file
    if not writable:
        return MetadataStore.from_url(f"sqlite:///{temp}"), report
    try:
        if replace:
            report.moved_aside = move_aside(root)
            os.replace(temp, target)
        else:
            with contextlib.suppress(FileExistsError):  # another process built it first
                os.link(temp, target)
    finally:
        _remove(temp)
    return MetadataStore.from_url(sqlite_url(root)), report


def move_aside(root: Path) -> Path | None:
    """Rename ``metadata.db`` (and its WAL files) to ``metadata.db.old-<time>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = None
    for suffix in WAL_SUFFIXES:
        path = root / f"{SQLITE_FILE}{suffix}"
        if path.exists():
            target = root / f"{SQLITE_FILE}.old-{stamp}{suffix}"
            os.replace(path, target)
            moved = moved or target
    return moved


def _remove(path: Path) -> None:
    for suffix in WAL_SUFFIXES:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")
    if path.parent.name.startswith("grange-index-"):
        shutil.rmtree(path.parent, ignore_errors=True)
