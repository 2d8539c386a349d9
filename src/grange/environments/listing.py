"""The file list of a flow's directory, kept between runs while nothing that decides it
changed.

Walking a directory is cheap; reading its ignore files is not (importing
``pathspec`` alone takes ~15 ms, on every ``run``). So a
:class:`~grange.environments.select.Selection` is kept under
``<cache>/code/list-<key>.json`` together with the stamps (size, inode, mtime,
ctime) of what decided it: every directory walked (an entry added, removed or
renamed changes its mtime), every ignore file read or looked for, the ``.git``
and ``.gitignore`` of each directory above, and skipped virtual environments.
It is used again only if every one of those stamps is unchanged; the files
listed are stat'ed afresh every time (their own changes are the archive's
business: :func:`grange.environments.archive.cached_member`).

File times tick coarsely, so a list is not kept when anything it depends on
changed less than ``archive.SETTLE`` seconds ago (as git does with "racily
clean" entries). Anything unexpected (a damaged file, a vanished path) means a
fresh walk, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from collections.abc import Sequence
from pathlib import Path

from grange.environments.select import ABSENT, PackedFile, Selection, Skipped, file_stamp

FORMAT = 1
KEEP = 64


def key_of(real_root: str, flow_file: str, suffixes: Sequence[str], excluded: Sequence[str]) -> str:
    text = json.dumps([FORMAT, real_root, flow_file, list(suffixes), list(excluded)])
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def load(key: str, root: Path) -> Selection | None:
    """The list kept under ``key``, if nothing that decides it changed."""
    from grange.environments.archive import SETTLE

    path = _path(key)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if data.get("format") != FORMAT or data.get("root") != str(root):
            return None
        watch: dict[str, str] = dict(data["watch"])
        for watched, stamp in watch.items():
            if _stamp(watched) != stamp:
                return None
        selection = Selection(
            root=root,
            flow_file=str(data["flow_file"]),
            suffixes=tuple(data["suffixes"]),
            skipped=[Skipped(str(n), str(r)) for n, r in data["skipped"]],
            watch=watch,
        )
        for name, source in data["files"]:
            info = os.stat(source)
            if not stat.S_ISREG(info.st_mode):
                return None
            executable = bool(info.st_mode & stat.S_IXUSR)
            selection.files.append(
                PackedFile(str(name), str(source), info.st_size, executable, file_stamp(info))
            )
            selection.changed_at = max(selection.changed_at, info.st_ctime)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if time.time() - _changed_at(watch) < SETTLE:
        return None
    return selection


def store(key: str, selection: Selection) -> None:
    """Keep ``selection`` for the next run, if what decides it has settled."""
    from grange.environments.archive import SETTLE

    if time.time() - _changed_at(selection.watch) < SETTLE:
        return
    path = _path(key)
    if path is None:
        return
    data = {
        "format": FORMAT,
        "root": str(selection.root),
        "flow_file": selection.flow_file,
        "suffixes": list(selection.suffixes),
        "watch": selection.watch,
        "files": [[f.name, f.source] for f in selection.files],
        "skipped": [[s.name, s.reason] for s in selection.skipped],
    }
    temp = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_text(json.dumps(data))
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()
        return
    from grange.environments.archive import prune

    prune(path.parent, "list-", KEEP)


def _changed_at(watch: dict[str, str]) -> float:
    """The latest ctime among the stamps (the last field, in nanoseconds)."""
    latest = 0
    for stamp in watch.values():
        if stamp != ABSENT:
            latest = max(latest, int(stamp.rsplit(":", 1)[1]))
    return latest / 1e9


def _stamp(path: str) -> str:
    try:
        return file_stamp(os.stat(path))
    except OSError:
        return ABSENT


def _path(key: str) -> Path | None:
    from grange.datastore.location import cache_dir

    with contextlib.suppress(OSError):
        return cache_dir() / "code" / f"list-{key}.json"
    return None
