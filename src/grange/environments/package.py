"""The code package: the flow's directory and grange itself, packed deterministically.

``PackageRef`` is what a run records about its package (in its claim's
``extra["code_package"]``) and what a pod is told (``GRANGE_CODE_PACKAGE_*``):
where the bytes are, their sha256, and the flow file's path inside the package.

Packages are stored content-addressed beside the flow's artifacts, at
``<Flow>/data/<sha[:2]>/<sha256>`` (a sha256 is 64 hex digits, an artifact's
sha1 40: the two never meet), written only when absent and checked against
their sha256 whenever read. :func:`package_flow` builds and stores one;
:func:`fetch_package` reads one back from its ref alone (a pod, the client).
What goes in and how the bytes are made: :mod:`~grange.environments.select`
and :mod:`~grange.environments.archive`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grange.exceptions import BlobNotFound, DatastoreError

if TYPE_CHECKING:
    from grange.datastore import BlobStore, DatastoreLocation
    from grange.environments.select import Selection


@dataclass(frozen=True)
class PackageRef:
    """Where a code package is stored and how to run from it."""

    url: str  # the blob's full location: an s3:// URL or an absolute local path
    sha: str  # sha256 of the package's bytes, hex
    flow_file: str  # the flow file's path inside the package, e.g. "flows/train.py"
    size: int = 0
    grange_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "sha": self.sha,
            "flow_file": self.flow_file,
            "size": self.size,
            "grange_version": self.grange_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PackageRef:
        return cls(
            url=str(data["url"]),
            sha=str(data["sha"]),
            flow_file=str(data["flow_file"]),
            size=int(data.get("size") or 0),
            grange_version=str(data.get("grange_version") or ""),
        )


ENV_URL = "GRANGE_CODE_PACKAGE_URL"
ENV_SHA = "GRANGE_CODE_PACKAGE_SHA"
ENV_FLOW_FILE = "GRANGE_CODE_PACKAGE_FLOW_FILE"


def ref_from_env(env: Mapping[str, str] | None = None) -> PackageRef | None:
    """The package this process runs from, as the bootstrap says in the environment
    (``GRANGE_CODE_PACKAGE_URL``, ``_SHA``, ``_FLOW_FILE``); ``None`` outside a package.
    A run claimed in a pod (Argo's start step) records it with this."""
    env = os.environ if env is None else env
    url, sha, flow_file = env.get(ENV_URL), env.get(ENV_SHA), env.get(ENV_FLOW_FILE)
    if not (url and sha and flow_file):
        return None
    return PackageRef(url=url, sha=sha, flow_file=flow_file)


@dataclass(frozen=True)
class Package:
    """A built package: its bytes, their sha256, and what went in."""

    data: bytes
    sha: str
    flow_file: str
    selection: Selection

    @property
    def size(self) -> int:
        return len(self.data)


def package_key(flow_name: str, sha: str) -> str:
    """Where the package ``sha`` of ``flow_name`` is stored in a datastore."""
    return f"{flow_name}/data/{sha[:2]}/{sha}"


def build_package(
    flow_file: str,
    flow_name: str,
    suffixes: Sequence[str] = (),
    *,
    exclude: Sequence[str] = (),
) -> Package:
    """Build (not store) the package of ``flow_file``'s directory; ``exclude``: folders
    never to enter (a local datastore root inside the directory)."""
    from grange.environments.archive import build_archive
    from grange.environments.select import select_files

    selection = select_files(flow_file, suffixes, exclude=exclude)
    data = build_archive(selection, flow_name)
    return Package(data, hashlib.sha256(data).hexdigest(), selection.flow_file, selection)


def store_package(
    blobs: BlobStore, location: DatastoreLocation, flow_name: str, package: Package
) -> PackageRef:
    """Store ``package`` in ``blobs`` (the store of ``location``) unless it is there.

    A local copy is checked (cheap) and replaced if damaged; a remote one is
    trusted when its size matches, since reading it back would cost a download
    on every run (readers check the sha256 anyway).
    """
    from grange._version import __version__

    key = package_key(flow_name, package.sha)
    try:
        stored: int | None = blobs.size(key)  # one request on S3
    except BlobNotFound:
        stored = None
    try:
        if stored is None:
            blobs.put_bytes(key, package.data)  # a concurrent run's identical put may win
        elif stored != package.size or (location.is_local and not _intact(blobs, key, package.sha)):
            blobs.put_bytes(key, package.data, overwrite=True)  # damaged: replaced atomically
    except OSError as err:  # a full disk, a read-only store
        from grange.datastore.errors import write_error

        raise write_error(err, "the code package", blobs.describe()) from None
    url = str(location.path / key) if location.is_local else blobs.url(key)
    return PackageRef(
        url=url,
        sha=package.sha,
        flow_file=package.flow_file,
        size=package.size,
        grange_version=__version__,
    )


def package_flow(
    flow_file: str,
    location: DatastoreLocation,
    flow_name: str,
    suffixes: Sequence[str] = (),
) -> PackageRef:
    """Build the code package of ``flow_file`` and store it in ``location``; its ref."""
    exclude = [str(location.path)] if location.is_local else []
    package = build_package(flow_file, flow_name, suffixes, exclude=exclude)
    return store_package(location.open(), location, flow_name, package)


def fetch_package(ref: PackageRef) -> bytes:
    """The bytes of the package ``ref`` names, checked against its sha256.

    A missing package, damaged bytes or a store that cannot be read are
    :class:`~grange.exceptions.DatastoreError` s that say which package and where.
    """
    if ref.url.startswith("s3://"):
        data = _fetch_s3(ref)
    else:
        try:
            with open(ref.url, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise _missing(ref) from None
        except OSError as err:
            raise DatastoreError(
                f"cannot read the code package {ref.url}: {err.strerror or err}",
                fix="check that this machine can read the datastore the run was started with",
            ) from None
    check_package(data, ref)
    return data


def read_package(blobs: BlobStore, flow_name: str, ref: PackageRef) -> bytes | None:
    """The package of ``ref`` from ``blobs`` (a reader's own datastore, which may have
    moved since the run), checked; ``None`` if it is not there."""
    try:
        data = blobs.get_bytes(package_key(flow_name, ref.sha))
    except BlobNotFound:
        return None
    check_package(data, ref)
    return data


def check_package(data: bytes, ref: PackageRef) -> None:
    """Refuse bytes that are not the package ``ref`` names."""
    got = hashlib.sha256(data).hexdigest()
    if got != ref.sha:
        sizes = f"; {len(data)} bytes, {ref.size} expected" if ref.size else ""
        raise DatastoreError(
            f"the code package {ref.url} is damaged: its sha256 is {got}, not {ref.sha}{sizes}",
            fix="run the flow again from the same files: that stores the package anew",
        )


def _intact(blobs: BlobStore, key: str, sha: str) -> bool:
    return hashlib.sha256(blobs.get_bytes(key)).hexdigest() == sha


def _fetch_s3(ref: PackageRef) -> bytes:
    from grange.datastore import DatastoreLocation

    root, key = split_url(ref.url)
    try:
        return DatastoreLocation.of(root).open().get_bytes(key)
    except BlobNotFound:
        raise _missing(ref) from None


def split_url(url: str) -> tuple[str, str]:
    """``(datastore root, key)`` of a package's URL: the key is its last four parts
    (``<Flow>/data/<xx>/<sha>``), the root what comes before them."""
    scheme, sep, rest = url.partition("://")
    parts = rest.split("/")
    if len(parts) < 5 or parts[-3] != "data":
        raise DatastoreError(
            f"{url} is not the URL of a code package (<root>/<Flow>/data/<xx>/<sha256>)",
            fix="pass the url of a PackageRef, as a run records it",
        )
    return scheme + sep + "/".join(parts[:-4]), "/".join(parts[-4:])


def _missing(ref: PackageRef) -> DatastoreError:
    return DatastoreError(
        f"the code package {ref.url} does not exist",
        fix="the datastore it was stored in was moved or cleaned: run the flow again "
        "(or deploy it again) to store its package",
    )


class PackageInBackground:
    """Build a run's package in a thread while the run starts up, and store it once
    the run's datastore is open (:meth:`store_in`).

    :meth:`result` waits for it. A flow's directory that cannot be packed is
    not an error here: a local run goes on without a package, and says why
    (what needs a package, a pod, builds it with :func:`package_flow` and
    fails there).
    """

    def __init__(
        self,
        flow_file: str,
        flow_name: str,
        suffixes: Sequence[str],
        location: DatastoreLocation,
    ) -> None:
        import threading

        self._ref: PackageRef | None = None
        self._package: Package | None = None
        self._error: BaseException | None = None
        self._blobs: list[BlobStore] = []
        self._opened = threading.Event()

        def work() -> None:
            try:
                exclude = [str(location.path)] if location.is_local else []
                self._package = build_package(flow_file, flow_name, suffixes, exclude=exclude)
                self._opened.wait()
                if self._blobs:  # not when the run ended before its datastore opened
                    self._ref = store_package(self._blobs[0], location, flow_name, self._package)
            except BaseException as err:  # handed to result()
                self._error = err

        self._thread = threading.Thread(target=work, name="grange-code-package", daemon=True)
        self._thread.start()

    def store_in(self, blobs: BlobStore) -> None:
        """The run's datastore is open: store the package there."""
        self._blobs.append(blobs)
        self._opened.set()

    def close(self) -> None:
        """The run is over (or never started): a package not stored by now never will
        be; let the thread end rather than wait for a datastore forever."""
        self._opened.set()

    def result(self) -> tuple[PackageRef | None, list[str]]:
        """The package's ref (``None`` if there is none) and what to tell the user:
        why there is none, or which links it left out. An error that is not a
        user's to fix is raised."""
        if not self._opened.is_set():
            raise RuntimeError("PackageInBackground.result() before store_in()")
        self._thread.join()
        from grange.exceptions import GrangeError

        if isinstance(self._error, GrangeError):
            fix = f" ({self._error.fix})" if self._error.fix else ""
            return None, [f"the run records no code package: {self._error.message}{fix}"]
        if self._error is not None:
            raise self._error
        notes = []
        if self._package is not None:
            notes = [
                f"the code package leaves out {s.name}: {s.reason}"
                for s in self._package.selection.skipped
                if "outside the flow's directory" in s.reason
            ]
        return self._ref, notes
