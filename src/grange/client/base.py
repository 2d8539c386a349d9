"""What every client object shares: pathspec addressing, namespaces, children, pickling.

An object is named by its *pathspec*, ``Flow/run/step/task/artifact`` cut to its
depth, and is looked up when it is built: a missing one raises
:class:`~grange.exceptions.ObjectNotFound` (a ``KeyError``) with close names,
and one whose run lacks the current namespace tag raises
:class:`~grange.exceptions.NamespaceMismatch`. Children come from the parent's
``obj[id]``, ``id in obj`` and iteration; iteration skips, silently, what the
namespace hides and what is private (names starting with ``_``).

Objects remember the stores and the namespace they were built under, so the
children of an object agree with it even after ``namespace()`` or
``metadata()`` changes. A pickled object keeps only its pathspec and attempt.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from grange.client.config import Stores, current_stores, get_namespace
from grange.exceptions import InvalidPathspec, NamespaceMismatch, ObjectNotFound
from grange.metastore import RunTags

T = TypeVar("T", bound="ClientObject")

_KINDS: dict[str, type[ClientObject]] = {}
_SHAPES = ("FlowName", "RunID", "StepName", "TaskID", "ArtifactName")


def timestamp(value: float | None) -> datetime | None:
    """A stored POSIX time as a naive local datetime (what Metaflow's client returns)."""
    return None if value is None else datetime.fromtimestamp(value)


def suggest(name: str, known: Iterable[str], what: str) -> str:
    """``"did you mean 'x'?"`` or a short list of what exists."""
    names = sorted(set(known))
    close = difflib.get_close_matches(name, names, n=3)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    if not names:
        return f"there is no {what} yet"
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"known {what}s: {shown}"


def namespace_fix(owner_tag: str | None) -> str:
    """How to see an object outside the current namespace."""
    own = f"grange.namespace('{owner_tag}') for its owner's runs, or " if owner_tag else ""
    return f"switch with {own}grange.namespace(None) to read every run"


class ClientObject:
    """Base of :class:`Flow`, :class:`Run`, :class:`Step`, :class:`Task`, :class:`DataArtifact`."""

    _KIND: ClassVar[str] = ""
    _DEPTH: ClassVar[int] = 0
    _CHILD: ClassVar[str | None] = None
    _PARENT: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls._KIND:
            _KINDS[cls._KIND] = cls

    def __init__(
        self,
        pathspec: str,
        attempt: int | None = None,
        *,
        _namespace_check: bool = True,
        _row: Any = None,
        _tags: RunTags | None = None,
        _stores: Stores | None = None,
        _namespace: Any = False,
    ) -> None:
        """Look up the object at ``pathspec`` (of ``attempt``, for a task or an artifact).

        The underscored arguments are internal: ``_namespace_check=False``
        skips the namespace check, ``_row``/``_tags`` pass what a parent read
        already, ``_stores`` and ``_namespace`` (``None``: every run; ``False``:
        the current one) are what children inherit from their parent.
        """
        self._components = self._split(pathspec)
        self._attempt = self._check_attempt(attempt)
        self._stores = _stores if _stores is not None else current_stores()
        self._ns: str | None = get_namespace() if _namespace is False else _namespace
        # An object looked up without the check (current.run, an unpickled one) passes
        # that on to its children, as in Metaflow: they belong to the same run.
        self._namespace_check = _namespace_check
        self._row = _row if _row is not None else self._fetch()
        self._tags = _tags if _tags is not None else self._fetch_tags()
        if _namespace_check and self._ns is not None and not self._in_namespace(self._ns):
            raise NamespaceMismatch(
                f"{self!r} is not in namespace '{self._ns}'",
                pathspec=self.pathspec,
                namespace=self._ns,
                fix=self._namespace_fix(),
            )

    # -- what subclasses provide ----------------------------------------------------

    def _fetch(self) -> Any:
        """Look the object up; raise :class:`ObjectNotFound` when it does not exist."""
        raise NotImplementedError

    def _fetch_tags(self) -> RunTags:
        """The tags of the object's run."""
        flow, run = self._components[:2]
        return self._stores.metadata.run_tags(flow, run)

    def _in_namespace(self, ns: str) -> bool:
        return ns in self._tags.all

    def _children(self) -> list[ClientObject]:
        """Every child, hidden ones included, in iteration order."""
        raise NotImplementedError

    def _visible(self, child: ClientObject) -> bool:
        return not child.id.startswith("_")

    # -- identity ------------------------------------------------------------------------

    @classmethod
    def _split(cls, pathspec: str) -> tuple[str, ...]:
        parts = tuple(pathspec.split("/")) if isinstance(pathspec, str) else ()
        if len(parts) != cls._DEPTH or not all(parts):
            shape = "/".join(_SHAPES[: cls._DEPTH])
            raise InvalidPathspec(
                f"{cls.__name__}() takes a pathspec '{shape}', not {pathspec!r}",
                fix=f"e.g. {cls.__name__}('{shape}')",
            )
        return parts

    def _check_attempt(self, attempt: int | None) -> int | None:
        if attempt is None:
            return None
        if self._KIND not in ("task", "artifact"):
            raise InvalidPathspec(f"only a Task or a DataArtifact has attempts, not a {self._KIND}")
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
            raise InvalidPathspec(f"an attempt is an integer >= 0, not {attempt!r}")
        return attempt

    @property
    def id(self) -> str:
        """The last part of the pathspec: flow name, run id, step name, task id, artifact name."""
        return self._components[-1]

    @property
    def pathspec(self) -> str:
        return "/".join(self._components)

    @property
    def path_components(self) -> list[str]:
        return list(self._components)

    @property
    def parent(self) -> ClientObject | None:
        """The object one level up (``None`` for a flow); not checked against the namespace."""
        if self._PARENT is None:
            return None
        cls = _KINDS[self._PARENT]
        attempt = self._attempt if self._KIND == "artifact" else None
        return cls(
            "/".join(self._components[:-1]),
            attempt,
            _namespace_check=False,
            _stores=self._stores,
            _namespace=self._ns,
        )

    # -- tags and times ----------------------------------------------------------------

    @property
    def tags(self) -> frozenset[str]:
        """User and system tags of the object's run."""
        return self._tags.all

    @property
    def user_tags(self) -> frozenset[str]:
        return self._tags.user

    @property
    def system_tags(self) -> frozenset[str]:
        return self._tags.system

    @property
    def created_at(self) -> datetime | None:
        return timestamp(getattr(self._row, "created_at", None))

    @property
    def origin_pathspec(self) -> str | None:
        """Pathspec of the object this one was cloned from by ``resume``, else ``None``."""
        parent = self.parent
        origin = parent.origin_pathspec if parent is not None else None
        return f"{origin}/{self.id}" if origin else None

    def is_in_namespace(self) -> bool:
        """Whether the object's run is visible in the current namespace."""
        ns = get_namespace()
        return ns is None or self._in_namespace(ns)

    # -- children --------------------------------------------------------------------------

    def _child(self, child_id: str, *, check: bool = True) -> Any:
        cls = _KINDS[self._CHILD or ""]
        return cls(
            f"{self.pathspec}/{child_id}",
            self._attempt,
            _namespace_check=check and (self._namespace_check or self._KIND == "flow"),
            _tags=self._tags if self._KIND != "flow" else None,
            _stores=self._stores,
            _namespace=self._ns,
        )

    def _adopt(self, cls: type[T], child_id: str, row: Any) -> T:
        """A child built from a row already read (no lookup, no namespace check)."""
        return cls(
            f"{self.pathspec}/{child_id}",
            self._attempt,
            _namespace_check=False,
            _row=row,
            _tags=self._tags if self._KIND != "flow" else None,
            _stores=self._stores,
            _namespace=self._ns,
        )

    def __iter__(self) -> Iterator[Any]:
        return iter([c for c in self._children() if self._visible(c)])

    def _filtered(self, tags: tuple[str, ...]) -> Iterator[Any]:
        for child in self:
            if all(tag in child.tags for tag in tags):
                yield child

    def __getitem__(self, child_id: str) -> Any:
        return self._child(child_id)

    def __contains__(self, child_id: object) -> bool:
        if not isinstance(child_id, str) or not child_id or "/" in child_id:
            return False
        try:
            self._child(child_id, check=False)
        except ObjectNotFound:
            return False
        return True

    def _ipython_key_completions_(self) -> list[str]:
        return [child.id for child in self]

    # -- errors ------------------------------------------------------------------------

    def _not_found(self, what: str, known: Iterable[str]) -> ObjectNotFound:
        return ObjectNotFound(
            f"{what} {self.pathspec} does not exist",
            pathspec=self.pathspec,
            fix=suggest(self.id, known, what),
        )

    def _namespace_fix(self) -> str:
        owners = sorted(t for t in self._tags.system if t.startswith("user:"))
        return namespace_fix(owners[0] if owners else None)

    # -- python protocol ---------------------------------------------------------------------

    def __repr__(self) -> str:
        if self._attempt is not None:
            return f"{type(self).__name__}('{self.pathspec}', attempt={self._attempt})"
        return f"{type(self).__name__}('{self.pathspec}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClientObject):
            return NotImplemented
        return (type(self), self.pathspec, self._attempt) == (
            type(other),
            other.pathspec,
            other._attempt,
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.pathspec, self._attempt))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._KIND, self.pathspec, self._attempt))


def _rebuild(kind: str, pathspec: str, attempt: int | None) -> ClientObject:
    """Unpickle: look the object up again in the stores of this process."""
    return _KINDS[kind](pathspec, attempt, _namespace_check=False)
