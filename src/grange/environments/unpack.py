"""Unpacking a code package once per machine, safely when many processes race.

A package is unpacked into ``<base>/<sha256>``, where ``<base>`` is
``$GRANGE_CODE_DIR``, else ``<grange cache>/code`` (``$GRANGE_CACHE_DIR``, else
``$XDG_CACHE_HOME/grange``, else ``~/.cache/grange``). The folder appears
whole or not at all: the archive goes into a fresh temporary folder beside
it, which is then renamed into place. Pods on one node that unpack the same
package at once each unpack their own copy, one rename wins, the others throw
theirs away. A folder that exists is complete and is used as it is.

Only regular files are extracted, under the folder (no absolute paths, no
``..``, no links): a package is data, even one from a store someone else can
write to.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
from collections.abc import Mapping
from pathlib import Path

CODE_DIR_ENV = "GRANGE_CODE_DIR"
CACHE_ENV = "GRANGE_CACHE_DIR"  # as grange.datastore.location (kept light: no import)


def code_base(env: Mapping[str, str] | None = None) -> Path:
    """Where packages are unpacked on this machine, one folder per sha256."""
    env = os.environ if env is None else env
    if env.get(CODE_DIR_ENV):
        return Path(os.path.expanduser(env[CODE_DIR_ENV])).absolute()
    if env.get(CACHE_ENV):
        return Path(os.path.expanduser(env[CACHE_ENV])).absolute() / "code"
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base).absolute() / "grange" / "code"


def unpacked_dir(sha: str, env: Mapping[str, str] | None = None) -> Path:
    return code_base(env) / sha


def unpack(data: bytes, target: Path) -> Path:
    """Unpack the package ``data`` at ``target`` unless it is there; ``target``."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f".{target.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        temp.mkdir()
        extract_all(data, temp)
        try:
            os.rename(temp, target)
        except OSError:
            if not target.is_dir():  # not a lost race: a real failure
                raise
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)
    return target


def extract_all(data: bytes, folder: Path, *, replace: bool = False) -> None:
    """Extract the regular files of the archive ``data`` under ``folder``; anything
    else, or a path that would leave the folder, is a ``ValueError``. A file there
    already is an error unless ``replace``."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive:
            name = member.name
            parts = name.split("/")
            if (
                not member.isfile()
                or name.startswith("/")
                or any(p in ("", ".", "..") for p in parts)
            ):
                raise ValueError(f"the package holds an entry that is not a plain file: {name!r}")
            source = archive.extractfile(member)
            if source is None:
                raise ValueError(f"the package's entry {name!r} has no data")
            path = folder.joinpath(*parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            if replace and path.is_symlink():
                path.unlink()
            with contextlib.closing(source), open(path, "wb" if replace else "xb") as out:
                shutil.copyfileobj(source, out)
            os.chmod(path, 0o755 if member.mode & 0o100 else 0o644)
