"""Which files of a flow's directory go into its code package.

The flow's directory is walked in sorted order. A file is packed when it ends
with ``.py`` or one of the ``--package-suffixes`` (the flow file itself always
is), unless an ignore file excludes it. Ignore files follow git's rules (the
``pathspec`` library): every ``.gitignore`` and ``.grangeignore`` in the
directory and below applies to its own subtree, a ``.grangeignore`` after the
``.gitignore`` beside it (so it can re-include with ``!``), and the
``.gitignore`` files of the directories above it up to the root of its git
repository apply as git would apply them.

Always left out, and said so in :attr:`Selection.skipped`: hidden files and
directories (``.grange/``, ``.git/``, ``.venv/``), ``__pycache__``, virtual
environments (a directory holding ``pyvenv.cfg``), a local datastore inside the
directory, symbolic links that lead outside it, and ``grange/`` or
``INFO.json`` at its top (the package carries its own). Nothing is read here,
only listed: :mod:`grange.environments.archive` reads the files.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grange.exceptions import CommandError

IGNORE_FILES = (".gitignore", ".grangeignore")
DEFAULT_SUFFIXES = (".py",)
#: What the package itself puts at its top: a flow's directory may not hold them there.
RESERVED = ("grange", "INFO.json")
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})
ABSENT = "-"  # the stamp of a path that does not exist


# A local datastore root holds its SQLite index: such a folder is data, never code
# (another run's --datastore-root inside the flow's directory).
DATASTORE_MARK = "metadata.db"


@dataclass(frozen=True)
class PackedFile:
    """A file of the flow's directory: its path in the package (``/``-separated), its
    path on disk, its size and whether its owner may execute it."""

    name: str
    source: str
    size: int
    executable: bool = False
    stamp: str = ""  # file_stamp: changes whenever the file is written


@dataclass(frozen=True)
class Skipped:
    """A path left out of the package, and why (for ``package list`` and notices)."""

    name: str
    reason: str


@dataclass
class Selection:
    """The files of a flow's directory that its code package holds."""

    root: Path
    flow_file: str  # the flow file's name in the package
    suffixes: tuple[str, ...]
    files: list[PackedFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    changed_at: float = 0.0  # the latest ctime of the files (see archive.cached_member)
    # What decides the list (directories walked, ignore files, .git above): path ->
    # file_stamp, or "-" for absent (see grange.environments.listing).
    watch: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def biggest(self, count: int = 5) -> list[PackedFile]:
        return sorted(self.files, key=lambda f: (-f.size, f.name))[:count]


def normalize_suffixes(suffixes: Iterable[str]) -> tuple[str, ...]:
    """``.py`` plus the given suffixes (``txt`` or ``.txt``; comma-separated strings split),
    without duplicates, in the order given."""
    out: list[str] = list(DEFAULT_SUFFIXES)
    for text in suffixes:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            if "/" in part or os.sep in part:
                raise CommandError(
                    f"--package-suffixes: {part!r} is not a file name suffix",
                    fix="give suffixes such as .txt,.json,.yaml",
                )
            suffix = part if part.startswith(".") else f".{part}"
            if suffix not in out:
                out.append(suffix)
    return tuple(out)


def select_files(
    flow_file: str | os.PathLike[str],
    suffixes: Sequence[str] = (),
    *,
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> Selection:
    """The files to pack for ``flow_file``: its directory, filtered (module docstring).

    ``exclude`` names directories never to enter (a local datastore root).
    A flow file that is missing, not a file, or a link leading outside its
    directory is a :class:`CommandError`; so is a directory that cannot be read.
    """
    given = Path(os.path.abspath(flow_file))
    root = given.parent
    if not given.is_file():
        raise CommandError(
            f"the flow file {given} does not exist or is not a file, so there is no "
            "code package to build",
            fix="run the flow as 'python FLOW_FILE ...' from a file on disk",
        )
    real_root = os.path.realpath(root)
    real_flow = os.path.realpath(given)
    if not _inside(real_flow, real_root):
        raise CommandError(
            f"the flow file {given} is a link to {real_flow}, outside its directory "
            f"{root}: the code package holds that directory only",
            fix="run the flow from its real location, or copy it into the directory",
        )
    suffixes = normalize_suffixes(suffixes)
    excluded = sorted({os.path.realpath(p) for p in exclude})
    from grange.environments import listing

    key = listing.key_of(real_root, given.name, suffixes, excluded)
    cached = listing.load(key, root)
    if cached is not None:
        return cached
    selection = Selection(root=root, flow_file=given.name, suffixes=suffixes)
    walker = _Walker(selection, real_root, set(excluded))
    walker.walk(str(root), "", _outer_ignores(root, selection.watch), set())
    if not any(f.name == selection.flow_file for f in selection.files):
        # Ignored, or its suffix not packed: the package must hold it all the same.
        info = given.stat()
        executable = bool(info.st_mode & stat.S_IXUSR)
        selection.files.append(
            PackedFile(given.name, str(given), info.st_size, executable, file_stamp(info))
        )
        selection.changed_at = max(selection.changed_at, info.st_ctime)
    selection.files.sort(key=lambda f: f.name)
    listing.store(key, selection)
    return selection


@dataclass(frozen=True)
class _Rules:
    """The ignore files that apply in a directory: ``(base, spec)`` pairs, outermost
    first. ``base`` is the ignore file's directory relative to the flow's directory
    (``""``, ``"sub/"``) or, for one above it, ``"^"`` + the flow's directory seen
    from there (``"^flows/"``)."""

    specs: tuple[tuple[str, object], ...] = ()

    def ignored(self, name: str, is_dir: bool) -> bool:
        """Whether ``name`` (relative to the flow's directory) is ignored: the deepest
        ignore file with a matching pattern decides, as in git."""
        decision: bool | None = None
        for base, spec in self.specs:
            path = _relative(name, base)
            if is_dir:
                path += "/"
            result = spec.check_file(path)  # type: ignore[attr-defined]
            if result.include is not None:
                decision = bool(result.include)
        return bool(decision)

    def extended(self, base: str, folder: str, watch: dict[str, str]) -> _Rules:
        specs = list(self.specs)
        for ignore in IGNORE_FILES:
            path = os.path.join(folder, ignore)
            spec = _read_spec(path, watch)
            if spec is not None:
                specs.append((base, spec))
        return _Rules(tuple(specs))


class _Walker:
    def __init__(self, selection: Selection, real_root: str, excluded: set[str]) -> None:
        self.selection = selection
        self.real_root = real_root
        self.excluded = excluded

    def skip(self, name: str, reason: str) -> None:
        self.selection.skipped.append(Skipped(name, reason))

    def walk(self, folder: str, prefix: str, rules: _Rules, seen: set[str]) -> None:
        real = os.path.realpath(folder)
        if real in seen:
            self.skip(prefix.rstrip("/"), "a link back to a directory packed already")
            return
        seen = seen | {real}
        watch = self.selection.watch
        try:
            watch[folder] = file_stamp(os.stat(folder))  # entries added, removed, renamed
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            raise _unreadable(folder, err) from None
        rules = rules.extended(prefix, folder, watch)
        for entry in entries:
            name = prefix + entry.name
            try:
                self._entry(entry, name, prefix, rules, seen)
            except OSError as err:
                raise _unreadable(entry.path, err) from None

    def _entry(
        self, entry: os.DirEntry[str], name: str, prefix: str, rules: _Rules, seen: set[str]
    ) -> None:
        if entry.name.startswith("."):
            return  # hidden: .git, .grange, .venv, .gitignore itself (not worth a line)
        if not prefix and entry.name in RESERVED:
            self.skip(name, "the package has its own at its top (grange's source, its INFO)")
            return
        link = entry.is_symlink()
        if link:
            target = os.path.realpath(entry.path)
            if not _inside(target, self.real_root):
                self.skip(name, f"a link to {target}, outside the flow's directory")
                return
        try:
            info = os.stat(entry.path)
        except FileNotFoundError:
            if link:
                self.skip(name, "a link to nothing")
                return
            raise
        if stat.S_ISDIR(info.st_mode):
            if entry.name in SKIPPED_DIRS:
                return
            if os.path.realpath(entry.path) in self.excluded:
                self.skip(name + "/", "the datastore root")
                return
            if os.path.exists(os.path.join(entry.path, DATASTORE_MARK)):
                self.skip(name + "/", "a grange datastore (it holds metadata.db)")
                return
            if os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                self.skip(name + "/", "a virtual environment")
                self.selection.watch[entry.path] = file_stamp(info)  # until it is not
                return
            if rules.ignored(name, is_dir=True):
                return
            self.walk(entry.path, name + "/", rules, seen)
            return
        if not stat.S_ISREG(info.st_mode):
            return  # sockets, fifos, devices
        if not name.endswith(self.selection.suffixes) and name != self.selection.flow_file:
            return
        if rules.ignored(name, is_dir=False):
            if name == self.selection.flow_file:
                self.skip(name, "ignored by an ignore file, but packed: it is the flow file")
            else:
                return
        if not os.access(entry.path, os.R_OK):
            raise _unreadable(entry.path, PermissionError("permission denied"))
        executable = bool(info.st_mode & stat.S_IXUSR)
        self.selection.files.append(
            PackedFile(name, entry.path, info.st_size, executable, file_stamp(info))
        )
        self.selection.changed_at = max(self.selection.changed_at, info.st_ctime)


def _outer_ignores(root: Path, watch: dict[str, str]) -> _Rules:
    """The ``.gitignore`` files above the flow's directory, up to its git repository's
    root (none when it is not in a repository)."""
    levels: list[Path] = []
    folder = root
    while True:
        git = folder / ".git"
        watch[str(git)] = _stamp(str(git))
        if watch[str(git)] != ABSENT:
            break
        if folder.parent == folder:
            return _Rules()  # not in a git repository
        folder = folder.parent
        levels.append(folder)
    specs: list[tuple[str, object]] = []
    for above in reversed(levels):  # outermost first
        spec = _read_spec(str(above / ".gitignore"), watch)
        if spec is not None:
            specs.append((_outer_base(root, above), spec))
    return _Rules(tuple(specs))


def _outer_base(root: Path, above: Path) -> str:
    """Marker for an ignore file above the flow's directory: ``"^<path of root>/"``."""
    return "^" + os.path.relpath(root, above).replace(os.sep, "/") + "/"


def _relative(name: str, base: str) -> str:
    """``name`` (relative to the flow's directory) as the ignore file at ``base`` sees it."""
    if base.startswith("^"):
        return base[1:] + name  # above the flow's directory: prepend the way down
    return name[len(base) :]  # at or below it: strip the way down


def _read_spec(path: str, watch: dict[str, str]) -> object | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            watch[path] = file_stamp(os.fstat(f.fileno()))
            lines = f.read().splitlines()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        watch[path] = ABSENT
        return None
    except OSError as err:
        raise _unreadable(path, err) from None
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _stamp(path: str) -> str:
    try:
        return file_stamp(os.stat(path))
    except OSError:
        return ABSENT


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def file_stamp(info: os.stat_result) -> str:
    """What changes whenever a file is written (as git's index: size, inode, mtime and
    ctime, which no tool can set back), to know a file unchanged without reading it."""
    return f"{info.st_size}:{info.st_ino}:{info.st_mtime_ns}:{info.st_ctime_ns}"


def _unreadable(path: str, err: OSError) -> CommandError:
    reason = err.strerror or str(err)
    return CommandError(
        f"cannot read {path} to build the code package ({reason})",
        fix="make it readable, or leave it out with a line in a .grangeignore file beside it",
    )
