"""Artifact serialization: pickle protocol 5 with out-of-band buffers.

A serialized artifact is one blob, laid out as (all integers little-endian)::

    offset  size  field
    0       4     magic b"GRP5"
    4       1     format version (1)
    5       1     flags: bit 0 = the pickle stream is zlib-compressed
    6       2     reserved (0)
    8       4     number of out-of-band buffers, n
    12      4     header size: 32 + 16 * n
    16      8     stored length of the pickle stream
    24      8     length of the pickle stream once decompressed
    32      16*n  per buffer: (offset from the start of the blob, length)
    ...           the pickle stream, then each buffer, each buffer starting
                  at a multiple of 64 bytes (zero padding in between)

Contiguous buffers (NumPy arrays, pandas blocks, Arrow columns) leave the
pickle stream through ``buffer_callback`` and are written straight from the
object's memory: serializing an N-byte array allocates a few hundred bytes, not
N. The in-band stream is kept as the pickler's own frames, never joined; large
``bytes`` and ``bytearray`` values in it are handed over by the pickler as the
objects themselves, so they are not copied either (a large ``str`` is encoded to
UTF-8 once; a non-contiguous array is copied in-band by NumPy itself). Loading
passes slices of one buffer (a copy-on-write file mapping for the local store)
as ``buffers=``, so arrays come back without a copy, and writable.

Only the in-band stream is ever compressed: zlib level 1, when it is over 64 KiB
and shrinks below 80% (streams over 4 MiB are first tried on their first MiB,
so incompressible data costs one small probe). Raw buffers are numeric data
that rarely compress, and they must stay addressable in place.
"""

from __future__ import annotations

import hashlib
import pickle
import struct
import sys
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from grange.datastore.backend import as_bytes_view
from grange.exceptions import ArtifactLoadError, ArtifactSerializationError

MAGIC = b"GRP5"
VERSION = 1
ALIGN = 64
FLAG_ZLIB = 1
ENCODING = "gpickle5"
ENCODING_ZLIB = "gpickle5+zlib"

#: In-band streams at most this long are never compressed.
COMPRESS_MIN = 64 * 1024
#: Compression is kept only if the result is smaller than this fraction.
COMPRESS_RATIO = 0.8
#: Streams longer than this are first probed on their first PROBE bytes.
PROBE = 1024 * 1024

_FIXED = struct.Struct("<4sBBHIIQQ")
_ENTRY = struct.Struct("<QQ")
_PADDING = memoryview(bytes(ALIGN))


@dataclass(frozen=True, eq=False)
class Serialized:
    """An object as a list of byte chunks, ready to write; see the module doc.

    The chunks point into the object's own memory: write them before the
    object changes. ``key``, the sha1 of the chunks, is computed on first use
    so that a store may hash and write at the same time (two passes over the
    memory in parallel instead of one after the other).
    """

    chunks: list[memoryview]
    size: int
    encoding: str

    @cached_property
    def key(self) -> str:
        """Hex sha1 of the exact bytes of the blob."""
        return sha1_of(self.chunks)


class _Frames:
    """A write-only file for the pickler: keeps each frame it is given, no copy."""

    def __init__(self) -> None:
        self.parts: list[bytes | memoryview] = []
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        # The C pickler hands over a fresh bytes object per frame, and large
        # bytes payloads as the object itself, so keeping references is safe.
        self.parts.append(data)
        n = memoryview(data).nbytes
        self.size += n
        return n


class _Pickler(pickle.Pickler):
    """Protocol 5, except that a read-only NumPy array is saved as a writable copy.

    Pickle marks a read-only out-of-band buffer so that it loads read-only, and
    arrays from ``np.frombuffer(bytes)``, ``np.asarray(PIL image)`` or a
    read-only memory map are read-only: a later step could not change them in
    place, which it can in Metaflow (whose pickles copy everything). Copying
    only these keeps every other array free of copies.
    """

    def reducer_override(self, obj: object) -> Any:
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(obj, numpy.ndarray) and not obj.flags.writeable:
            return obj.copy().__reduce_ex__(5)
        return NotImplemented


