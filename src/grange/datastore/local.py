"""Blobs as files under a directory on local disk (the default datastore).

A key ``a/b/c`` is the file ``<root>/a/b/c``. A write goes to a temporary file
in the same directory (``.c.tmp-<pid>-<random>``), which is then moved into
place in one step:

* without ``overwrite``, ``os.link(temp, final)``: it fails if ``final``
  exists, so of two processes writing the same content-addressed key exactly
  one wins and the other's bytes are thrown away; the blob is never a mix;
* with ``overwrite``, ``os.replace(temp, final)``.

Both are atomic on POSIX file systems, so a reader sees the whole blob or no
blob, even if the writer is killed with ``kill -9`` half way. There is
deliberately no ``fsync``: it would make every save wait for the disk, and
surviving a killed process only needs the rename to be atomic. A power loss
may lose recent blobs (the file system journal keeps the tree consistent).
Temporary files left by a killed writer start with a dot (or sit in
``.staging/``), so
:meth:`LocalBlobStore.list` never shows them.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import hashlib
import mmap
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from grange.datastore.backend import BlobStore, Chunk, as_bytes_view, check_key, check_prefix
from grange.exceptions import BlobNotFound

#: Blobs smaller than this are read into memory; larger ones are mapped.
MMAP_THRESHOLD = 256 * 1024
#: Content-addressed blobs at least this large are hashed while being written.
PARALLEL_HASH_MIN = 16 * 1024 * 1024
#: Bytes read at a time when hashing a stored blob.
HASH_CHUNK = 1024 * 1024
#: Where those are written before their key is known (hidden from ``list``).
STAGING = ".staging"


class LocalBlobStore(BlobStore):
    """Blobs as files under ``root``; the directory is created on first write."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).absolute()
        self._prefix = os.path.join(self.root, "")

    def _path(self, key: str) -> str:
        # Plain strings, not Path objects: this is on every task's path.
        return self._prefix + check_key(key)

    def put_chunks(self, key: str, chunks: Iterable[Chunk], *, overwrite: bool = False) -> bool:
        final = self._path(key)
        if not overwrite and os.path.exists(final):
            return False
        folder, name = os.path.split(final)
        temp = os.path.join(folder, f".{name}.tmp-{os.getpid()}-{os.urandom(6).hex()}")
        try:
            _write_new(temp, chunks)
            if overwrite:
                os.replace(temp, final)
                return True
            return _link_no_overwrite(temp, final)
        finally:
            # After a link (or on any error) the temporary name is dropped;
            # after a replace it no longer exists.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)

    def put_content(
        self, chunks: Sequence[Chunk], key_of: Callable[[], str], *, size: int
    ) -> tuple[str, bool]:
        """Large blobs: hash in a thread while writing to ``.staging/``, then link.

        Hashing and writing each take about as long as the other for a large
        array, and both release the GIL, so doing them side by side nearly
        halves a save. The price: saving a duplicate writes it once for nothing.
        """
        if size < PARALLEL_HASH_MIN:
            return super().put_content(chunks, key_of, size=size)
        keys: list[str] = []
        errors: list[BaseException] = []

        def hash_chunks() -> None:
            try:
                keys.append(key_of())
            except BaseException as e:  # re-raised in the calling thread
                errors.append(e)

        hasher = threading.Thread(target=hash_chunks, name="grange-hash", daemon=True)
        hasher.start()
        temp = os.path.join(self._prefix + STAGING, f"{os.getpid()}-{os.urandom(6).hex()}")
        try:
            try:
                _write_new(temp, chunks)
            finally:
                hasher.join()
            if errors:
                raise errors[0]
            final = self._path(keys[0])
            os.makedirs(os.path.dirname(final), exist_ok=True)
            return keys[0], _link_no_overwrite(temp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)

    def get_bytes(self, key: str) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(key, self.describe()) from None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        try:
            fd = os.open(self._path(key), os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(key, self.describe()) from None
        try:
            parts = []
            while length > 0:
                part = os.pread(fd, length, start)
                if not part:
                    break
                parts.append(part)
                start += len(part)
                length -= len(part)
            return parts[0] if len(parts) == 1 else b"".join(parts)
        finally:
            os.close(fd)

    def open_buffer(self, key: str) -> memoryview:
        """Copy-on-write map of the file: lazy, zero-copy, writable, file untouched.

        Small blobs are read into a ``bytearray`` instead (one read beats a
        mapping and its page faults). The mapping lives as long as any view
        of it, e.g. a NumPy array unpickled from it, and keeps the old bytes
        even if the file is later replaced or deleted.
        """
        try:
            with open(self._path(key), "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < MMAP_THRESHOLD:
                    data = bytearray(size)
                    view = memoryview(data)
                    got = 0
                    while got < size:
                        n = f.readinto(view[got:])
                        if not n:
                            break
                        got += n
                    return view[:got]
                return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(key, self.describe()) from None

    def sha1(self, key: str) -> str:
        """Hashed from reads into one small buffer, not through a mapping: checking a
        large blob must not make it resident in this process (loads stay lazy)."""
        digest = hashlib.sha1(usedforsecurity=False)
        buffer = bytearray(HASH_CHUNK)
        view = memoryview(buffer)
        try:
            with open(self._path(key), "rb", buffering=0) as f:
                while n := f.readinto(buffer):
                    digest.update(view[:n])
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(key, self.describe()) from None
        return digest.hexdigest()

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def size(self, key: str) -> int:
        try:
            return os.stat(self._path(key)).st_size
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(key, self.describe()) from None

    def list(self, prefix: str = "") -> builtins.list[str]:
        folder = check_prefix(prefix)
        return sorted(_walk(self._prefix + folder, folder))

    def children(self, prefix: str = "") -> builtins.list[str]:
        try:
            entries = os.scandir(self._prefix + check_prefix(prefix))
        except (FileNotFoundError, NotADirectoryError):
            return []
        with entries:
            return sorted(e.name for e in entries if not e.name.startswith("."))

    def delete(self, key: str) -> bool:
        try:
            os.unlink(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    def append_bytes(self, key: str, data: Chunk) -> None:
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "ab", buffering=0) as f:
            view = as_bytes_view(data)
            while view:
                n = f.write(view)
                view = view[n or 0 :]

    def url(self, key: str) -> str:
        return Path(self._path(key)).as_uri()

    def describe(self) -> str:
        return f"local datastore at {self.root}"


_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _write_new(path: str, chunks: Iterable[Chunk]) -> None:
    """Create ``path`` (which must not exist, its folder may not) holding the
    concatenated chunks."""
    try:
        fd = os.open(path, _CREATE_FLAGS, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, _CREATE_FLAGS, 0o666)
    try:
        for chunk in chunks:
            _write_all(fd, as_bytes_view(chunk))
    finally:
        os.close(fd)


def _write_all(fd: int, view: memoryview) -> None:
    """``os.write`` until all of ``view`` is written (writes may be partial)."""
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _link_no_overwrite(temp: str, final: str) -> bool:
    """Publish ``temp`` as ``final`` unless ``final`` exists; atomic either way."""
    try:
        os.link(temp, final)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        # File systems without hard links: check-then-rename. Two writers may
        # both rename; the loser replaces the blob with identical bytes (the
        # content-addressed case) or with a whole other blob, never a mix.
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if os.path.exists(final):
            return False
        os.replace(temp, final)
        return True


def _walk(base: str, folder: str) -> Iterator[str]:
    """Keys of the files under ``base``, skipping dot-names (temporary files)."""
    try:
        entries = list(os.scandir(base))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        key = f"{folder}/{entry.name}" if folder else entry.name
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path, key)
        elif entry.is_file():
            yield key
