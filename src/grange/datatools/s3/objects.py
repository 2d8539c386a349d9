"""What ``grange.S3`` takes (:class:`S3GetObject`, :class:`S3PutObject`) and
returns (:class:`S3Object`, with its :class:`RangeInfo`)."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import IO, NamedTuple, Union

#: What ``put`` accepts: text (stored as UTF-8), bytes, or a readable, seekable file.
PutValue = Union[  # noqa: UP007 (a runtime alias: Python 3.10 cannot | these)
    str, bytes, bytearray, memoryview, IO[bytes], io.RawIOBase, io.BufferedIOBase
]

#: The object metadata header holding a user's metadata as JSON. Objects that
#: Metaflow wrote carry theirs under its own name, which is read as well.
USER_ATTRIBUTES = "grange-user-attributes"
METAFLOW_USER_ATTRIBUTES = "metaflow-user-attributes"


class S3GetObject(NamedTuple):
    """A key to get, optionally only ``length`` bytes from ``offset``.

    ``length=None`` reads to the end; a negative ``length`` reads the last
    ``-length`` bytes (``offset`` is then ignored).
    """

    key: str
    offset: int | None = None
    length: int | None = None


class S3PutObject(NamedTuple):
    """A key to put, with either a ``value`` (``put_many``) or a local ``path``
    (``put_files``), and optionally a content type and user metadata."""

    key: str
    value: PutValue | None = None
    path: str | None = None
    content_type: str | None = None
    # Server-side encryption per object is not supported: the bucket's default applies.
    encryption: str | None = None
    metadata: Mapping[str, object] | None = None


class RangeInfo(NamedTuple):
    """Which bytes of an object were downloaded: ``request_length`` bytes from
    ``request_offset`` of an object of ``total_size`` bytes."""

    total_size: int
    request_offset: int = 0
    request_length: int = -1


class S3Object:
    """One object (or, from ``list_paths``, one folder) in S3, and its local copy if
    it was downloaded.

    ``key`` is the part of ``url`` below ``prefix`` (the ``S3(s3root=...)`` root,
    or the prefix listed); with no prefix, it is the whole URL. ``path`` is a
    temporary local file, removed when the ``S3`` scope ends.
    """

    __slots__ = (
        "_content_type", "_key", "_last_modified", "_metadata", "_path", "_prefix",
        "_range_info", "_size", "_url",
    )  # fmt: skip

    def __init__(
        self,
        prefix: str | None,
        url: str,
        path: str | None = None,
        size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        range_info: RangeInfo | None = None,
        last_modified: float | None = None,
    ) -> None:
        self._url = url
        self._path = path
        self._size = size
        self._content_type = content_type
        self._metadata = user_metadata(metadata)
        self._range_info = range_info
        self._last_modified = last_modified
        if prefix is None or prefix == url:
            self._prefix: str | None = None
            self._key = url
        else:
            self._prefix = prefix
            self._key = url[len(prefix.rstrip("/")) + 1 :].rstrip("/")

    @property
    def exists(self) -> bool:
        """Whether an object is stored at this URL (False for a folder or a missing key)."""
        return self._size is not None

    @property
    def downloaded(self) -> bool:
        """Whether the bytes are here: ``path``, ``blob`` and ``text`` can be read."""
        return self._path is not None

    @property
    def url(self) -> str:
        """The ``s3://bucket/key`` address."""
        return self._url

    @property
    def prefix(self) -> str | None:
        """The root or listed prefix that ``key`` is relative to, if any."""
        return self._prefix

    @property
    def key(self) -> str:
        """The key as asked for: relative to ``prefix``, or the whole URL."""
        return self._key

    @property
    def path(self) -> str | None:
        """The local temporary file holding the bytes (removed when the ``S3`` scope ends)."""
        return self._path

    @property
    def blob(self) -> bytes | None:
        """The bytes, read from the local file (None unless downloaded)."""
        if self._path is None:
            return None
        with open(self._path, "rb") as f:
            return f.read()

    @property
    def text(self) -> str | None:
        """The bytes decoded as UTF-8 (None unless downloaded)."""
        blob = self.blob
        return None if blob is None else blob.decode("utf-8", errors="replace")

    @property
    def size(self) -> int | None:
        """Size in bytes: of the object, or of the part downloaded; None if it does not exist."""
        return self._size

    @property
    def has_info(self) -> bool:
        """Whether content type, metadata or range information came with the object."""
        return (
            self._content_type is not None
            or self._metadata is not None
            or self._range_info is not None
        )

    @property
    def metadata(self) -> dict[str, object] | None:
        """The metadata given to ``put`` (a dict), or None if there was none."""
        return None if self._metadata is None else dict(self._metadata)

    @property
    def content_type(self) -> str | None:
        """The object's MIME type, if known."""
        return self._content_type

    @property
    def range_info(self) -> RangeInfo | None:
        """What part of the object was downloaded (with ``return_info``)."""
        return self._range_info

    @property
    def last_modified(self) -> float | None:
        """When the object was last written, as a Unix timestamp (seconds)."""
        return self._last_modified

    def __repr__(self) -> str:
        if self._path is not None:
            return f"<S3Object {self._url} ({self._size} bytes, local)>"
        if self._size is not None:
            return f"<S3Object {self._url} ({self._size} bytes, in S3)>"
        return f"<S3Object {self._url} (no object)>"

    __str__ = __repr__


def user_metadata(attributes: Mapping[str, str] | None) -> dict[str, object] | None:
    """The user's metadata stored in an object's ``attributes``, if any."""
    if not attributes:
        return None
    for name in (USER_ATTRIBUTES, METAFLOW_USER_ATTRIBUTES):
        raw = attributes.get(name)
        if raw is not None:
            try:
                value = json.loads(raw)
            except ValueError:
                return {name: raw}  # written by another tool: kept as it is
            return value if isinstance(value, dict) else {name: value}
    return None
