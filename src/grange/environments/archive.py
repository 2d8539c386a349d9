"""The bytes of a code package: a gzipped tar, the same bytes for the same files.

Layout of the archive::

    INFO.json          grange's version, the flow's name and file, Python's version
    <the flow's files> as selected by grange.environments.select
    grange/...         grange's own source (.py files, py.typed, any data file)

Determinism: entries in a fixed order, no directory entries, mtime, uid and gid
0, no owner names, mode 0644 (0755 for a file its owner may execute), and
gzip members written by hand with mtime 0 and no file name. So two builds of
the same files give the same bytes, whatever their mtimes, owners or umask;
the package's sha256 names it in the datastore.

The archive is two gzip members back to back (a valid gzip stream: ``tar``,
``gunzip`` and Python's ``tarfile`` read it as one): the first holds INFO.json
and the flow's files, the second grange's source and the end of the tar. The
second depends only on grange's files, so it is built once per installation
and kept (in memory, and under ``<cache>/code/``), which keeps building a
package on every ``run`` down to the flow's own files.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from grange._version import __version__
from grange.environments.select import PackedFile, Selection, file_stamp
from grange.exceptions import CommandError

if TYPE_CHECKING:
    import tarfile

FORMAT = 1
INFO_NAME = "INFO.json"
#: What grange's own folder holds that is not source (every other file is packed:
#: .py files, py.typed, and any data file a module reads).
COMPILED = (".pyc", ".pyo")
GRANGE_DIR = "grange"
LEVEL = 6
BLOCK = 512  # tar's block size
#: The flow's own files may not add up to more than this (uncompressed), unless
#: ``GRANGE_PACKAGE_MAX_MB`` says otherwise.
DEFAULT_MAX_MB = 64
MAX_ENV = "GRANGE_PACKAGE_MAX_MB"
#: Files changed less than this many seconds ago are packed afresh (cached_member).
SETTLE = 2.0
#: Flow parts kept in the cache folder (a few KB each; grange's part: one per version).
KEEP_FLOW_PARTS = 64
#: Gzip members built or read in this process, by kind and fingerprint (cached_member).
_members: dict[str, bytes] = {}


def package_info(selection: Selection, flow_name: str) -> dict[str, object]:
    """What INFO.json holds (no timestamps: it is part of the package's identity)."""
    return {
        "format": FORMAT,
        "flow_name": flow_name,
        "flow_file": selection.flow_file,
        "grange_version": __version__,
        "python_version": platform.python_version(),
        "suffixes": list(selection.suffixes),
    }


def build_archive(selection: Selection, flow_name: str) -> bytes:
    """The package of ``selection``: its files, INFO.json and grange's source."""
    check_size(selection)
    info = json.dumps(package_info(selection, flow_name), indent=1, sort_keys=True).encode()

    def build() -> bytes:
        entries = [(INFO_NAME, info, False)]
        entries += [(f.name, _read(f), f.executable) for f in selection.files]
        return gzip_member(b"".join(tar_entries(entries)))

    listing = "".join(f"{f.name} {f.size} {f.executable:d} {f.stamp}\n" for f in selection.files)
    flow_part = cached_member("flow", info.decode() + "\n" + listing, build, selection.changed_at)
    return flow_part + grange_member()


def check_size(selection: Selection) -> None:
    """Refuse a flow's directory whose packed files are over the limit, naming the
    biggest (a data set or a model file caught by a suffix, usually)."""
    text = os.environ.get(MAX_ENV, "").strip()
    try:
        limit_mb = float(text) if text else DEFAULT_MAX_MB
    except ValueError:
        raise CommandError(
            f"{MAX_ENV}={text!r} is not a number of megabytes", fix=f"set {MAX_ENV}=200, say"
        ) from None
    total = selection.size
    if total <= limit_mb * 1024 * 1024:
        return
    biggest = ", ".join(f"{f.name} ({_mb(f.size)})" for f in selection.biggest())
    raise CommandError(
        f"the code package of {selection.root} would hold {_mb(total)} of files, over "
        f"the limit of {limit_mb:g} MB; the biggest: {biggest}",
        fix="leave data out of the package with lines in a .grangeignore file in that "
        f"directory (it reads like a .gitignore), or raise the limit with {MAX_ENV}",
    )


def tar_entries(entries: Iterable[tuple[str, bytes, bool]]) -> Iterator[bytes]:
    """Tar headers and padded data of regular files ``(name, data, executable)``,
    with every varying field fixed (no end-of-archive blocks)."""
    import tarfile

    for name, data, executable in entries:
        member = tarfile.TarInfo(name)
        member.size = len(data)
        member.mtime = 0
        member.mode = 0o755 if executable else 0o644
        member.uid = member.gid = 0
        member.uname = member.gname = ""
        member.type = tarfile.REGTYPE
        yield member.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        yield data
        if len(data) % BLOCK:
            yield b"\0" * (BLOCK - len(data) % BLOCK)


def gzip_member(data: bytes) -> bytes:
    """``data`` as one gzip member: mtime 0, no name, OS 'unknown' (RFC 1952)."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = compressor.compress(data) + compressor.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    return header + body + trailer


def grange_files() -> tuple[list[tuple[str, str, str]], float]:
    """grange's own files (not ``__pycache__``, hidden or compiled ones) as ``(name in
    the package, path, stamp)``, sorted by name, and the latest ctime among them
    (plain strings and scandir: this runs on every ``run``)."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found: list[tuple[str, str, str]] = []
    changed_at = 0.0
    pending = [(top, GRANGE_DIR)]
    while pending:
        folder, name = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__" and not entry.name.startswith("."):
                        pending.append((entry.path, f"{name}/{entry.name}"))
                elif not entry.name.startswith(".") and not entry.name.endswith(COMPILED):
                    st = entry.stat()
                    found.append((f"{name}/{entry.name}", entry.path, file_stamp(st)))
                    changed_at = max(changed_at, st.st_ctime)
    found.sort()
    return found, changed_at


