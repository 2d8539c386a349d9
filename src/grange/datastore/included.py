"""Files an ``IncludeFile`` parameter names, stored for runs that start elsewhere.

A local run reads the file itself. A deployed flow (Argo) starts in a pod that
cannot see the deploying machine's files. So ``argo-workflows create`` (for a
default) and ``trigger`` (for a value given then) store the file's bytes in the
datastore, once for each content, under ``<Flow>/include/<sha256>``. The
workflow argument is then a small JSON reference (:func:`reference`). The start
step reads the bytes back (:func:`load`), checks their sha256, and gives the
parameter the file's content as a local run would.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

from grange.datastore.backend import BlobStore
from grange.exceptions import BlobNotFound, DatastoreError

MARKER = "grange_include_file"
VERSION = 1


def store(blobs: BlobStore, flow: str, data: bytes, name: str) -> dict[str, Any]:
    """Store ``data`` (the file ``name``) and return its reference."""
    sha = hashlib.sha256(data).hexdigest()
    key = f"{flow}/include/{sha}"
    if not blobs.exists(key):
        blobs.put_bytes(key, data)
    return {MARKER: VERSION, "key": key, "sha256": sha, "size": len(data), "name": name}


def is_reference(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(MARKER) == VERSION and "key" in value


def load(blobs: BlobStore, ref: Mapping[str, Any]) -> bytes:
    """The bytes ``ref`` names, checked against its sha256."""
    key = str(ref["key"])
    try:
        data = blobs.get_bytes(key)
    except BlobNotFound:
        raise DatastoreError(
            f"the included file {ref.get('name')!r} is not in the datastore ({blobs.url(key)})",
            fix="deploy the flow again with `argo-workflows create` (or trigger it with the "
            "file's path) using the same datastore as the workflow's pods",
        ) from None
    if hashlib.sha256(data).hexdigest() != ref.get("sha256"):
        raise DatastoreError(
            f"the included file {ref.get('name')!r} at {blobs.url(key)} is damaged "
            "(its sha256 does not match)",
            fix="delete it and deploy (or trigger) again to store it anew",
        )
    return data


def read_path(path: str | os.PathLike[str]) -> tuple[bytes, str]:
    """The bytes of a local file and its name (raises ``OSError``)."""
    with open(path, "rb") as fh:
        return fh.read(), os.path.basename(os.fspath(path))
