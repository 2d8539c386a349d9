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
import http.client
import json
import os
import posixpath
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

from grange.environments.envlock import EnvLock
from grange.exceptions import BlobNotFound, EnvError

PREFIX = "envs/packages"
FIX_STORE = (
    "deploy or run the flow again with wheels_in_datastore = true: that stores the "
    "packages of its locks anew"
)

#: A package's bytes at a URL: all at once, or in chunks.
Download = Callable[[str], "bytes | Iterable[bytes]"]
CHUNK = 1 << 20
TRIES = 3
WAIT = 1.0  # seconds before the 2nd try of a download, doubled each time


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
    out = []
    for entry in _entries(lock):
        name = str(entry.get("name") or "?")
        sources = list(entry.get("wheels") or []) or [entry.get("sdist") or {}]
        for source in sources:
            sha = str((source.get("hashes") or {}).get("sha256") or "").lower()
            out.append((name, str(source.get("url") or ""), sha))
    return out


def _refuse_sources(lock: EnvLock) -> None:
    """A pypi lock naming a package with no wheel cannot be installed from the
    datastore: building its source archive needs build tools from an index."""
    if lock.kind != "pypi":
        return
    sources = sorted(
        f"{entry.get('name')} {entry.get('version') or ''}".strip()
        for entry in _entries(lock)
        if not entry.get("wheels") and entry.get("sdist")
    )
    if sources:
        raise EnvError(
            f"the lock {lock.sha[:12]} has no wheel for {', '.join(sources)} (only a source "
            "archive): pods installing from the datastore, with no index, cannot build it "
            "(its build tools come from an index)",
            fix="pin a version of it that has wheels for the pods' platform, or set "
            "wheels_in_datastore = false (and pod_offline = false) in the profile's "
            "[environments] table so that pods install from the index",
        )


def _entries(lock: EnvLock) -> list[dict[str, Any]]:
    """The ``[[packages]]`` of a pypi lock's ``pylock.toml``."""
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
    return [entry for entry in entries if isinstance(entry, dict)]


def on_this_disk(lock: EnvLock) -> list[tuple[str, str]]:
    """``(name, where)`` of each package of a pypi lock that comes from this machine's
    disk (a ``find_links`` folder, a local path): a pod cannot read it there."""
    if lock.kind != "pypi":
        return []
    out = []
    for entry in _entries(lock):
        name = str(entry.get("name") or "?")
        sources = [*(entry.get("wheels") or []), entry.get("sdist") or {}]
        sources += [entry[k] for k in ("directory", "archive") if isinstance(entry.get(k), dict)]
        for source in sources:
            url = str(source.get("url") or "")
            if url.startswith("file:") or source.get("path"):
                out.append((name, url or str(source.get("path"))))
                break
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


