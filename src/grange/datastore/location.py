"""Where a datastore lives: a local directory or an ``s3://bucket/prefix``.

A :class:`DatastoreLocation` is what the command line, the runtime, tasks and
the client pass around; :meth:`DatastoreLocation.open` gives its
:class:`~grange.datastore.BlobStore`. The local SQLite index lives in the
datastore's own directory when that is local; for a remote datastore it lives
in this machine's cache (``$GRANGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/grange``,
else ``~/.cache/grange``), one per location, since the records in the
datastore are the truth and any index can be rebuilt from them.

How a location is chosen, first match wins (:func:`resolve_location`):

1. ``--datastore-root`` (a path or an ``s3://`` URL);
2. ``GRANGE_DATASTORE_ROOT``;
3. with ``--datastore s3`` (or ``GRANGE_DATASTORE=s3``): ``GRANGE_DATASTORE_SYSROOT_S3``,
   else an error (an S3 datastore needs a bucket);
4. the nearest ``.grange/`` (see :func:`~grange.datastore.root.find_datastore_root`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grange.datastore.root import ENV_VAR, find_datastore_root
from grange.datastore.s3.settings import ENV as S3_ENV
from grange.datastore.s3.url import is_s3_url, parse_s3_url
from grange.exceptions import CommandError, DatastoreError, StoreAccessError

if TYPE_CHECKING:
    from grange.datastore.backend import BlobStore

KINDS = ("local", "s3")
KIND_ENV = "GRANGE_DATASTORE"
S3_ROOT_ENV = "GRANGE_DATASTORE_SYSROOT_S3"
CACHE_ENV = "GRANGE_CACHE_DIR"
ENDPOINT_ENV = S3_ENV["endpoint_url"]


@dataclass(frozen=True)
class DatastoreLocation:
    """A datastore: ``url`` is an absolute local path or ``s3://bucket/prefix``."""

    url: str

    @property
    def kind(self) -> str:
        return "s3" if is_s3_url(self.url) else "local"

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    @property
    def path(self) -> Path:
        """The directory of a local datastore (an error for a remote one)."""
        if not self.is_local:
            raise ValueError(f"{self.url} is not a local directory")
        return Path(self.url)

    @property
    def index_dir(self) -> Path:
        """Where the local SQLite index of this datastore lives."""
        if self.is_local:
            return Path(self.url)
        s3 = parse_s3_url(self.url)
        # One bucket name on two endpoints (a MinIO and AWS) is two stores.
        endpoint = next((os.environ[v] for v in ENDPOINT_ENV if os.environ.get(v)), "")
        key = f"{self.url}\n{endpoint.rstrip('/')}" if endpoint else self.url
        digest = hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:12]
        return cache_dir() / "index" / f"{s3.bucket}-{digest}"

    def make_index_dir(self) -> Path:
        """:attr:`index_dir`, created if needed; a cache that cannot hold it is named."""
        folder = self.index_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DatastoreError(
                f"cannot keep the index of {self.url} in {folder}: {err.strerror or err}",
                fix=f"set {CACHE_ENV} to a folder you may write to (default ~/.cache/grange), "
                "or use a PostgreSQL index (--metadata postgresql://...)",
            ) from None
        return folder

    def open(self, *, s3: Mapping[str, object] | None = None) -> BlobStore:
        """The blob store of this location (an S3 one needs ``grange[s3]``); ``s3``
        holds a profile's S3 settings, used where the environment gives none."""
        if self.is_local:
            from grange.datastore.local import LocalBlobStore

            return LocalBlobStore(self.url)
        url = parse_s3_url(self.url, what="the datastore root")
        try:
            from grange.datastore.s3.blobstore import S3BlobStore
        except ImportError as err:
            raise StoreAccessError(
                f"the datastore {self.url} is in S3, but {err.name or 'obstore'} is not installed",
                reason="other",
                fix="install the S3 support: pip install 'grange[s3]'",
            ) from None
        return S3BlobStore.from_env(url, overrides=s3)

    def __str__(self) -> str:
        return self.url

    @classmethod
    def of(cls, root: str | Path | DatastoreLocation) -> DatastoreLocation:
        """A location from a path, an ``s3://`` URL or a location."""
        if isinstance(root, DatastoreLocation):
            return root
        if is_s3_url(root):
            return cls(str(parse_s3_url(str(root), what="the datastore root")))
        return cls(str(Path(os.path.expanduser(str(root))).absolute()))


def resolve_location(
    start: Path,
    explicit: str | None,
    env: Mapping[str, str],
    *,
    kind: str | None = None,
) -> DatastoreLocation:
    """The datastore a command started in ``start`` uses (see the module's docs)."""
    kind = kind or env.get(KIND_ENV) or None
    if kind is not None and kind not in KINDS:
        raise CommandError(
            f"unknown datastore {kind!r}",
            fix="use --datastore local (the default) or --datastore s3",
        )
    given = explicit or env.get(ENV_VAR) or (env.get(S3_ROOT_ENV) if kind == "s3" else None)
    if given and is_s3_url(given):
        if kind == "local":
            raise CommandError(
                f"--datastore local cannot store runs at {given}",
                fix="drop --datastore local, or give a local --datastore-root",
            )
        return DatastoreLocation(str(parse_s3_url(given, what="the datastore root")))
    if kind == "s3":
        where = f"{given!r} is not an s3:// URL" if given else "no bucket was given"
        raise CommandError(
            f"--datastore s3 needs an S3 location: {where}",
            fix="pass --datastore-root s3://BUCKET/PREFIX (or set GRANGE_DATASTORE_ROOT "
            f"or {S3_ROOT_ENV}, or choose a profile that sets datastore_root)",
        )
    return DatastoreLocation(str(find_datastore_root(start, explicit, env)))


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """This machine's grange cache (indexes of remote datastores, downloaded blobs)."""
    env = os.environ if env is None else env
    if env.get(CACHE_ENV):
        return Path(os.path.expanduser(env[CACHE_ENV])).absolute()
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base).absolute() / "grange"
