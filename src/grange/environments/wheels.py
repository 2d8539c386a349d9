"""A lock's packages in the datastore, so that a pod rebuilds its environment with no
package index at all (the profile's ``[environments] wheels_in_datastore = true``).

:func:`store_packages` downloads each package the lock names (its ``url``) once and
stores it at ``envs/packages/<sha256>/<filename>`` in the datastore: write-once,
checked against the lock's ``sha256`` before it is stored; packages there already
are not downloaded again. :func:`fetch_packages` copies them from the datastore into
a folder (checked again), and :func:`local_lock` is the lock with those files'
paths in place of their URLs (``uv pip sync`` of a ``pylock.toml`` installs a
wheel from its ``url`` or ``path``, never from ``--find-links``), which a pod
installs with no index and no network.

For a ``pypi`` lock, the files are every wheel its ``pylock.toml`` lists (and the
source archive of a package without wheels); for another kind, the ``url`` and
``sha256`` of each of its ``packages``.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from grange.environments.envlock import EnvLock
from grange.exceptions import BlobNotFound, EnvError

PREFIX = "envs/packages"
FIX_STORE = (
    "deploy or run the flow again with wheels_in_datastore = true: that stores the "
    "packages of its locks anew"
)

Download = Callable[[str], bytes]


def package_key(sha256: str, filename: str) -> str:
    return f"{PREFIX}/{sha256}/{filename}"


def packages_of(lock: EnvLock) -> list[tuple[str, str, str, str]]:
    """``(name, url, sha256, filename)`` of each file of ``lock``; a package the lock
    gives no url or sha256 for cannot be stored (an :class:`EnvError` naming it)."""
    out = []
    for name, url, sha in _files(lock):
        filename = posixpath.basename(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
        if not url or len(sha) != 64 or not filename or filename.startswith("."):
            raise EnvError(
                f"the lock {lock.sha[:12]} gives no url and sha256 for package {name!r}: it "
                "cannot be stored in the datastore for pods",
                fix="set wheels_in_datastore = false in the profile's [environments] table "
                "(pods then install from the index)",
            )
        out.append((name, url, sha, filename))
    return out


def _files(lock: EnvLock) -> list[tuple[str, str, str]]:
    if lock.kind != "pypi":
        return [
            (str(p.get("name") or "?"), str(p.get("url") or ""), str(p.get("sha256") or ""))
            for p in lock.packages
        ]
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    try:
        entries = tomllib.loads(lock.text).get("packages") or []
    except tomllib.TOMLDecodeError as err:
        raise EnvError(
            f"the lock {lock.sha[:12]} is not a pylock.toml ({err})",
            fix="run or deploy the flow again: that resolves its environments anew",
        ) from None
    out = []
    for entry in entries:
        name = str(entry.get("name") or "?")
        sources = list(entry.get("wheels") or []) or [entry.get("sdist") or {}]
        for source in sources:
            sha = str((source.get("hashes") or {}).get("sha256") or "").lower()
            out.append((name, str(source.get("url") or ""), sha))
    return out


def local_lock(lock: EnvLock, folder: Path) -> EnvLock:
    """``lock`` installing its files from ``folder`` (where :func:`fetch_packages` put
    them): each stored file's ``url`` in the ``pylock.toml`` becomes its ``path``."""
    text = lock.text
    for _name, url, _sha, filename in packages_of(lock):
        text = text.replace(
            f"url = {json.dumps(url)}", f"path = {json.dumps(str(folder / filename))}"
        )
    return replace(lock, text=text)


def store_packages(blobs: Any, lock: EnvLock, *, download: Download | None = None) -> list[str]:
    """Store every package of ``lock`` in ``blobs`` (a BlobStore) unless it is there;
    return their keys. A download whose sha256 is not the lock's is an EnvError."""
    get = download or _download
    keys = []
    for name, url, sha, filename in packages_of(lock):
        key = package_key(sha, filename)
        keys.append(key)
        if blobs.exists(key):
            continue
        try:
            data = get(url)
        except (OSError, ValueError) as err:
            raise EnvError(
                f"cannot download package {name!r} of the lock {lock.sha[:12]} from {url}: "
                f"{getattr(err, 'reason', None) or err}",
                fix="check this machine's access to the index, or set wheels_in_datastore "
                "= false in the profile's [environments] table",
            ) from None
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            raise EnvError(
                f"package {name!r} downloaded from {url} has sha256 {got}, the lock says {sha}",
                fix="the index serves another file than when the lock was made: resolve the "
                "environment again (change its requirements, or clear the lock cache)",
            )
        try:
            blobs.put_bytes(key, data)  # a concurrent identical put may win: same bytes
        except OSError as err:
            from grange.datastore.errors import write_error

            raise write_error(err, f"package {filename}", blobs.describe()) from None
    return keys


def fetch_packages(blobs: Any, lock: EnvLock, folder: Path) -> Path:
    """Every package of ``lock`` from ``blobs`` into ``folder`` (kept across pods: a file
    there was checked before it was renamed into place). A package missing from the
    datastore, or damaged, is an EnvError naming it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, _url, sha, filename in packages_of(lock):
        target = folder / filename
        if target.is_file():
            continue
        key = package_key(sha, filename)
        try:
            data = blobs.get_bytes(key)
        except BlobNotFound:
            raise EnvError(
                f"package {name!r} ({filename}) of the lock {lock.sha[:12]} is not in the "
                f"datastore ({blobs.url(key)})",
                fix=FIX_STORE,
            ) from None
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            raise EnvError(
                f"package {name!r} in the datastore ({blobs.url(key)}) is damaged: its "
                f"sha256 is {got}, the lock says {sha}",
                fix=f"delete it from the datastore, then {FIX_STORE}",
            )
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return folder


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        data: bytes = response.read()
    return data
