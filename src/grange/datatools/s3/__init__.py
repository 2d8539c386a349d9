"""``grange.S3``: fast, parallel access to user data in S3, with Metaflow's interface.

* :mod:`~grange.datatools.s3.client` — :class:`S3`, the methods a step calls;
* :mod:`~grange.datatools.s3.objects` — :class:`S3Object` (what comes back),
  :class:`S3GetObject` / :class:`S3PutObject` (what goes in), :class:`RangeInfo`;
* :mod:`~grange.datatools.s3.locations` — roots, URLs, keys and byte ranges;
* :mod:`~grange.datatools.s3.transfer` — the obstore requests, many at a time;
* :mod:`~grange.datatools.s3.errors` — the errors, with Metaflow's names as aliases.

Importing this package imports no S3 library; obstore is loaded by the first request.
"""

from grange.datatools.s3.client import S3
from grange.datatools.s3.errors import (
    MetaflowS3AccessDenied,
    MetaflowS3Exception,
    MetaflowS3InvalidObject,
    MetaflowS3InvalidRange,
    MetaflowS3NotFound,
    MetaflowS3URLException,
    S3AccessDenied,
    S3Error,
    S3InvalidObject,
    S3InvalidRange,
    S3NotFound,
    S3URLError,
)
from grange.datatools.s3.objects import RangeInfo, S3GetObject, S3Object, S3PutObject

__all__ = [  # noqa: RUF022 (plain sorted(), as the API test checks)
    "MetaflowS3AccessDenied",
    "MetaflowS3Exception",
    "MetaflowS3InvalidObject",
    "MetaflowS3InvalidRange",
    "MetaflowS3NotFound",
    "MetaflowS3URLException",
    "RangeInfo",
    "S3",
    "S3AccessDenied",
    "S3Error",
    "S3GetObject",
    "S3InvalidObject",
    "S3InvalidRange",
    "S3NotFound",
    "S3Object",
    "S3PutObject",
    "S3URLError",
]
