"""Containers a task hands out: its data, its exception, its metadata entries."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from grange.client.base import suggest
from grange.metastore import ArtifactRow


class TaskData:
    """A task's artifacts as attributes: ``task.data.model``.

    Each artifact is read from the datastore each time it is asked for, as
    Metaflow does: changing the value you got (``df.drop(..., inplace=True)``)
    never changes what the next read gives. ``"name" in data`` and
    ``dir(data)`` need no read at all.
    Private artifacts (``_name``) are not offered here; ``task["_name"]`` reads them.
    """

    def __init__(
        self, pathspec: str, rows: Mapping[str, ArtifactRow], load: Callable[[str, str], Any]
    ) -> None:
        self._pathspec = pathspec
        self._rows = {name: row for name, row in rows.items() if not name.startswith("_")}
        self._load = load

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_pathspec", "_rows", "_load"):
            raise AttributeError(name)
        row = self._rows.get(name)
        if row is None:
            hint = suggest(name, self._rows, "artifact")
            raise AttributeError(f"task {self._pathspec} has no artifact '{name}'; {hint}")
        return self._load(row.key, name)

    def __contains__(self, name: object) -> bool:
        return name in self._rows

    def __iter__(self) -> Iterator[str]:
        """The artifact names, sorted."""
        return iter(sorted(self._rows))

    def __len__(self) -> int:
        return len(self._rows)

    def __dir__(self) -> list[str]:
        return sorted(self._rows) + [n for n in object.__dir__(self) if not n.startswith("_")]

    def __repr__(self) -> str:
        return f"<TaskData of {self._pathspec}: {', '.join(sorted(self._rows))}>"


@dataclass(frozen=True)
class TaskException:
    """What a failed attempt raised: exception ``type`` name, ``message`` and ``traceback``.

    ``traceback`` holds the frames of the user's code only; ``str()`` gives
    the text the task printed. ``stacktrace`` and ``exception`` are the
    names Metaflow's wrapper uses for the text and the message.
    """

    type: str
    message: str
    traceback: str = ""
    text: str = ""

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> TaskException:
        return cls(
            type=str(data.get("type") or "Exception"),
            message=str(data.get("message") or ""),
            traceback=str(data.get("traceback") or ""),
            text=str(data.get("text") or ""),
        )

    @property
    def stacktrace(self) -> str:
        return str(self)

    @property
    def exception(self) -> str:
        return self.message

    def __str__(self) -> str:
        return self.text or f"{self.type}: {self.message}"


class Metadata(NamedTuple):
    """One metadata entry of a task, shaped like Metaflow's.

    ``created_at`` is in epoch milliseconds, as in Metaflow; ``type`` is the
    entry's kind (grange uses the name).
    """

    name: str
    value: str
    created_at: int
    type: str
    task: Any


def epoch_ms(seconds: float | None) -> int:
    return round((seconds or 0.0) * 1000)
