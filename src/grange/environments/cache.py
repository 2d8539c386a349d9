"""The environment cache on this machine, everything under ``<cache>`` (the settings'
``cache_dir``):

- ``locks/<key>.json``: the lock a requirement set resolved to (``EnvLock.to_dict``),
  under the key of the requirement set, the Python and the platform;
- ``envs/<lock sha[:16]>/``: an environment built from a lock, whole or absent: it is
  built in a temporary folder beside it and renamed into place, and used only when its
  ready marker (written last) is there;
- ``envs/.<name>.lock``: the file lock that makes two processes building one
  environment wait for each other instead of both building it.

Nothing here runs a tool; :mod:`grange.environments.manager` decides what to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grange.environments.envlock import EnvLock
from grange.exceptions import EnvError

READY = ".grange-ready"
LOCK_FILE = "grange-lock.json"  # the lock, for humans reading the environment
ENV_NAME_LENGTH = 16


def key_of(payload: dict[str, Any]) -> str:
    """sha256 (hex) of ``payload`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` at ``path`` whole or not at all (a temporary file renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        with open(temp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


# -- locks ---------------------------------------------------------------------------


def lock_path(cache: Path, key: str) -> Path:
    return cache / "locks" / f"{key}.json"


def cached_lock(cache: Path, key: str) -> EnvLock | None:
    """The lock cached under ``key``, or None (absent or damaged: resolved again)."""
    try:
        data = json.loads(lock_path(cache, key).read_text(encoding="utf-8"))
        lock = EnvLock.from_dict(data)
    except (OSError, ValueError, EnvError):
        return None
    return lock if lock.key == key else None


def cache_lock(cache: Path, lock: EnvLock) -> None:
    """Keep ``lock`` under its key (atomically; a cache that cannot be written is named)."""
    try:
        write_atomic(lock_path(cache, lock.key), json.dumps(lock.to_dict(), indent=1))
    except OSError as err:
        raise unwritable(cache, err) from None


# -- environments --------------------------------------------------------------------


def env_path(cache: Path, lock: EnvLock) -> Path:
    return cache / "envs" / lock.sha[:ENV_NAME_LENGTH]


def ready_python(prefix: Path, lock: EnvLock) -> Path | None:
    """The interpreter of the environment at ``prefix`` when it is complete (its marker
    names ``lock`` and its interpreter exists), else None."""
    try:
        marker = json.loads((prefix / READY).read_text(encoding="utf-8"))
        if marker.get("sha") != lock.sha:
            return None
        python = prefix / str(marker["python"])
        dists = [prefix / str(d) for d in marker.get("dists") or ()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    # A stat per installed distribution (microseconds): a folder deleted by hand
    # makes the environment damaged, so it is built again.
    if not os.path.exists(python) or not all(os.path.isdir(d) for d in dists):
        return None
    return python


def mark_ready(prefix: Path, lock: EnvLock, python: Path) -> None:
    """Write the lock (for humans) and, last, the ready marker into ``prefix``."""
    (prefix / LOCK_FILE).write_text(json.dumps(lock.to_dict(), indent=1), encoding="utf-8")
    dists = sorted(
        os.path.relpath(d, prefix) for d in prefix.glob("lib/python*/site-packages/*.dist-info")
    )
    marker = {"sha": lock.sha, "python": os.path.relpath(python, prefix), "dists": dists}
    write_atomic(prefix / READY, json.dumps(marker))


def temp_dir(final: Path) -> Path:
    """A fresh, empty folder beside ``final`` to build it in."""
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.parent / f".{final.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    temp.mkdir()
    return temp


def publish(temp: Path, final: Path) -> None:
    """Rename the built folder ``temp`` to ``final``, replacing a damaged one there."""
    if final.exists():
        discard(final)
    os.rename(temp, final)


def discard(folder: Path) -> None:
    """Remove ``folder``: first renamed aside (so no reader sees it half removed)."""
    aside = folder.parent / f".{folder.name}.old-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        os.rename(folder, aside)
    except FileNotFoundError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def sweep(folder: Path, name: str, *, locked: bool = True) -> None:
    """Remove the leftovers of killed builds of ``name`` in ``folder``. ``locked``: the
    caller holds the file lock of ``name``, so no build of it is under way and every
    leftover is dead; else only those whose process is gone are removed. The process
    is judged by the pid in the leftover's name on this machine: a cache shared by
    several machines (NFS) is swept with ``locked=True`` only (under the file lock,
    which such a file system must then support), never by pids."""
    for entry in folder.glob(f".{name}.*-*-*"):
        pid = entry.name.rsplit("-", 2)[-2]
        if not locked and (not pid.isdigit() or _alive(int(pid))):
            continue
        shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created) until the block ends; another
    process asking for it waits. Released by the system if the holder dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def unwritable(cache: Path, err: OSError) -> EnvError:
    return EnvError(
        f"cannot write the environment cache {cache}: {err.strerror or err}",
        fix="make it writable, or point [environments] cache_dir (or GRANGE_ENV_CACHE) "
        "at a folder you can write",
    )
