"""Which store a ``grange ui`` serves, as a short hash that reveals nothing.

``/api/info`` answers it without a token, so that ``run --ui`` can tell a UI
over its own store from any other server on the port before it sends the
token anywhere. The hash covers the datastore location and the metadata URL
with its password masked (a local index under the datastore counts as
``local``): no secret goes into it.
"""

from __future__ import annotations

import hashlib

from grange.datastore.location import DatastoreLocation
from grange.metastore import sqlite_url
from grange.metastore.urls import mask_url


def store_fingerprint(root: DatastoreLocation, metadata_url: str | None) -> str:
    """The fingerprint of the store at ``root`` with the index at ``metadata_url``."""
    url = metadata_url or "local"
    if url == sqlite_url(root.index_dir):
        url = "local"
    text = f"grange-store\n{root.url}\n{mask_url(url)}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]
