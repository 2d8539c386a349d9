"""A client-side cache of immutable blobs: content-addressed S3 objects on local disk.

Only blobs whose key names their content (``<Flow>/data/<xx>/<sha1>``) are
cached: such a key never changes what it holds, so a cached copy can never be
stale. A cached file is ``<cache>/<bucket>/<xx>/<sha1>``, where ``<cache>`` is
``$GRANGE_CACHE_DIR/blobs`` or ``~/.cache/grange/blobs``.

* **Atomic**: a download goes to a hidden temporary file beside its final name
  and is renamed into place once complete, so a reader (another process too)
  sees a whole file or none; a killed download leaves only a hidden temporary,
  removed by a later eviction pass.
* **Bounded**: ``GRANGE_S3_CACHE_MB`` (default 2048; ``0`` turns the cache off)
  bounds the total size. A process that has added a tenth of the bound, or that
  adds a blob when no process scanned the cache for a minute, scans it and
  removes the least recently used whole files (a hit touches its file's mtime)
  until the cache is at 80 % of the bound. Many processes adding blobs at once
  may therefore overshoot the bound by what they add within a minute. A blob
  larger than the bound is never cached: it is streamed to an unnamed
  temporary file instead.
* **Safe with concurrent processes**: renames are atomic, two processes caching
  the same blob write identical bytes, and removing a file another process has
  mapped or opened leaves its copy intact (POSIX keeps the inode alive).
* **Still verified**: the cache holds bytes, not trust. Loads hash what they
  read as before (see :mod:`grange.datastore.cas`); a cached file that does not
  hash to its name is removed, so the next load downloads the blob again.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from grange.exceptions import ConfigError

DEFAULT_LIMIT_MB = 2048
#: Temporary files older than this (seconds) were left by a killed process.
STALE_TEMP_AGE = 3600.0
#: A process that caches a blob scans the cache if no process did for this long (s).
SCAN_EVERY = 60.0
#: The file whose mtime says when the cache was last scanned.
SCANNED = ".scanned"


def data_hash(key: str) -> str | None:
    """The content hash in a content-addressed key ``<Flow>/data/<xx>/<hash>``, else None."""
    parts = key.split("/")
    if len(parts) == 4 and parts[1] == "data" and parts[3].startswith(parts[2]):
        return parts[3]
    return None


class BlobCache:
    """Immutable blobs of S3 buckets, as files under ``root``, at most ``limit`` bytes."""

    def __init__(self, root: Path | str, limit: int) -> None:
        self.root = Path(root)
        self.limit = limit
        self._added = 0  # bytes this process cached since its last scan

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BlobCache | None:
        """The cache the environment asks for; ``None`` if ``GRANGE_S3_CACHE_MB=0``."""
        env = os.environ if env is None else env
        text = env.get("GRANGE_S3_CACHE_MB", "").strip()
        try:
            megabytes = int(text) if text else DEFAULT_LIMIT_MB
            if megabytes < 0:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"GRANGE_S3_CACHE_MB={text!r} is not a whole number of megabytes",
                fix="set it to e.g. 2048, or 0 to turn the cache of S3 blobs off",
            ) from None
        if megabytes == 0:
            return None
        base = env.get("GRANGE_CACHE_DIR")
        root = Path(base) / "blobs" if base else Path.home() / ".cache" / "grange" / "blobs"
        return cls(root, megabytes * 1024 * 1024)

    def path(self, bucket: str, name: str) -> str:
        return os.path.join(self.root, bucket, name[:2], name)

    def open(self, bucket: str, name: str) -> IO[bytes] | None:
        """The cached file, open for reading (its use marked), or ``None`` on a miss."""
        path = self.path(bucket, name)
        try:
            f = open(path, "rb", buffering=0)  # noqa: SIM115 - returned to the caller
        except (FileNotFoundError, NotADirectoryError):
            return None
        with contextlib.suppress(OSError):
            os.utime(f.fileno())
        return f

    def new_file(self, bucket: str, name: str) -> tuple[IO[bytes], str]:
        """A hidden temporary file beside the cached one; :meth:`publish` it when complete."""
        final = self.path(bucket, name)
        folder = os.path.dirname(final)
        temp = os.path.join(folder, f".{name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
        try:
            f = open(temp, "x+b", buffering=0)  # noqa: SIM115 - returned to the caller
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
            f = open(temp, "x+b", buffering=0)  # noqa: SIM115
        return f, temp

    def publish(self, temp: str, bucket: str, name: str, size: int) -> None:
        """Move a completed temporary file into place (same bytes if it raced another)."""
        os.replace(temp, self.path(bucket, name))
        self._added += size
        if self._added > self.limit // 10 or self._last_scan_age() > SCAN_EVERY:
            self.evict()

    def _last_scan_age(self) -> float:
        """Seconds since any process last scanned the cache (one stat, not a scan:
        each of many forked tasks must not walk the whole cache)."""
        try:
            return time.time() - os.stat(os.path.join(self.root, SCANNED)).st_mtime
        except FileNotFoundError:
            return float("inf")

    def discard(self, bucket: str, name: str) -> None:
        """Remove a cached file found damaged; the next read downloads the blob again."""
        with contextlib.suppress(OSError):
            os.unlink(self.path(bucket, name))

    def evict(self) -> None:
        """Remove least recently used files until the cache fits in 80 % of its bound."""
        self._added = 0
        marker = os.path.join(self.root, SCANNED)
        with contextlib.suppress(OSError), open(marker, "ab"):
            os.utime(marker)
        files: list[tuple[float, int, str]] = []
        now = time.time()
        for path, stat in _walk(str(self.root)):
            name = os.path.basename(path)
            if name.startswith("."):
                if now - stat.st_mtime > STALE_TEMP_AGE:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        if total <= self.limit:
            return
        target = self.limit * 8 // 10
        for _, size, path in sorted(files):
            with contextlib.suppress(OSError):
                os.unlink(path)
                total -= size
            if total <= target:
                break

    def usage(self) -> int:
        """Bytes held by cached files now."""
        files = _walk(str(self.root))
        return sum(
            stat.st_size for path, stat in files if not os.path.basename(path).startswith(".")
        )


def _walk(folder: str) -> list[tuple[str, os.stat_result]]:
    out: list[tuple[str, os.stat_result]] = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return out
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                out.extend(_walk(entry.path))
            elif entry.is_file(follow_symlinks=False):
                out.append((entry.path, entry.stat(follow_symlinks=False)))
        except FileNotFoundError:  # removed meanwhile by another process
            continue
    return out
