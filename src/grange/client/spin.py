"""``inspect_spin()``: read the steps ``spin`` re-ran instead of real runs.

As Metaflow's ``inspect_spin``, it switches the client, for this process, to
the spin store (:mod:`grange.datastore.spin`): ``Flow("TrainFlow").runs()``
then lists the spin runs (``spin-1``, ``spin-2``, ...), each with the one
step it re-ran, and their artifacts, logs and cards read as usual
(inherited artifacts from the original datastore). ``default_metadata()``
goes back to real runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grange.client.config import Stores, _settings, current_stores, get_metadata
from grange.datastore.location import DatastoreLocation
from grange.datastore.root import find_datastore_root
from grange.datastore.s3.url import is_s3_url
from grange.datastore.spin import SPIN_DIR, SpinBlobStore, read_origin, spin_location
from grange.exceptions import ObjectNotFound


@dataclass
class SpinStores(Stores):
    """The spin store of datastore ``origin``, read over it."""

    origin: DatastoreLocation | None = None

    def exists(self) -> bool:
        return self.root.is_local and (self.root.path / "metadata.db").is_file()

    @property
    def metadata(self):  # type: ignore[no-untyped-def]  # the base's type
        if self._metadata is None and not self.exists():
            raise ObjectNotFound(
                f"no step of {self.origin} was spun: there is no spin store at {self.root}",
                fix="spin a step first: python flow.py spin STEP",
            )
        return super().metadata


def inspect_spin(datastore_root: str | Path | None = None) -> str:
    """Read spin runs from now on in this process; returns :func:`get_metadata`.

    ``datastore_root`` is the datastore whose spins to read (``/path/.grange`` or an
    ``s3://`` root), or a directory holding it (``"."``, as in Metaflow, finds
    ``./.grange``); by default the one the client reads now.
    """
    origin = _origin(datastore_root)
    current = _settings.stores
    _settings.stores = spin_stores(origin, current.s3 if current is not None else {})
    return get_metadata()


def spin_stores(origin: DatastoreLocation, s3: dict[str, object] | None = None) -> SpinStores:
    """The stores of datastore ``origin``'s spins (``s3``: its S3 settings), to pass
    as ``_stores=`` to the client's objects without switching the whole client."""
    location = spin_location(origin)
    stores = SpinStores(location, _index_url(location), s3=dict(s3 or {}), origin=origin)
    stores._blobs = SpinBlobStore(location.open(), origin.open(s3=s3 or None))
    return stores


def _index_url(location: DatastoreLocation) -> str:
    from grange.metastore import sqlite_url

    return sqlite_url(location.index_dir)


def _origin(given: str | Path | None) -> DatastoreLocation:
    if given is None:
        current = current_stores()
        return (
            current.origin if isinstance(current, SpinStores) and current.origin else current.root
        )
    if is_s3_url(str(given)):
        return DatastoreLocation.of(str(given))
    path = Path(given).expanduser().absolute()
    if not path.exists():
        raise ObjectNotFound(
            f"inspect_spin: no such folder {path}",
            fix="give the datastore whose spins to read (its .grange folder, a folder "
            "holding it, or an s3:// root), or nothing for the one the client reads",
        )
    if path.name == SPIN_DIR and path.is_dir():  # the spin store itself
        from grange.datastore.local import LocalBlobStore

        recorded = read_origin(LocalBlobStore(str(path)))
        return recorded if recorded is not None else DatastoreLocation.of(path.parent)
    if (path / SPIN_DIR).is_dir() or (path / "metadata.db").is_file():
        return DatastoreLocation.of(path)
    return DatastoreLocation.of(find_datastore_root(path, None, {}))
