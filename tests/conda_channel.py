"""A local conda channel for the ``@conda`` tests: no conda channel is reachable from the
test machines, so the tests build their own, by hand, and index it with py-rattler.

:func:`build_channel` writes ``.tar.bz2`` packages (``info/index.json``,
``info/paths.json``, ``info/files``, ``info/link.json`` for ``noarch: python``, the
payload under ``site-packages/``) into ``<root>/<subdir>/`` and runs
``rattler.index.index_fs`` over ``root`` (``noarch/`` and the host's subdir always
exist, even empty: the solver asks for both). It returns the channel's ``file://`` URL.

The default packages (:func:`default_packages`):

- ``python``: a STUB, FOR TESTS ONLY. A real CPython conda package is ~30 MB and comes
  from conda-forge; this one makes the conda prefix a *venv of the interpreter running
  the tests* (``pyvenv.cfg`` with ``include-system-site-packages = false``, an empty
  ``lib/pythonX.Y/site-packages`` and ``bin/python``, ``bin/python3``,
  ``bin/pythonX.Y`` symlinks to the host interpreter). Its version is the host's
  ``x.y.z`` and its subdir the host's (``linux-64`` here). Real ``@conda``
  environments get Python from the channel; nothing here exercises conda-forge.
- ``click`` and ``pathspec``: grange's task-path dependencies, repackaged from the
  host's installed distributions as ``noarch: python`` packages (the runtime's shim
  provides them too; these let an environment stand on its own).
- ``grange-testscript`` 1.0: ``bin/grange-testscript`` (prints ``sys.prefix``) and
  ``share/grange-testscript/prefix.txt`` hold conda's prefix placeholder, replaced
  by the installed prefix (what makes a conda environment not relocatable).
- ``grange-testpkg`` 1.0 and 2.0: a pure-Python package, module ``grange_testpkg``
  (``VERSION``, ``WHERE`` = the file it was imported from; ``python -m
  grange_testpkg`` prints ``grange-testpkg <version> from <path>``).

:func:`session_channel` builds that channel once per test session and hands the same
URL to every caller (the packages are deterministic: same bytes every build);
:func:`session_settings` gives ``EnvSettings`` solving from it, with one cache for the
session (:func:`session_cache`).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import io
import json
import os
import sys
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grange.environments.settings import EnvSettings

PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"  # conda's stand-in for the prefix
TIMESTAMP_MS = 1_700_000_000_000  # fixed: the same packages every build
HOST_PYTHON = "{}.{}.{}".format(*sys.version_info[:3])
HOST_XY = "{}.{}".format(*sys.version_info[:2])


@dataclass(frozen=True)
class Package:
    """One conda package to write: ``files`` are payload paths (relative to the prefix,
    or to site-packages with ``noarch="python"``, then prefixed ``site-packages/``) to
    bytes, ``symlinks`` paths to their targets."""

    name: str
    version: str
    build: str = "0"
    subdir: str = "noarch"
    files: Mapping[str, bytes] = field(default_factory=dict)
    symlinks: Mapping[str, str] = field(default_factory=dict)
    depends: tuple[str, ...] = ()
    noarch: str | None = None  # "python" | "generic" | None
    # files (keys of ``files``) holding PLACEHOLDER, which conda replaces by the prefix
    prefixed: frozenset[str] = frozenset()

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.build}.tar.bz2"


def host_subdir() -> str:
    """The conda subdir of this machine (``linux-64``, ``osx-arm64``...)."""
    import rattler

    return str(rattler.Subdir.current())


def python_stub(subdir: str | None = None) -> Package:
    """The TEST-ONLY ``python`` package: the prefix becomes a venv of this interpreter."""
    host = os.path.realpath(sys.executable)
    cfg = (
        f"home = {os.path.dirname(host)}\n"
        "include-system-site-packages = false\n"
        f"version = {HOST_PYTHON}\n"
    )
    return Package(
        name="python",
        version=HOST_PYTHON,
        build="grange_test_stub_0",
        subdir=subdir or host_subdir(),
        files={"pyvenv.cfg": cfg.encode(), f"lib/python{HOST_XY}/site-packages/.keep": b""},
        symlinks={"bin/python": host, "bin/python3": "python", f"bin/python{HOST_XY}": "python"},
    )


def noarch_python(
    name: str, version: str, modules: Mapping[str, str | bytes], depends: Iterable[str] = ()
) -> Package:
    """A ``noarch: python`` package whose site-packages gets ``modules`` (path -> text)."""
    files = {
        f"site-packages/{path}": data.encode() if isinstance(data, str) else data
        for path, data in modules.items()
    }
    return Package(
        name=name,
        version=version,
        build="py_0",
        files=files,
        depends=("python", *depends),
        noarch="python",
    )


def testpkg(version: str) -> Package:
    """``grange-testpkg`` at ``version``: module ``grange_testpkg``."""
    init = f'"""grange-testpkg {version}, from the local test channel."""\n\nVERSION = {version!r}\nWHERE = __file__\n'
    main = 'import grange_testpkg as m\n\nprint(f"grange-testpkg {m.VERSION} from {m.WHERE}")\n'
    return noarch_python(
        "grange-testpkg",
        version,
        {"grange_testpkg/__init__.py": init, "grange_testpkg/__main__.py": main},
    )


def repackaged(dist_name: str) -> Package:
    """The host's installed pure-Python distribution ``dist_name`` as a noarch package."""
    dist = importlib.metadata.distribution(dist_name)
    files: dict[str, bytes] = {}
    for entry in dist.files or ():
        if entry.suffix == ".pyc" or "__pycache__" in entry.parts or ".." in entry.parts:
            continue
        located = Path(str(dist.locate_file(entry)))
        if located.is_file():
            files[entry.as_posix()] = located.read_bytes()
    return noarch_python(dist.metadata["Name"].lower(), dist.version, files)