def grange_member() -> bytes:
    """The gzip member of grange's source and the tar's end, built once per installation
    (kept by a fingerprint of its files: an editable install changes without a new
    version)."""
    files, changed_at = grange_files()

    def build() -> bytes:
        entries = []
        for name, path, _ in files:
            with open(path, "rb") as f:
                entries.append((name, f.read(), False))
        return gzip_member(b"".join(tar_entries(entries)) + b"\0" * (2 * BLOCK))

    listing = "".join(f"{name} {stamp}\n" for name, _, stamp in files)
    return cached_member("grange", f"{__version__}\n{listing}", build, changed_at)


def cached_member(
    kind: str, description: str, build: Callable[[], bytes], changed_at: float
) -> bytes:
    """The gzip member ``build()`` makes from the files ``description`` lists (names,
    sizes, inodes, mtimes and ctimes: any write to a file changes its ctime), kept
    in memory and under ``<cache>/code/`` with its sha256, checked when read back.

    File times tick coarsely (a few ms), so a file written twice within a tick
    keeps its stamp: files changed less than :data:`SETTLE` seconds ago
    (``changed_at``, their latest ctime) are packed afresh and the result is not
    kept, as git treats "racily clean" files. A cache folder that cannot be
    written is skipped; the oldest flow parts are dropped past
    :data:`KEEP_FLOW_PARTS`.
    """
    if time.time() - changed_at < SETTLE:
        return build()
    fingerprint = hashlib.sha256(f"{FORMAT} {LEVEL} {kind}\n{description}".encode()).hexdigest()
    key = f"{kind}-{fingerprint[:40]}"
    member = _members.get(key)
    if member is not None:
        return member
    path = _cache_file(key)
    member = _read_cached(path) if path is not None else None
    if member is None:
        member = build()
        if path is not None:
            _write_cached(path, member)
            if kind != "grange":
                prune(path.parent, f"{kind}-", KEEP_FLOW_PARTS)
    _members[key] = member
    while len(_members) > 8:
        del _members[next(iter(_members))]
    return member


def _cache_file(key: str) -> Path | None:
    from grange.datastore.location import cache_dir

    with contextlib.suppress(OSError):
        return cache_dir() / "code" / f"{key}.gz"
    return None


def _read_cached(path: Path) -> bytes | None:
    """The member kept at ``path``, if it is there and intact."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    digest, _, member = data.partition(b"\n")
    if hashlib.sha256(member).hexdigest().encode() != digest:
        return None
    return member


def _write_cached(path: Path, member: bytes) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(hashlib.sha256(member).hexdigest().encode() + b"\n" + member)
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()


def prune(folder: Path, prefix: str, keep: int) -> None:
    """Remove the oldest files of ``folder`` named ``prefix...`` past the ``keep`` newest."""
    with contextlib.suppress(OSError):
        kept = [e for e in os.scandir(folder) if e.name.startswith(prefix)]
        if len(kept) <= keep:
            return
        kept.sort(key=lambda e: e.stat().st_mtime_ns)
        for entry in kept[: len(kept) - keep]:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _read(file: PackedFile) -> bytes:
    try:
        with open(file.source, "rb") as f:
            return f.read()
    except OSError as err:
        raise CommandError(
            f"cannot read {file.source} to build the code package ({err.strerror or err})",
            fix="make it readable, or leave it out with a line in a .grangeignore file beside it",
        ) from None


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def read_members(data: bytes) -> tarfile.TarFile:
    """The archive ``data`` opened for reading (both gzip members: one stream)."""
    import tarfile

    return tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")