def serialize(obj: object, *, name: str | None = None, step: str | None = None) -> Serialized:
    """Turn ``obj`` into chunks; :class:`ArtifactSerializationError` if it can't be.

    ``name`` and ``step`` only improve the error message.
    """
    frames = _Frames()
    buffers: list[memoryview] = []

    def keep_buffer(buf: pickle.PickleBuffer) -> bool:
        try:
            buffers.append(buf.raw())
        except BufferError:  # not contiguous: let pickle copy it in-band
            return True
        return False

    try:
        _Pickler(frames, protocol=5, buffer_callback=keep_buffer).dump(obj)
    except Exception as e:
        raise _cannot_save(obj, e, name, step) from e

    stream, flags = _maybe_compress(frames)
    header_size = _FIXED.size + _ENTRY.size * len(buffers)
    stream_len = sum(memoryview(p).nbytes for p in stream)
    chunks: list[memoryview] = [memoryview(b"")]  # header, filled in below
    chunks.extend(memoryview(p) for p in stream)
    offset = header_size + stream_len
    table = []
    for buf in buffers:
        pad = -offset % ALIGN
        if pad:
            chunks.append(_PADDING[:pad])
            offset += pad
        table.append(_ENTRY.pack(offset, buf.nbytes))
        chunks.append(buf)
        offset += buf.nbytes
    fixed = _FIXED.pack(
        MAGIC, VERSION, flags, 0, len(buffers), header_size, stream_len, frames.size
    )
    chunks[0] = memoryview(fixed + b"".join(table))
    encoding = ENCODING_ZLIB if flags & FLAG_ZLIB else ENCODING
    return Serialized(chunks=chunks, size=offset, encoding=encoding)


def sha1_of(chunks: Iterable[bytes | memoryview]) -> str:
    """Hex sha1 of the concatenated chunks, hashed one chunk at a time."""
    digest = hashlib.sha1(usedforsecurity=False)
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _maybe_compress(frames: _Frames) -> tuple[list[bytes | memoryview], int]:
    """The stream to store and its flags: compressed only when that pays."""
    if frames.size <= COMPRESS_MIN:
        return frames.parts, 0
    if frames.size > 4 * PROBE:
        probe = _head(frames.parts, PROBE)
        if len(zlib.compress(probe, 1)) >= COMPRESS_RATIO * len(probe):
            return frames.parts, 0
    packer = zlib.compressobj(1)
    out = [packer.compress(part) for part in frames.parts]
    out.append(packer.flush())
    packed: list[bytes | memoryview] = [p for p in out if p]
    if sum(len(p) for p in packed) < COMPRESS_RATIO * frames.size:
        return packed, FLAG_ZLIB
    return frames.parts, 0


def _head(parts: list[bytes | memoryview], n: int) -> bytes:
    """The first ``n`` bytes of the concatenated parts."""
    out = bytearray()
    for part in parts:
        out += memoryview(part)[: n - len(out)]
        if len(out) >= n:
            break
    return bytes(out)


def deserialize(buffer: memoryview) -> object:
    """The object stored in ``buffer`` (a blob written from :func:`serialize`).

    Out-of-band buffers are slices of ``buffer`` itself: NumPy arrays point
    into it (no copy) and are writable if ``buffer`` is.
    """
    view = as_bytes_view(buffer)
    if view.nbytes < _FIXED.size:
        raise ArtifactLoadError("the stored artifact is truncated (no header)")
    magic, version, flags, _, count, header_size, stream_len, raw_len = _FIXED.unpack_from(view)
    if magic != MAGIC or version != VERSION:
        raise ArtifactLoadError(
            f"the stored artifact has an unknown format ({bytes(magic)!r}, version {version})",
            fix="read it with the grange version that wrote it",
        )
    buffers = []
    for i in range(count):
        offset, length = _ENTRY.unpack_from(view, _FIXED.size + i * _ENTRY.size)
        buffers.append(view[offset : offset + length])
    stream: bytes | memoryview = view[header_size : header_size + stream_len]
    if flags & FLAG_ZLIB:
        stream = zlib.decompress(stream, bufsize=raw_len or zlib.DEF_BUF_SIZE)
    try:
        return pickle.loads(stream, buffers=buffers)
    except ModuleNotFoundError as e:
        raise ArtifactLoadError(
            f"the artifact needs the module '{e.name}', which cannot be imported here",
            fix=f"install the package that provides '{e.name}' in this environment",
        ) from e
    except Exception as e:
        raise ArtifactLoadError(f"the artifact cannot be unpickled: {e}") from e


def type_name(obj: object) -> str:
    """``numpy.ndarray``, ``pandas.core.frame.DataFrame``; builtins bare (``dict``)."""
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _cannot_save(
    obj: object, error: Exception, name: str | None, step: str | None
) -> ArtifactSerializationError:
    tname = type_name(obj)
    what = f"artifact '{name}'" if name else "the artifact"
    article = "an" if tname[:1].lower() in "aeiou" else "a"
    reason = str(error) or type(error).__name__
    message = f"{what} ({article} {tname}) cannot be saved: {reason}"
    target = f"self.{name}" if name else "the attribute"
    fix = f"del {target} before the step ends, or store something picklable instead"
    if tname == "generator":
        fix = f"convert it to a list, or {fix}"
    elif isinstance(error, RecursionError):
        fix = f"make the object less deeply nested, or {fix}"
    return ArtifactSerializationError(
        message, type_name=tname, original=error, artifact=name, step=step, fix=fix
    )
