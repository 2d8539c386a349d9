"""One obstore client per bucket per process, and its errors in the user's terms.

Fork safety: obstore runs requests on a Tokio runtime, one per process, whose
threads do not survive ``fork``: a forked child of a process that made a
request hangs on its own first request (measured). grange's fork server
therefore never makes one (the runtime process and each task do, after their
fork), the runtime does not fork a new fork server once it has used S3
(:func:`started_here`), and :func:`open_store` refuses, with a clear error,
to work in a forked child of a process that used S3 (a step's
``multiprocessing`` pool with the ``fork`` start method, for instance).
"""

from __future__ import annotations

import os
import re
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from grange.datastore.s3.settings import S3Settings
from grange.exceptions import BlobNotFound, StoreAccessError

if TYPE_CHECKING:
    from obstore.store import S3Store

_lock = threading.Lock()
_stores: dict[tuple[int, str, S3Settings], S3Store] = {}
_started_in: int | None = None  # the pid whose Tokio runtime obstore started

INSTALL_FIX = "install the S3 support: pip install 'grange[s3]'"


def open_store(bucket: str, settings: S3Settings) -> S3Store:
    """This process's obstore client of ``bucket`` (made on first use)."""
    global _started_in
    pid = os.getpid()
    key = (pid, bucket, settings)
    store = _stores.get(key)
    if store is not None:
        return store
    with _lock:
        if _started_in is not None and _started_in != pid:
            raise StoreAccessError(
                f"s3://{bucket} cannot be used in this process: it was forked from one that "
                "used S3 already, and the S3 client's threads do not survive a fork",
                reason="other",
                fix="start worker processes with the 'spawn' or 'forkserver' start method "
                "(multiprocessing.get_context('spawn')), or use S3 only in the children",
            )
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = _make(bucket, settings)
            _started_in = pid
    return store


def started_here() -> bool:
    """Whether this process has made an S3 client (so it must not fork workers that use S3)."""
    return _started_in is not None


def _make(bucket: str, settings: S3Settings) -> S3Store:
    try:
        from obstore.store import S3Store
    except ImportError:
        raise StoreAccessError(
            f"s3://{bucket} cannot be used: the obstore library is not installed",
            reason="other",
            fix=INSTALL_FIX,
        ) from None
    config: dict[str, Any] = {"region": settings.region}
    client: dict[str, Any] = {
        "timeout": timedelta(seconds=settings.timeout),
        "connect_timeout": timedelta(seconds=settings.connect_timeout),
    }
    if settings.endpoint_url:
        config["endpoint"] = settings.endpoint_url
        config["virtual_hosted_style_request"] = False
        if settings.endpoint_url.startswith("http://"):
            client["allow_http"] = True
    retry = {
        "max_retries": settings.retries,
        "retry_timeout": timedelta(seconds=settings.retry_timeout),
        "backoff": {
            "init_backoff": timedelta(milliseconds=100),
            "max_backoff": timedelta(seconds=10),
        },
    }
    provider = _boto3_provider(bucket) if settings.use_boto3_credentials else None
    return S3Store(
        bucket,
        config=config,  # type: ignore[arg-type]
        client_options=client,  # type: ignore[arg-type]
        retry_config=retry,  # type: ignore[arg-type]
        credential_provider=provider,
    )


def _boto3_provider(bucket: str) -> Any:
    """Credentials from boto3's chain (``~/.aws`` profiles, SSO), refreshed by it."""
    try:
        from obstore.auth.boto3 import Boto3CredentialProvider
    except ImportError:
        return None  # no boto3: obstore's own chain (environment, web identity, IMDS)
    try:
        return Boto3CredentialProvider()
    except Exception as err:  # botocore's errors name the profile and the problem
        raise StoreAccessError(
            f"no AWS credentials for s3://{bucket}: {err}",
            reason="credentials",
            fix="check AWS_PROFILE and ~/.aws/config (aws sso login, if it uses SSO)",
        ) from None


_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")
_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
}


def s3_error_code(err: BaseException) -> str | None:
    """The S3 error code (``NoSuchBucket``, ``AccessDenied``...) in an obstore error."""
    match = _CODE.search(str(err))
    return match.group(1) if match else None


def translate(
    err: BaseException,
    *,
    bucket: str,
    key: str | None,
    doing: str,
    settings: S3Settings | None = None,
    where: str | None = None,
) -> Exception:
    """The grange error for an obstore error met while ``doing`` (``"read"``, ...)
    ``key`` of ``bucket``: what went wrong, on which bucket and key, and the fix.

    A missing key becomes :class:`BlobNotFound`; anything else a
    :class:`StoreAccessError`. Errors that are not obstore's are returned as is.
    """
    url = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    code = s3_error_code(err)
    name = type(err).__name__
    endpoint = (settings.endpoint_url if settings else None) or "AWS S3"
    if code == "NoSuchBucket":
        return StoreAccessError(
            f"cannot {doing} {url}: the bucket {bucket!r} does not exist at {endpoint}",
            reason="no-bucket",
            fix=f"create it (aws s3 mb s3://{bucket}), or point grange at an existing "
            "bucket with --datastore-root / the profile's datastore_root",
        )
    if isinstance(err, FileNotFoundError) or name == "NotFoundError" or code == "NoSuchKey":
        return BlobNotFound(key or "", where or f"s3://{bucket}")
    if "169.254.169.254" in str(err) or "169.254.170.2" in str(err):
        # No keys anywhere: obstore asked the instance (or container) metadata service.
        return StoreAccessError(
            f"cannot {doing} {url}: no AWS credentials were found (environment, "
            "~/.aws, web identity, instance or container role)",
            reason="credentials",
            fix="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE "
            "(with boto3 installed), or run where a role provides them",
        )
    if code in _CREDENTIAL_CODES or name == "UnauthenticatedError":
        return StoreAccessError(
            f"cannot {doing} {url}: the AWS credentials were refused ({code or name})",
            reason="credentials",
            fix="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE "
            "(run 'aws sts get-caller-identity' to see who you are)",
        )
    if (
        code == "AccessDenied"
        or isinstance(err, PermissionError)
        or name == ("PermissionDeniedError")
    ):
        return StoreAccessError(
            f"cannot {doing} {url}: access denied",
            reason="denied",
            fix=f"grant your AWS identity s3:GetObject, s3:PutObject and s3:ListBucket "
            f"on {bucket}, or use a profile whose datastore you may use",
        )
    text = str(err)
    if code in ("SlowDown", "ServiceUnavailable", "RequestLimitExceeded", "Throttling"):
        return StoreAccessError(
            f"cannot {doing} {url}: the store kept answering '{code}' (too many requests) "
            "even after retries",
            reason="throttled",
            fix="run fewer tasks at once (--max-workers) or lower GRANGE_S3_MAX_CONCURRENCY, "
            "or allow more retries (GRANGE_S3_RETRIES, GRANGE_S3_RETRY_TIMEOUT); then "
            "'resume' re-runs only what did not finish",
        )
    if name == "GenericError" and ("error sending request" in text or "timed out" in text):
        return StoreAccessError(
            f"cannot {doing} {url}: {endpoint} did not answer, even after retries",
            reason="unreachable",
            fix="check the network and GRANGE_S3_ENDPOINT_URL; once the store is back, "
            "'resume' re-runs only what did not finish",
        )
    if type(err).__module__.startswith("obstore") or name in ("GenericError",):
        first = text.split("\n\nDebug source:", 1)[0].strip()
        return StoreAccessError(f"cannot {doing} {url}: {first[:500]}", reason="other", fix=None)
    return err  # type: ignore[return-value]
