"""Which store the client reads, and which namespace it filters by.

Both are process-wide settings, as in Metaflow, and both are resolved lazily:
importing this module reads no environment variable and opens no file.

Where runs are read from (:func:`metadata`, :func:`get_metadata`,
:func:`default_metadata`), first match wins:

1. what :func:`metadata` was given: ``"local@/path/to/.grange"`` (or
   ``"local@s3://bucket/prefix"``), a path, ``"profile:NAME"``, or a database URL
   (``sqlite:///.../metadata.db``, ``postgresql://...``);
2. ``GRANGE_METADATA`` (a database URL) and ``GRANGE_DATASTORE_ROOT`` (a path or an
   ``s3://`` URL; ``GRANGE_DATASTORE=s3`` with ``GRANGE_DATASTORE_SYSROOT_S3`` too);
3. the stores of the profile in force (``GRANGE_PROFILE``, else the
   ``default_profile`` of ``~/.grange/config.toml``; see docs/profiles.md);
4. the nearest ``.grange/`` in the working directory or a parent of it, found
   on first use.

``metadata("profile:NAME")`` reads profile NAME's stores, which the profile in
force allows only when its policy lists NAME in ``readable_profiles``.

The namespace (:func:`namespace`, :func:`get_namespace`,
:func:`default_namespace`) is a tag: an object is visible when its run carries
it. The default is ``user:<name>`` (``GRANGE_USER``, else ``USER``, else the
login name); inside a running task started with ``--namespace``, that one.
``namespace(None)`` makes every run visible.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grange.datastore.location import DatastoreLocation
from grange.exceptions import ClientError, ObjectNotFound

if TYPE_CHECKING:
    from grange.config import Effective
    from grange.datastore import BlobStore, ContentAddressedStore
    from grange.metastore import MetadataStore

METADATA_ENV = "GRANGE_METADATA"
_UNSET = object()


@dataclass
class Stores:
    """The datastore and metadata URL the client reads, opened on first use.

    ``root`` is a local directory or an ``s3://`` location; the local SQLite index
    of a remote datastore lives in this machine's cache (``root.index_dir``).
    """

    root: DatastoreLocation
    url: str
    s3: dict[str, object] = field(default_factory=dict, repr=False)  # a profile's [s3]
    _metadata: MetadataStore | None = field(default=None, repr=False)
    _blobs: BlobStore | None = field(default=None, repr=False)
    _cas: dict[str, ContentAddressedStore] = field(default_factory=dict, repr=False)
    # flows whose stored runs were compared with the index (grange.client.sync)
    synced: set[str] = field(default_factory=set, repr=False, compare=False)
    # the code package each run's claim records, by (flow, run id): Task.metadata and
    # Task.code of a run's many tasks read the claim once (grange.client.task)
    packages: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_local(self) -> bool:
        """True when the metadata is the datastore's own SQLite index."""
        from grange.metastore import sqlite_url

        return self.url == sqlite_url(self.root.index_dir)

    def describe(self) -> str:
        """``local@/abs/.grange`` or the database URL: what :func:`get_metadata` returns."""
        return f"local@{self.root}" if self.is_local else self.url

    def exists(self) -> bool:
        """False for a local store that has never been written to (no index, no runs)."""
        if not self.url.startswith("sqlite:///"):
            return True
        return Path(self.url[len("sqlite:///") :]).is_file() or (self.is_local and self._has_runs())

    @property
    def metadata(self) -> MetadataStore:
        """The metadata index; a missing local store is an :class:`ObjectNotFound`."""
        if self._metadata is None:
            if not self.exists():
                raise ObjectNotFound(
                    f"no grange runs are stored at {self.root}",
                    fix="run a flow first, or point the client at its store: "
                    "grange.metadata('local@/path/to/.grange') or GRANGE_DATASTORE_ROOT=...",
                )
            if self.is_local:
                from grange.reindex import open_local_index

                # A lost metadata.db is rebuilt from the records, which are the truth.
                index_dir = self.root.index_dir
                if not self.root.is_local:
                    self.root.make_index_dir()
                self._metadata = open_local_index(index_dir, self.blobs)
            else:
                from grange.metastore import MetadataStore

                self._metadata = MetadataStore.from_url(self.url)
        return self._metadata

    def _has_runs(self) -> bool:
        from grange.reindex import flows_in

        return bool(flows_in(self.blobs))

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            self._blobs = self.root.open(s3=self.s3 or None)
        return self._blobs

    def cas(self, flow: str) -> ContentAddressedStore:
        """The content-addressed artifact store of ``flow``."""
        store = self._cas.get(flow)
        if store is None:
            from grange.datastore import ContentAddressedStore

            store = self._cas[flow] = ContentAddressedStore(self.blobs, flow)
        return store


