"""``DataArtifact("Flow/run/step/task/name")``: one stored value of a task.

``sha`` is the artifact's content key (the sha1 of its serialized bytes, so
equal values share it, across tasks and runs), ``size`` the stored size in
bytes; ``data`` reads and unpickles it, and nothing is read before.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from grange.client.base import ClientObject, timestamp
from grange.metastore import ArtifactRow

if TYPE_CHECKING:
    from grange.client.task import Task


class DataArtifact(ClientObject):
    """One artifact of a task (of its latest ended attempt, unless ``attempt`` is given)."""

    _KIND = "artifact"
    _DEPTH = 5
    _PARENT = "task"

    _row: ArtifactRow

    def _fetch(self) -> ArtifactRow:
        rows = self.parent._artifact_rows()
        row = rows.get(self.id)
        if row is None:
            raise self._not_found("artifact", rows)
        return row

    def _children(self) -> list[ClientObject]:
        return []

    def __getitem__(self, child_id: str) -> Any:
        raise TypeError("a DataArtifact has no children; read its value with .data")

    def __contains__(self, child_id: object) -> bool:
        return False

    @property
    def parent(self) -> Task:
        task: Task = super().parent  # type: ignore[assignment]
        return task

    @property
    def data(self) -> Any:
        """The value, read from the datastore and unpickled (on every access)."""
        task = self.pathspec.rsplit("/", 1)[0]
        return self._stores.cas(self._components[0]).load(self._row.key, name=self.id, task=task)

    @property
    def sha(self) -> str:
        """The content key of the stored bytes."""
        return self._row.key

    @property
    def size(self) -> int:
        """Size of the stored (serialized) value in bytes."""
        return self._row.size

    @property
    def type(self) -> str:
        """Qualified type name of the stored value (``numpy.ndarray``); grange's addition."""
        return self._row.type

    @property
    def created_at(self) -> datetime | None:
        """When the attempt that holds the artifact ended."""
        attempt = self.parent._data_attempt()
        if attempt is None:
            return None
        return timestamp(attempt.finished_at or attempt.started_at)

    @property
    def finished_at(self) -> datetime | None:
        """Same as :attr:`created_at`, as in Metaflow."""
        return self.created_at

    @property
    def origin_pathspec(self) -> str | None:
        origin = self.parent.origin_pathspec
        return f"{origin}/{self.id}" if origin else None