def store_packages(
    blobs: Any,
    lock: EnvLock,
    *,
    download: Download | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Store every package of ``lock`` in ``blobs`` (a BlobStore) unless it is there;
    return their keys. Each is streamed to a temporary file (hashed on the way), tried
    again on a failed or cut download (``TRIES`` in all); a download whose sha256 is
    not the lock's is an EnvError."""
    get = download or _download
    _refuse_sources(lock)
    keys = []
    for name, url, sha, filename in packages_of(lock):
        key = package_key(sha, filename)
        keys.append(key)
        if blobs.exists(key):
            continue
        with tempfile.TemporaryFile() as fh:
            got = _fetch(
                get, url, fh, sleep=sleep, what=f"package {name!r} of the lock {lock.sha[:12]}"
            )
            if got != sha:
                raise EnvError(
                    f"package {name!r} downloaded from {url} has sha256 {got}, the lock says {sha}",
                    fix="the index serves another file than when the lock was made: resolve "
                    "the environment again (change its requirements, or clear the lock cache)",
                )
            fh.seek(0)
            try:  # a concurrent identical put may win: same bytes
                blobs.put_chunks(key, iter(lambda: fh.read(CHUNK), b""))
            except OSError as err:
                from grange.datastore.errors import write_error

                raise write_error(err, f"package {filename}", blobs.describe()) from None
    return keys


def _fetch(
    get: Download, url: str, fh: BinaryIO, *, sleep: Callable[[float], None], what: str
) -> str:
    """``url``'s bytes written to ``fh`` (emptied first on each try); their sha256."""
    wait = WAIT
    for attempt in range(1, TRIES + 1):
        fh.seek(0)
        fh.truncate()
        digest = hashlib.sha256()
        try:
            got = get(url)
            for chunk in [got] if isinstance(got, bytes) else got:
                digest.update(chunk)
                fh.write(chunk)
            return digest.hexdigest()
        except (OSError, ValueError, http.client.HTTPException) as err:
            permanent = isinstance(err, urllib.error.HTTPError) and err.code < 500
            if permanent or attempt == TRIES:
                tried = f" (tried {attempt} times)" if attempt > 1 else ""
                raise EnvError(
                    f"cannot download {what} from {url}{tried}: {_why(err)}",
                    fix="check this machine's access to the index, or set "
                    "wheels_in_datastore = false in the profile's [environments] table",
                ) from None
            print(
                f"grange: downloading {url} failed ({_why(err)}); trying again in {wait:g} s",
                file=sys.stderr,
            )
            sleep(wait)
            wait *= 2
    raise AssertionError("not reached")


def _why(err: BaseException) -> str:
    if isinstance(err, http.client.IncompleteRead):
        return f"the download was cut short ({len(err.partial)} bytes read)"
    reason = getattr(err, "reason", None)
    return str(reason or err) or type(err).__name__


def fetch_packages(blobs: Any, lock: EnvLock, folder: Path) -> Path:
    """Every package of ``lock`` from ``blobs`` into ``folder`` (kept across pods: a
    file there is used when its sha256 is the lock's, replaced otherwise). A package
    missing from the datastore, or damaged, is an EnvError naming it; a folder this
    machine cannot write is one too."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, _url, sha, filename in packages_of(lock):
            target = folder / filename
            if target.is_file() and _file_sha(target) == sha:
                continue
            _fetch_one(blobs, lock, name, sha, filename, target)
    except OSError as err:
        raise EnvError(
            f"cannot write the packages of the lock {lock.sha[:12]} into {folder}: "
            f"{err.strerror or err}",
            fix="set GRANGE_ENV_CACHE to a folder this pod may write to (or mount a "
            "writable volume there)",
        ) from None
    return folder


def _fetch_one(blobs: Any, lock: EnvLock, name: str, sha: str, filename: str, target: Path) -> None:
    """The package from the datastore to ``target``, in chunks, checked before it is
    renamed into place."""
    key = package_key(sha, filename)
    try:
        size = blobs.size(key)
    except BlobNotFound:
        raise EnvError(
            f"package {name!r} ({filename}) of the lock {lock.sha[:12]} is not in the "
            f"datastore ({blobs.url(key)})",
            fix=FIX_STORE,
        ) from None
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as fh:
            for start in range(0, size, CHUNK):
                chunk = blobs.get_range(key, start, min(CHUNK, size - start))
                digest.update(chunk)
                fh.write(chunk)
        got = digest.hexdigest()
        if got != sha:
            raise EnvError(
                f"package {name!r} in the datastore ({blobs.url(key)}) is damaged: its "
                f"sha256 is {got}, the lock says {sha}",
                fix=f"delete it from the datastore, then {FIX_STORE}",
            )
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str) -> Iterator[bytes]:
    read = 0
    with urllib.request.urlopen(url, timeout=60) as response:
        size = getattr(response, "length", None)  # Content-Length (HTTP), if given
        for chunk in iter(lambda: response.read(CHUNK), b""):
            read += len(chunk)
            yield chunk
        if size is not None and read < size:  # the connection closed early
            raise OSError(f"the download was cut short ({read} of {size} bytes read)")
