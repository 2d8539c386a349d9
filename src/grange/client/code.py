"""``run.code``: the code package a run was started from, as Metaflow's ``MetaflowCode``.

Every ``run`` and ``resume`` records its package in the run's claim
(``extra["code_package"]``, a :class:`~grange.environments.package.PackageRef`);
runs from before code packages have none, and ``run.code`` is then ``None``.
The bytes are read on first use, from the reader's own datastore when it holds
them (a datastore that moved since the run), else from where the run stored
them, and always checked against the package's sha256.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from grange.datastore import BlobStore
from grange.environments.package import PackageRef, fetch_package, read_package


class CodePackage:
    """The flow's directory and grange's source, as packed when the run started."""

    def __init__(self, ref: PackageRef, flow: str, blobs: BlobStore | None = None) -> None:
        self._ref = ref
        self._flow = flow
        self._blobs = blobs
        self._data: bytes | None = None

    def __repr__(self) -> str:
        return f"<CodePackage {self._flow} {self._ref.sha[:12]} ({self._ref.flow_file})>"

    @property
    def ref(self) -> PackageRef:
        """What the run recorded: where, sha256, flow file, size, grange version."""
        return self._ref

    @property
    def path(self) -> str:
        """Where the package is stored: an ``s3://`` URL or a local path."""
        return self._ref.url

    @property
    def sha(self) -> str:
        """The package's sha256, which names it in the datastore."""
        return self._ref.sha

    @property
    def flow_file(self) -> str:
        """The flow file's path inside the package."""
        return self._ref.flow_file

    @property
    def script_name(self) -> str:
        """The flow file's name (as Metaflow's ``MetaflowCode.script_name``)."""
        return self._ref.flow_file.rsplit("/", 1)[-1]

    @property
    def blob(self) -> bytes:
        """The package's bytes (a gzipped tar), checked against its sha256."""
        if self._data is None:
            data = None
            if self._blobs is not None:
                data = read_package(self._blobs, self._flow, self._ref)
            self._data = data if data is not None else fetch_package(self._ref)
        return self._data

    @property
    def tarball(self) -> tarfile.TarFile:
        """The package opened as a ``tarfile.TarFile`` (a new one on every access)."""
        return tarfile.open(fileobj=io.BytesIO(self.blob), mode="r:gz")

    def _read(self, name: str) -> bytes:
        with self.tarball as archive:
            try:
                member = archive.extractfile(name)
            except KeyError:
                member = None
            if member is None:
                raise KeyError(f"the code package {self.path} holds no file {name!r}")
            with member:
                return member.read()

    @property
    def flowspec(self) -> str:
        """The text of the flow file, as it was when the run started."""
        return self._read(self._ref.flow_file).decode("utf-8", errors="replace")

    @property
    def info(self) -> dict[str, Any]:
        """The package's INFO.json: grange and Python versions, flow name and file."""
        info: dict[str, Any] = json.loads(self._read("INFO.json"))
        return info

    def extract(self, path: str | Path | None = None) -> Path | tempfile.TemporaryDirectory[str]:
        """Unpack the package into ``path`` (created if needed) and return it as a
        ``Path``; without ``path``, into a new ``tempfile.TemporaryDirectory``, which is
        returned (as Metaflow's ``extract()``: its ``.name`` is the folder; it is
        removed when the object is cleaned up)."""
        from grange.environments.unpack import extract_all

        if path is None:
            temp = tempfile.TemporaryDirectory(prefix="grange-code-")
            extract_all(self.blob, Path(temp.name))
            return temp
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        extract_all(self.blob, folder, replace=True)
        return folder


def code_of(extra: dict[str, Any], flow: str, blobs: BlobStore | None) -> CodePackage | None:
    """The package a run's claim records, else ``None``."""
    data = extra.get("code_package")
    if not isinstance(data, dict):
        return None
    try:
        ref = PackageRef.from_dict(data)
    except (KeyError, TypeError, ValueError):
        return None
    return CodePackage(ref, flow, blobs)
