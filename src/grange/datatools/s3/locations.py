"""Where ``grange.S3`` reads and writes: its root, and the URL of each key.

An ``S3`` object has a root (``s3root=``, ``bucket=``/``prefix=``, or a run's
own folder with ``run=``) or none, in which case every key is a whole
``s3://`` URL. Keys are checked here, before any request: obstore cannot
address keys with empty, ``.`` or ``..`` parts, or a leading or trailing
``/``, and would otherwise silently store them under another name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grange.current import current
from grange.datatools.s3.errors import S3InvalidRange, S3URLError
from grange.datatools.s3.objects import S3GetObject

SCHEME = "s3://"
#: Where ``S3(run=...)`` keeps a run's data: ``<root>/<Flow>/<run id>/``. Unset,
#: the root is ``data-s3/`` in the run's datastore (a name no flow can have, so
#: the datastore's own tools never mistake it for one).
ROOT_ENV = "GRANGE_DATATOOLS_S3ROOT"
DATASTORE_ENV = "GRANGE_DATASTORE_ROOT"
RUN_FOLDER = "data-s3"


@dataclass(frozen=True)
class Location:
    """One object (or prefix) to act on: ``s3://bucket/key``."""

    bucket: str
    key: str

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}" if self.key else f"{SCHEME}{self.bucket}"


def split_url(url: str, *, what: str = "S3 URL", folder: bool = False) -> Location:
    """``s3://bucket/key`` as a :class:`Location`; ``folder`` allows an empty key
    and a trailing ``/``."""
    if not isinstance(url, str) or not url.startswith(SCHEME):
        raise S3URLError(f"{what} {url!r} is not an s3:// URL", fix="write it as s3://BUCKET/KEY")
    bucket, _, key = url[len(SCHEME) :].partition("/")
    if not bucket:
        raise S3URLError(f"{what} {url!r} names no bucket", fix="write it as s3://BUCKET/KEY")
    if folder:
        key = key.rstrip("/")
    check_key(key, url, folder=folder)
    return Location(bucket, key)


def check_key(key: str, url: str, *, folder: bool = False) -> None:
    """Refuse keys that obstore cannot address as given."""
    if not key:
        if folder:
            return
        raise S3URLError(f"{url!r} names a bucket, not an object", fix="add the object's key")
    if key.startswith("/") or (key.endswith("/") and not folder) or "//" in key:
        raise S3URLError(
            f"{url!r}: keys with a leading or trailing '/' or an empty part ('//') "
            "are not supported by grange.S3",
            fix="use keys made of non-empty parts, e.g. s3://bucket/data/part-0.csv",
        )
    if any(part in (".", "..") for part in key.split("/")):
        raise S3URLError(
            f"{url!r}: keys with a '.' or '..' part are not supported by grange.S3",
            fix="use plain names for the parts of the key",
        )


def join(root: str, key: str | None) -> str:
    """The URL of ``key`` under ``root`` (``root`` itself for no key)."""
    if not key:
        return root
    return f"{root}/{key.lstrip('/')}"


def key_url(root: str | None, key: object) -> str:
    """The URL a key given to ``S3`` stands for."""
    key = getattr(key, "key", key)
    if key is not None and not isinstance(key, str):
        raise S3URLError(
            f"a key must be a string (or an S3GetObject/S3PutObject), not {type(key).__name__}",
            fix="pass keys as str",
        )
    if root is None:
        if key and key.startswith(SCHEME):
            return key
        if current.is_running_flow:
            fix = "use S3(run=self) or S3(s3root='s3://...') for keys, or give whole s3:// URLs"
        else:
            fix = (
                "create it as S3(s3root='s3://bucket/prefix') to use keys, or give whole s3:// URLs"
            )
        raise S3URLError(f"{key!r} is not an s3:// URL and this S3 has no root", fix=fix)
    if key and key.startswith(SCHEME):
        raise S3URLError(
            f"{key!r} is a whole URL, but this S3 has the root {root}",
            fix="give keys relative to the root, or use S3() without a root for whole URLs",
        )
    return join(root, key)


