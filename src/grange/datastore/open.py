"""Open the blob store of a datastore root: a local folder or an ``s3://`` location."""

from __future__ import annotations

from pathlib import Path

from grange.datastore.backend import BlobStore
from grange.datastore.local import LocalBlobStore


def open_blob_store(root: str | Path) -> BlobStore:
    """The blob store at ``root``: ``s3://bucket/prefix`` is an S3 bucket (connection
    settings from the environment, see docs/s3.md); anything else a local folder."""
    if isinstance(root, str) and root.startswith("s3://"):
        from grange.datastore.s3.blobstore import S3BlobStore
        from grange.datastore.s3.url import parse_s3_url

        return S3BlobStore.from_env(parse_s3_url(root, what="the datastore root"))
    return LocalBlobStore(root)
