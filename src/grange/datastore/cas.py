"""The content-addressed store: one per flow, blobs named by the hash of their bytes.

A blob with key ``k`` (the sha1 of its serialized bytes, see
:mod:`grange.datastore.serialize`) lives at ``<flow>/data/<k[:2]>/<k>``.
Identical content therefore lands on the same key and is written once per flow,
however many tasks, attempts or runs produce it. Unlike Metaflow there is no
``_meta`` sidecar: the blob's own header says how it is encoded.

The key is checked, because a flipped bit on disk must never become a wrong
value: every load hashes the blob it reads and compares with the key (sha1
runs at ~1.7 GB/s here; a blob over :data:`VERIFIED_CACHE_MIN` bytes is hashed
once per process), and raises :class:`~grange.exceptions.DamagedBlobError`
naming the artifact, its task and the file on a mismatch. Saving a value whose
key exists checks the stored blob the same way and, if it is damaged, replaces
it atomically with the bytes being saved, so that running the producing step
again repairs the store.
"""

from __future__ import annotations

import functools
import sys
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from grange.datastore.backend import BlobStore, Chunk, check_key
from grange.datastore.errors import write_error
from grange.datastore.serialize import Serialized, deserialize, serialize, sha1_of, type_name
from grange.exceptions import (
    ArtifactLoadError,
    ArtifactSerializationError,
    BlobNotFound,
    DamagedBlobError,
)

#: Blobs smaller than this are written together by :meth:`ContentAddressedStore.save_many`,
#: in batches of at most about :data:`BATCH_BYTES`.
BATCH_MAX = 1024 * 1024
BATCH_BYTES = 64 * 1024 * 1024
#: Blobs at least this large are hashed once per process, then trusted.
VERIFIED_CACHE_MIN = 1024 * 1024
# Blob keys verified in this process, per backend (a backend object per store).
_verified: weakref.WeakKeyDictionary[BlobStore, set[str]] = weakref.WeakKeyDictionary()


def data_key(flow: str, key: str) -> str:
    """The backend key of content key ``key`` in ``flow``'s store."""
    if len(key) < 3 or "/" in key:
        raise ValueError(f"not a content key: {key!r}")
    return f"{flow}/data/{key[:2]}/{key}"


@dataclass(frozen=True)
class ArtifactRef:
    """Where an artifact's bytes are and what they hold.

    ``key`` is the content hash, ``size`` the blob's length in bytes,
    ``encoding`` how to read it (``gpickle5``, ``gpickle5+zlib``), ``type`` the
    qualified type name of the saved object (``numpy.ndarray``).
    """

    key: str
    size: int
    encoding: str
    type: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size, "encoding": self.encoding, "type": self.type}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArtifactRef:
        return _shared_ref(
            str(data["key"]), int(data["size"]), str(data["encoding"]), str(data["type"])
        )


@functools.lru_cache(maxsize=4096)
def _shared_ref(key: str, size: int, encoding: str, type: str) -> ArtifactRef:
    """One object per distinct reference: a join over 100,000 foreach tasks reads
    100,000 records that mostly reference the same few artifacts."""
    return ArtifactRef(key=key, size=size, encoding=encoding, type=type)