def testscript() -> Package:
    """``grange-testscript``: a script and a text file holding the prefix, as conda
    packages built elsewhere do (conda writes the installed prefix into them)."""
    script = f"#!{PLACEHOLDER}/bin/python\nimport sys\n\nprint(sys.prefix)\n"
    return Package(
        name="grange-testscript",
        version="1.0",
        build="0",
        files={
            "bin/grange-testscript": script.encode(),
            "share/grange-testscript/prefix.txt": f"{PLACEHOLDER}\n".encode(),
        },
        depends=("python",),
        prefixed=frozenset({"bin/grange-testscript", "share/grange-testscript/prefix.txt"}),
        subdir=host_subdir(),
    )


def default_packages() -> list[Package]:
    return [
        python_stub(),
        testpkg("1.0"),
        testpkg("2.0"),
        testscript(),
        repackaged("click"),
        repackaged("pathspec"),
    ]


def write_package(root: Path, package: Package) -> Path:
    """Write ``package`` as ``<root>/<subdir>/<name>-<version>-<build>.tar.bz2``."""
    index: dict[str, object] = {
        "name": package.name,
        "version": package.version,
        "build": package.build,
        "build_number": 0,
        "depends": list(package.depends),
        "license": "MIT",
        "subdir": package.subdir,
        "timestamp": TIMESTAMP_MS,
    }
    if package.noarch:
        index["noarch"] = package.noarch
    paths: list[dict[str, object]] = []
    for rel, data in sorted(package.files.items()):
        entry: dict[str, object] = {
            "_path": rel,
            "path_type": "hardlink",
            "sha256": hashlib.sha256(data).hexdigest(),
            "size_in_bytes": len(data),
        }
        if rel in package.prefixed:
            entry.update(file_mode="text", prefix_placeholder=PLACEHOLDER)
        paths.append(entry)
    paths += [
        {
            "_path": rel,
            "path_type": "softlink",
            "sha256": hashlib.sha256(target.encode()).hexdigest(),
            "size_in_bytes": len(target),
        }
        for rel, target in sorted(package.symlinks.items())
    ]
    meta = {
        "info/index.json": json.dumps(index, indent=2, sort_keys=True).encode(),
        "info/paths.json": json.dumps({"paths": paths, "paths_version": 1}, indent=2).encode(),
        "info/files": "".join(f"{p['_path']}\n" for p in paths).encode(),
    }
    if package.noarch == "python":
        link = {"noarch": {"type": "python"}, "package_metadata_version": 1}
        meta["info/link.json"] = json.dumps(link).encode()
    out = root / package.subdir / package.filename
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:bz2") as tar:
        for rel, data in sorted({**package.files, **meta}.items()):
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            info.mode = 0o755 if rel.startswith("bin/") else 0o644
            tar.addfile(info, io.BytesIO(data))
        for rel, target in sorted(package.symlinks.items()):
            info = tarfile.TarInfo(rel)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return out


def build_channel(root: Path, packages: Iterable[Package] | None = None) -> str:
    """Write ``packages`` (default: :func:`default_packages`) into the channel folder
    ``root``, index it, and return its ``file://`` URL."""
    from rattler.index import index_fs

    root.mkdir(parents=True, exist_ok=True)
    for subdir in ("noarch", host_subdir()):
        (root / subdir).mkdir(exist_ok=True)
    for package in default_packages() if packages is None else packages:
        write_package(root, package)
    asyncio.run(index_fs(root, force=True))
    return root.resolve().as_uri()


_SESSION: dict[str, str] = {}


def session_channel(factory: pytest.TempPathFactory) -> str:
    """The default channel, built once per test session (every caller gets its URL)."""
    if "url" not in _SESSION:
        _SESSION["url"] = build_channel(factory.mktemp("conda-channel"))
    return _SESSION["url"]


def session_cache(factory: pytest.TempPathFactory) -> Path:
    """One environments cache for the session's conda tests (rattler's repodata and
    package caches fill once), never the user's ~/.cache."""
    if "cache" not in _SESSION:
        _SESSION["cache"] = str(factory.mktemp("conda-env-cache"))
    return Path(_SESSION["cache"])


def session_settings(factory: pytest.TempPathFactory, **changes: Any) -> EnvSettings:
    """Environment settings solving from the session's channel, in the session's cache
    (``changes``: other fields, e.g. ``channels=...``, ``offline=True``)."""
    fields: dict[str, Any] = {
        "cache_dir": session_cache(factory),
        "channels": (session_channel(factory),),
    }
    return EnvSettings(**{**fields, **changes})
