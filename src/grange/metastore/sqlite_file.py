"""The SQLite metadata file: where it lives, how a connection to it is tuned.

Shared by both implementations of the store: SQLAlchemy's engine
(:mod:`grange.metastore.engine`) and the stdlib one
(:mod:`grange.metastore.sqlite_store`). Connections run in WAL mode with
``synchronous=NORMAL`` and a generous ``busy_timeout``, and in autocommit
mode at the driver level: the caller issues ``BEGIN`` / ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

SQLITE_FILE = "metadata.db"
BUSY_TIMEOUT_MS = 60_000
_PREFIX = "sqlite:///"


def sqlite_url(root: Path) -> str:
    """The URL of the SQLite metadata file under a datastore root."""
    return f"{_PREFIX}{Path(root).resolve() / SQLITE_FILE}"


def sqlite_path(url: str) -> Path | None:
    """The file a plain ``sqlite:///path`` URL names (None for anything else)."""
    if not url.startswith(_PREFIX) or "?" in url:
        return None
    path = url[len(_PREFIX) :]
    return Path(path) if path and path != ":memory:" else None


def tune(connection: sqlite3.Connection, *, readonly: bool = False) -> None:
    """Apply grange's settings to a new connection (driver-level autocommit)."""
    connection.isolation_level = None
    cursor = connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not readonly:
            enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def enable_wal(cursor: sqlite3.Cursor) -> None:
    """Put the database file in WAL mode (a lasting property of the file).

    Switching needs an exclusive lock and SQLite does not always wait for it
    through the busy handler, so processes opening a new file at once retry.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the file; ``readonly`` for a store that cannot be written here.

    A read-only connection to a WAL database needs its ``-shm`` file, which
    SQLite creates if it can; on a read-only file system with no ``-shm`` (no
    process has the file open) the file is opened ``immutable`` instead, and
    only when no ``-wal`` holds pending changes: then nothing can be changing it
    and nothing is missed. Anywhere else a plain read-only connection is used,
    so that a reader sees what writers commit.
    """
    if not readonly:
        return sqlite3.connect(path, check_same_thread=False)
    uri = f"file:{quote(str(path))}?mode=ro"  # urllib.request costs 20 ms to import
    try:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return connection
    except sqlite3.OperationalError:
        wal = Path(f"{path}-wal")
        if Path(f"{path}-shm").exists() or (wal.exists() and wal.stat().st_size > 0):
            raise
    return sqlite3.connect(uri + "&immutable=1", uri=True, check_same_thread=False)


def read_schema_version(path: Path, *, readonly: bool = False) -> int:
    """The schema version of an existing file (0 if it has no ``schema_version``)."""
    connection = connect(path, readonly=readonly)
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        found = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if found is None:
            return 0
        row = connection.execute("SELECT version FROM schema_version WHERE id = 1").fetchone()
        return int(row[0] or 0) if row else 0
    finally:
        connection.close()


def is_empty(path: Path) -> bool:
    """Whether an existing file holds no table at all (a database just created)."""
    if path.stat().st_size == 0:
        return True
    connection = sqlite3.connect(path, check_same_thread=False)
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    finally:
        connection.close()