def byte_range(key: object) -> dict[str, Any] | tuple[int, int] | None:
    """obstore's range option for an :class:`S3GetObject` (None for the whole object)."""
    if not isinstance(key, S3GetObject):
        return None
    offset, length = key.offset, key.length
    if offset is None and length is None:
        return None
    if length is not None and length < 0:
        return {"suffix": -length}
    start = offset or 0
    if start < 0:
        raise S3InvalidRange(
            f"{key.key!r}: offset {start} is negative",
            fix="give an offset >= 0, or a negative length for the last bytes",
        )
    if length is None:
        return {"offset": start}
    if length == 0:
        raise S3InvalidRange(
            f"{key.key!r}: a range of 0 bytes", fix="ask for at least one byte (length >= 1)"
        )
    return (start, start + length)


def root_from_args(
    *, s3root: str | None, bucket: str | None, prefix: str | None, run: object
) -> str | None:
    """The root of ``S3(...)`` from its arguments (None: whole URLs only)."""
    if run is not None:
        return _run_root(run, bucket, prefix)
    if s3root is not None:
        if bucket is not None or prefix is not None:
            raise S3URLError(
                "S3() takes either s3root= or bucket=/prefix=, not both",
                fix="S3(s3root='s3://bucket/prefix') or S3(bucket='bucket', prefix='prefix')",
            )
        return split_url(s3root, what="s3root", folder=True).url
    if bucket is not None:
        return split_url(join(SCHEME + bucket, (prefix or "").strip("/")), folder=True).url
    if prefix is not None:
        raise S3URLError("S3(prefix=...) needs a bucket=", fix="S3(bucket='b', prefix='p')")
    return None


def _run_root(run: object, bucket: str | None, prefix: str | None) -> str:
    flow, run_id, datastore = _run_facts(run)
    base = os.environ.get(ROOT_ENV) or ""
    if not base:
        if not datastore.startswith(SCHEME):
            raise S3URLError(
                f"S3(run=...) keeps a run's data in its datastore's bucket, but run "
                f"{flow}/{run_id} uses the local datastore {datastore}",
                fix="run the flow with --datastore-root s3://BUCKET/PREFIX (an S3 datastore), "
                f"set {ROOT_ENV}=s3://BUCKET/PREFIX, or use S3(s3root='s3://...')",
            )
        base = join(datastore.rstrip("/"), RUN_FOLDER)
    root = split_url(
        base, what=ROOT_ENV if os.environ.get(ROOT_ENV) else "datastore root", folder=True
    )
    bucket = bucket or root.bucket
    parts = [
        p for p in ((prefix if prefix is not None else root.key).strip("/"), flow, run_id) if p
    ]
    return split_url(f"{SCHEME}{bucket}/{'/'.join(parts)}", folder=True).url


def _run_facts(run: object) -> tuple[str, str, str]:
    """Flow name, run id and datastore root of ``run``: the running flow (``self``)
    or a client ``Run``."""
    stores = getattr(run, "_stores", None)
    pathspec = getattr(run, "pathspec", None)
    if stores is not None and isinstance(pathspec, str):  # a client object
        parts = pathspec.split("/")
        if len(parts) != 2:
            raise S3URLError(
                f"S3(run=...) takes a Run (or self in a step), not {type(run).__name__} "
                f"{pathspec!r}",
                fix="pass the run: S3(run=Run('Flow/123')), or S3(run=self) in a step",
            )
        return parts[0], parts[1], str(getattr(stores, "root", ""))
    if not current.is_running_flow:
        raise S3URLError(
            f"S3(run=...) takes a Run, or self inside a running step, not {type(run).__name__}",
            fix="use S3(run=Run('Flow/123')) outside a flow, or S3(s3root='s3://...')",
        )
    env: Mapping[str, str] = os.environ
    return str(current.flow_name), str(current.run_id), env.get(DATASTORE_ENV, "")