class _Settings:
    """The process-wide choices; ``None`` stores means "resolve on first use"."""

    def __init__(self) -> None:
        self.stores: Stores | None = None
        self.namespace: object = _UNSET


_settings = _Settings()


def current_stores() -> Stores:
    """The stores chosen with :func:`metadata`, else the default ones (resolved now)."""
    if _settings.stores is None:
        _settings.stores = _default_stores()
    return _settings.stores


def use_stores(root: Path | str | DatastoreLocation, url: str | None = None) -> Stores:
    """Read from ``root`` and the metadata at ``url`` (how the command line sets them).

    No ``url``, or ``"local"``, means the datastore's own SQLite index.
    """
    from grange.metastore import sqlite_url

    root = DatastoreLocation.of(root)
    if not url or url == "local":
        url = sqlite_url(root.index_dir)
    _settings.stores = Stores(root, url)
    return _settings.stores


def metadata(ms: str) -> str:
    """Read runs from another store; returns :func:`get_metadata`.

    ``ms`` (named as Metaflow's argument) is ``"local@/path/to/.grange"`` (or a path), ``"local"`` for the
    default local store, ``"profile:NAME"`` for a profile's stores, or a database URL: ``sqlite:///.../metadata.db``
    (its folder is the datastore root) or ``postgresql://...`` (artifacts are
    then read from ``GRANGE_DATASTORE_ROOT`` or the nearest ``.grange/``).
    """
    _settings.stores = _parse_spec(ms)
    return get_metadata()


def get_metadata() -> str:
    """The store the client reads, as ``local@/abs/path/.grange`` or a database URL."""
    return current_stores().describe()


def default_metadata() -> str:
    """Forget any :func:`metadata` choice and use the default store; returns it."""
    _settings.stores = _default_stores()
    return get_metadata()


def namespace(ns: str | None) -> str | None:
    """Only show runs tagged ``ns`` (``None``: every run); returns :func:`get_namespace`."""
    if ns is not None and (not isinstance(ns, str) or not ns):
        raise ClientError(
            f"a namespace is a non-empty tag such as 'user:ada', not {ns!r}",
            fix="pass None to see every run",
        )
    _settings.namespace = ns
    return get_namespace()


def get_namespace() -> str | None:
    """The namespace objects are filtered by (the default one until :func:`namespace`)."""
    if _settings.namespace is _UNSET:
        default_namespace()
    ns = _settings.namespace
    assert ns is None or isinstance(ns, str)
    return ns


def default_namespace() -> str:
    """Go back to the default namespace, ``user:<name>``, and return it."""
    from grange.current import current
    from grange.parameters import current_username

    ns = current.namespace if current.namespace else f"user:{current_username()}"
    _settings.namespace = ns
    return ns


