"""The content-addressed store: one per flow, blobs named by the hash of their bytes.

A blob with key ``k`` (the sha1 of its serialized bytes, see
:mod:`grange.datastore.serialize`) lives at ``<flow>/data/<k[:2]>/<k>``.
Identical content therefore lands on the same key and is written once per flow,
however many tasks, attempts or runs produce it; existing blobs are never
rewritten. Unlike Metaflow there is no ``_meta`` sidecar: the blob's own header
says how it is encoded.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from grange.datastore.backend import BlobStore, Chunk, check_key
from grange.datastore.serialize import Serialized, deserialize, serialize, type_name


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
        self.put_serialized(ser)
        return ArtifactRef(key=ser.key, size=ser.size, encoding=ser.encoding, type=type_name(obj))

    def save_many(
        self, objects: Mapping[str, object], *, step: str | None = None
    ) -> dict[str, ArtifactRef]:
        """:meth:`save` for each ``name: object``; one object under two names is saved once."""
        refs: dict[str, ArtifactRef] = {}
        seen: dict[int, ArtifactRef] = {}
        for name, obj in objects.items():
            ref = seen.get(id(obj))
            if ref is None:
                ref = seen[id(obj)] = self.save(obj, name=name, step=step)
            refs[name] = ref
        return refs

    def put_serialized(self, ser: Serialized) -> bool:
        """Store already serialized bytes; ``False`` if they were stored already."""
        _, written = self.blobs.put_content(
            ser.chunks, lambda: self.blob_key(ser.key), size=ser.size
        )
        return written

    def put_chunks(self, key: str, chunks: Iterable[Chunk]) -> bool:
        """Store ``chunks`` (whose sha1 the caller computed as ``key``) unless present.

        For blobs that are not pickled artifacts, such as foreach item tables.
        """
        path = self.blob_key(key)
        if self.blobs.exists(path):
            return False
        return self.blobs.put_chunks(path, chunks, overwrite=False)

    def load(self, key: str) -> object:
        """The object stored under ``key``, read lazily from the backend's buffer.

        NumPy arrays and other out-of-band buffers point into that buffer
        without a copy, and are writable without changing the stored blob.
        """
        return deserialize(self.blobs.open_buffer(self.blob_key(key)))

    def exists(self, key: str) -> bool:
        return self.blobs.exists(self.blob_key(key))

    def size(self, key: str) -> int:
        return self.blobs.size(self.blob_key(key))

    def url(self, key: str) -> str:
        return self.blobs.url(self.blob_key(key))
