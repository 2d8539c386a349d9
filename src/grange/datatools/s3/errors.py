"""The errors of ``grange.S3``, named the way Metaflow users know them.

    DatastoreError
    └── S3Error              grange.S3 could not do what was asked (``reason`` says why)
        ├── S3NotFound       no object at a URL (or no local file to upload)
        ├── S3AccessDenied   the store refused the request (also a StoreAccessError)
        ├── S3URLError       an address grange.S3 cannot use as given
        ├── S3InvalidRange   a byte range outside the object
        └── S3InvalidObject  a value put that is not text, bytes or a readable file

A profile's policy refusing a URL raises :class:`~grange.exceptions.PolicyError`
before any request is made. The ``MetaflowS3*`` aliases let code written for
Metaflow catch the same errors after changing its imports.
"""

from __future__ import annotations

from grange.exceptions import DatastoreError, StoreAccessError


class S3Error(DatastoreError):
    """A ``grange.S3`` call failed; ``reason`` is ``"not-found"``, ``"denied"``,
    ``"invalid-url"``, ``"invalid-range"``, ``"invalid-object"``, ``"no-bucket"``,
    ``"credentials"``, ``"unreachable"``, ``"disk-full"`` or ``"other"``."""

    headline = "S3 access failed"
    default_reason = "other"

    def __init__(self, message: str, *, reason: str | None = None, fix: str | None = None) -> None:
        super().__init__(message, fix=fix)
        self.reason = reason or self.default_reason


class S3NotFound(S3Error):
    """No object at the URL asked for (or, for ``put_files``, no local file)."""

    headline = "S3 object not found"
    default_reason = "not-found"


class S3AccessDenied(S3Error, StoreAccessError):
    """The store refused the request for the credentials in use."""

    headline = "S3 access denied"
    default_reason = "denied"


class S3URLError(S3Error):
    """An address that grange.S3 cannot use as given."""

    headline = "Invalid S3 address"
    default_reason = "invalid-url"


class S3InvalidRange(S3Error):
    """A byte range that the object cannot satisfy."""

    headline = "Invalid S3 range"
    default_reason = "invalid-range"


class S3InvalidObject(S3Error):
    """A value to put that is neither text, bytes nor a readable, seekable file."""

    headline = "Cannot upload this value"
    default_reason = "invalid-object"


# Metaflow's names, for code that catches them.
MetaflowS3Exception = S3Error
MetaflowS3NotFound = S3NotFound
MetaflowS3AccessDenied = S3AccessDenied
MetaflowS3URLException = S3URLError
MetaflowS3InvalidRange = S3InvalidRange
MetaflowS3InvalidObject = S3InvalidObject
