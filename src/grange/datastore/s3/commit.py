"""Create-only puts on S3: how a record or a run claim is written at most once.

A blob written with ``overwrite=False`` whose key does not name its content
(an attempt's ``record.json``, a run's ``run.json``) must not replace one that
exists: that is what makes a record commit once and a run id claim unique. Two
ways, chosen by ``GRANGE_S3_CONDITIONAL_PUT``:

``always`` — a conditional put (``If-None-Match: *``): the server stores the
    object only if the key is free, atomically. Of any number of concurrent
    writers exactly one succeeds, on any number of machines. AWS S3 (since
    2024), MinIO, Ceph and moto honour it.
``never`` — for servers that ignore the header (the s3rver emulator, older
    S3-compatible stores): a HEAD, then a plain put carrying a random nonce in
    its metadata, then a read-back of that nonce. A writer that finds the key
    taken, or finds another writer's nonce when reading back, reports the key
    as taken. This is best effort: two writers whose HEADs both come before
    either put, and where the second put lands only after the first writer's
    read-back, both believe they wrote; the second one's bytes are kept.
``auto`` (default) — ``always`` if the server honours the header, else
    ``never``. Whether it does is probed once per bucket per process, on the
    first create-only put: a hidden key ``<prefix>/.grange/probe-<uuid>`` is
    created twice (the second must be refused), then deleted.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import AlreadyExistsError, NotFoundError, PreconditionError

from grange.exceptions import ConfigError

if TYPE_CHECKING:
    from obstore.store import S3Store

MODES = ("auto", "always", "never")
NONCE = "grange-nonce"  # user metadata: x-amz-meta-grange-nonce

_lock = threading.Lock()
_honoured: dict[tuple[int, str, str, str | None], bool] = {}


def mode_from_env(env: Mapping[str, str] | None = None) -> str:
    """``GRANGE_S3_CONDITIONAL_PUT``: ``auto`` (default), ``always`` or ``never``."""
    env = os.environ if env is None else env
    mode = env.get("GRANGE_S3_CONDITIONAL_PUT", "").strip().lower() or "auto"
    if mode not in MODES:
        raise ConfigError(
            f"GRANGE_S3_CONDITIONAL_PUT={mode!r} is not one of {', '.join(MODES)}",
            fix="use auto (probe the server), always (it honours If-None-Match) or never",
        )
    return mode


def honours_create(
    store: S3Store, bucket: str, prefix: str, endpoint: str | None, mode: str
) -> bool:
    """Whether create-only puts can rely on ``If-None-Match: *`` (probed once for ``auto``)."""
    if mode != "auto":
        return mode == "always"
    cache_key = (os.getpid(), bucket, prefix, endpoint)
    known = _honoured.get(cache_key)
    if known is not None:
        return known
    with _lock:
        known = _honoured.get(cache_key)
        if known is None:
            known = _honoured[cache_key] = _probe(store, prefix)
    return known


def _probe(store: S3Store, prefix: str) -> bool:
    name = f".grange/probe-{uuid.uuid4().hex}"
    key = f"{prefix}/{name}" if prefix else name
    obstore.put(store, key, b"1", mode="create")
    try:
        obstore.put(store, key, b"2", mode="create")
        return False
    except (AlreadyExistsError, PreconditionError):
        return True
    finally:
        with contextlib.suppress(Exception):  # hidden: a leftover probe costs nothing
            obstore.delete(store, key)


def put_create_only(store: S3Store, key: str, data: bytes, *, conditional: bool) -> bool:
    """Store ``data`` under ``key`` unless it exists; ``False`` if it did (see module doc).

    obstore's errors other than "exists" propagate for the caller to translate.
    """
    if conditional:
        try:
            obstore.put(store, key, data, mode="create", use_multipart=False)
            return True
        except (AlreadyExistsError, PreconditionError):
            return False
    try:
        obstore.head(store, key)
        return False
    except (NotFoundError, FileNotFoundError):
        pass
    nonce = uuid.uuid4().hex
    obstore.put(store, key, data, attributes={NONCE: nonce}, use_multipart=False)
    try:
        stored = obstore.get(store, key)
    except (NotFoundError, FileNotFoundError):
        return False  # removed at once by someone else: not ours to count on
    return stored.attributes.get(NONCE) == nonce