def _parse_spec(spec: str) -> Stores:
    from grange.metastore import sqlite_url

    if not isinstance(spec, str) or not spec.strip():
        raise ClientError(
            f"cannot read runs from {spec!r}",
            fix="pass 'local@/path/to/.grange' or a database URL",
        )
    spec = spec.strip()
    if spec.startswith("profile:"):
        return _other_profile(spec[len("profile:") :])
    if spec == "local":
        root = _default_root()
        return Stores(root, sqlite_url(root.index_dir))
    provider, at, info = spec.partition("@")
    if at and provider.isidentifier():
        if provider != "local":
            raise ClientError(
                f"unknown metadata provider {provider!r} in {spec!r}",
                fix="use 'local@/path/to/.grange', sqlite:///... or postgresql://...",
            )
        root = DatastoreLocation.of(info)
        return Stores(root, sqlite_url(root.index_dir))
    if spec.startswith("sqlite:///"):
        return Stores(DatastoreLocation.of(Path(spec[len("sqlite:///") :]).parent), spec)
    if spec.startswith("s3://"):
        root = DatastoreLocation.of(spec)
        return Stores(root, sqlite_url(root.index_dir))
    if "://" in spec:
        return Stores(_default_root(), spec)
    root = DatastoreLocation.of(spec)
    return Stores(root, sqlite_url(root.index_dir))


def _default_root() -> DatastoreLocation:
    from grange.datastore.location import resolve_location

    return resolve_location(Path.cwd(), None, os.environ)


def _default_stores() -> Stores:
    """``GRANGE_DATASTORE_ROOT`` / ``GRANGE_METADATA``, else the profile in force's
    stores (``GRANGE_PROFILE``, else ``default_profile``), else the nearest .grange/."""
    from grange.config import resolve

    return _profile_stores(resolve(None, os.environ), os.environ)


def stores_for(
    profile: str | None,
    env: Mapping[str, str],
    cwd: Path | str,
    flags: Mapping[str, str | None] | None = None,
) -> Stores:
    """The stores a flow's command line uses when started in ``cwd`` with ``env``,
    ``--profile profile`` and the top-level ``flags`` (``datastore``,
    ``datastore_root``, ``metadata``): how :class:`grange.Runner` reads the run
    it started, wherever the client itself points."""
    from grange.config import resolve

    return _profile_stores(resolve(profile, env, flags=flags), env, Path(cwd))


def _profile_stores(
    effective: Effective, env: Mapping[str, str], cwd: Path | None = None
) -> Stores:
    from grange.datastore.location import resolve_location
    from grange.metastore import sqlite_url

    kind = effective.datastore
    root = resolve_location(
        cwd or Path.cwd(),
        effective.datastore_root.value,
        env,
        kind=kind.value if kind.source != "default" else None,
    )
    url = str(effective.metadata.value)
    if not url or url == "local":
        url = sqlite_url(root.index_dir)
    return Stores(root, url, s3=effective.s3_overrides())


def _other_profile(name: str) -> Stores:
    """The stores of profile ``name``, if the profile in force may read its runs.

    Under a profile, another one's runs are readable only when its policy lists
    the other in ``readable_profiles``; without a profile, any (the credentials
    of its stores decide, as always).
    """
    from grange.config import PROFILE_ENV, active, resolve_profile, without_stores
    from grange.exceptions import PolicyError

    # The environment's stores are this profile's (a run exports them to its tasks):
    # they must not stand in for the other profile's.
    other = resolve_profile(name)  # an unknown name is said first, with the profiles there are
    current = active()
    here = current.profile_name
    if here is not None and name != here and name not in current.policy.readable_profiles:
        rule = current.policy.rules.get("readable_profiles")
        written = rule.as_written() if rule else "readable_profiles is not set (no other profile)"
        raise PolicyError(
            f"profile {here!r} may not read the runs of profile {name!r}: {written}",
            file=rule.file if rule else current.config_file,
            line=rule.line if rule else None,
            fix=f"add {name!r} to readable_profiles in [profiles.{here}.policy], or work under "
            f"profile {name!r} itself (--profile {name} / {PROFILE_ENV}={name})",
        )
    return _profile_stores(other, without_stores(os.environ))