class ContentAddressedStore:
    """Save objects once by content, load them lazily, for one flow."""

    def __init__(self, blobs: BlobStore, flow: str) -> None:
        check_key(flow)
        if "/" in flow:
            raise ValueError(f"a flow name cannot contain '/': {flow!r}")
        self.blobs = blobs
        self.flow = flow

    def blob_key(self, key: str) -> str:
        """The backend key of content key ``key``: ``<flow>/data/<key[:2]>/<key>``."""
        return data_key(self.flow, key)

    def save(self, obj: object, *, name: str | None = None, step: str | None = None) -> ArtifactRef:
        """Serialize ``obj`` and store it unless identical bytes are stored already.

        ``name`` and ``step`` only improve the error raised for an object that
        cannot be pickled (:class:`~grange.exceptions.ArtifactSerializationError`).
        """
        ser = serialize(obj, name=name, step=step)
        self._put_named(ser, name, step)
        return ArtifactRef(key=ser.key, size=ser.size, encoding=ser.encoding, type=type_name(obj))

    def save_many(
        self,
        objects: Mapping[str, object],
        *,
        step: str | None = None,
        on_error: Callable[[str, Exception], None] | None = None,
    ) -> dict[str, ArtifactRef]:
        """:meth:`save` for each ``name: object``; one object under two names is saved once.

        Blobs under :data:`BATCH_MAX` bytes are written together with
        :meth:`BlobStore.put_many` (concurrently on S3). An object that cannot be
        serialized raises, or with ``on_error`` is reported to it and left out.
        """
        refs: dict[str, ArtifactRef] = {}
        seen: dict[int, ArtifactRef] = {}
        batch: dict[str, tuple[str, Serialized]] = {}  # blob key -> (name, bytes)
        pending = 0
        for name, obj in objects.items():
            ref = seen.get(id(obj))
            if ref is None:
                try:
                    ser = serialize(obj, name=name, step=step)
                except ArtifactSerializationError as err:
                    if on_error is None:
                        raise
                    on_error(name, err)
                    continue
                if ser.size < BATCH_MAX:
                    batch.setdefault(self.blob_key(ser.key), (name, ser))
                    pending += ser.size
                    if pending >= BATCH_BYTES:
                        self._put_batch(batch, step)
                        batch, pending = {}, 0
                else:
                    self._put_named(ser, name, step)
                ref = seen[id(obj)] = ArtifactRef(ser.key, ser.size, ser.encoding, type_name(obj))
            refs[name] = ref
        if batch:
            self._put_batch(batch, step)
        return refs

    def _put_batch(self, batch: dict[str, tuple[str, Serialized]], step: str | None) -> None:
        try:
            written = self.blobs.put_many((path, ser.chunks) for path, (_, ser) in batch.items())
        except OSError as err:
            names = ", ".join(f"'{name}'" for name, _ in batch.values())
            raise write_error(
                err, f"artifacts {names}", self.blobs.url(next(iter(batch))), step=step
            ) from None
        for (path, (_, ser)), done in zip(batch.items(), written, strict=True):
            if not done:
                self._repair(ser.key, path, ser.chunks)

    def _put_named(self, ser: Serialized, name: str | None, step: str | None) -> None:
        try:
            self.put_serialized(ser)
        except OSError as err:
            what = f"artifact '{name}'" if name else "an artifact"
            raise write_error(
                err, what, self.blobs.url(self.blob_key(ser.key)), step=step
            ) from None

    def put_serialized(self, ser: Serialized) -> bool:
        """Store already serialized bytes; ``False`` if they were stored (intact) already."""
        path, written = self.blobs.put_content(
            ser.chunks, lambda: self.blob_key(ser.key), size=ser.size
        )
        return written or self._repair(ser.key, path, ser.chunks)

    def put_chunks(self, key: str, chunks: Iterable[Chunk]) -> bool:
        """Store ``chunks`` (whose sha1 the caller computed as ``key``) unless present.

        For blobs that are not pickled artifacts, such as foreach item tables.
        """
        path = self.blob_key(key)
        if not self.blobs.exists(path):
            chunks = list(chunks)
            if self.blobs.put_chunks(path, chunks, overwrite=False):
                return True
        return self._repair(key, path, chunks)

    def _repair(self, key: str, path: str, chunks: Iterable[Chunk]) -> bool:
        """Replace the stored blob under ``key`` by ``chunks`` if its bytes are damaged."""
        try:
            if self.intact(key, None, cached=False):
                return False
        except BlobNotFound:  # deleted meanwhile: write it
            pass
        self.blobs.put_chunks(path, chunks, overwrite=True)
        sys.stderr.write(
            f"grange: the stored blob {self.blobs.url(path)} was damaged; "
            "replaced it with the same value, saved again\n"
        )
        return True

    def intact(self, key: str, buffer: memoryview | None, *, cached: bool = True) -> bool:
        """Whether the stored blob of ``key`` hashes to ``key``; with ``cached``, a
        large blob this process found intact before is trusted without hashing.

        ``buffer`` is the blob as loaded, hashed as it is when small; a large one
        is hashed by the backend from its own reads, so that checking it does not
        make a lazily mapped blob resident.
        """
        verified = _verified.get(self.blobs)
        if verified is None:
            verified = _verified[self.blobs] = set()
        if cached and key in verified:
            return True
        if buffer is not None and len(buffer) < VERIFIED_CACHE_MIN:
            return sha1_of((buffer,)) == key
        if self.blobs.sha1(self.blob_key(key)) != key:
            return False
        if buffer is not None:
            if len(verified) > 65536:
                verified.clear()
            verified.add(key)
        return True

    def load(self, key: str, *, name: str | None = None, task: str | None = None) -> object:
        """The object stored under ``key``, read lazily from the backend's buffer.

        NumPy arrays and other out-of-band buffers point into that buffer
        without a copy, and are writable without changing the stored blob.
        ``name`` (the artifact) and ``task`` (the pathspec of the task that
        holds it) name it in the error raised for a blob that is missing,
        damaged (:class:`DamagedBlobError`) or cannot be unpickled.
        """
        path = self.blob_key(key)
        try:
            buffer = self.blobs.open_buffer(path)
        except BlobNotFound:
            raise self._load_error(
                ArtifactLoadError,
                name,
                task,
                f"its blob {self.blobs.url(path)} is missing",
                fix="the datastore lost it: run the step that produced it again "
                "(a new run, or resume from that step)",
            ) from None
        intact = self.intact(key, buffer)
        if not intact and self.blobs.drop_local_copy(path):
            # A damaged local copy (the cache of a remote store): read the stored blob.
            buffer = self.blobs.open_buffer(path)
            intact = self.intact(key, buffer, cached=False)
        if not intact:
            raise self._load_error(
                DamagedBlobError,
                name,
                task,
                f"its stored bytes are damaged: {self.blobs.url(path)} does not hash to {key}",
                fix="run the step that produced it again (a new run, or resume from that "
                "step): saving the same value replaces the damaged blob",
            )
        try:
            return deserialize(buffer)
        except ArtifactLoadError as err:
            raise self._load_error(
                type(err),
                name,
                task,
                f"{err.message} (blob {self.blobs.url(path)})",
                fix=err.fix,
            ) from err

    def _load_error(
        self,
        cls: type[ArtifactLoadError],
        name: str | None,
        task: str | None,
        reason: str,
        *,
        fix: str | None,
    ) -> ArtifactLoadError:
        what = f"artifact '{name}'" if name else "an artifact"
        if task:
            what += f" of task {task}"
        step = task.split("/")[2] if task and task.count("/") == 3 else None
        return cls(f"{what} cannot be loaded: {reason}", step=step, fix=fix)

    def exists(self, key: str) -> bool:
        return self.blobs.exists(self.blob_key(key))

    def size(self, key: str) -> int:
        return self.blobs.size(self.blob_key(key))

    def url(self, key: str) -> str:
        return self.blobs.url(self.blob_key(key))
