"""S3BlobStore on the loopback moto server: the BlobStore contract and what S3 adds."""

from __future__ import annotations

from pathlib import Path

import pytest

from grange.datastore import BlobStore
from grange.datastore.s3 import S3Url
from grange.datastore.s3.blobstore import S3BlobStore
from grange.datastore.s3.cache import BlobCache
from grange.datastore.s3.settings import S3Settings
from s3contract import contract_tests

pytest.importorskip("obstore")


@pytest.fixture
def blobs(s3_bucket: str, tmp_path: Path) -> BlobStore:
    return S3BlobStore(
        S3Url(s3_bucket, "team/grange"),
        S3Settings.from_env(),
        cache=BlobCache(tmp_path / "cache", 64 << 20),
    )


globals().update(contract_tests())


def test_url_and_describe_name_the_bucket_and_prefix(blobs: S3BlobStore) -> None:
    assert blobs.url("a/b") == f"s3://{blobs.bucket}/team/grange/a/b"
    assert blobs.describe() == f"S3 datastore at s3://{blobs.bucket}/team/grange"
    assert blobs.describe() in repr(blobs)
