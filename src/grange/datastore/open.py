"""Open the blob store of a datastore root: a local folder or an ``s3://`` location."""

from __future__ import annotations

from pathlib import Path

from grange.datastore.backend import BlobStore
from grange.datastore.location import DatastoreLocation


def open_blob_store(root: str | Path) -> BlobStore:
    """The blob store at ``root``: ``s3://bucket/prefix`` is an S3 bucket (connection
    settings from the environment, see docs/s3.md); anything else a local folder."""
    return DatastoreLocation.of(root).open()
