"""A join's ``inputs``: one read-only view per incoming branch.

``for i in inputs: i.x`` reads artifact ``x`` of each branch (loaded lazily);
after a static split, ``inputs.<step>.x`` reads it from the branch that ran
``<step>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from grange.datastore import ArtifactRef, AttemptRecord, ContentAddressedStore


def parse_input_path(path: str, default_run: str) -> tuple[str, str, str]:
    """``run/step/task`` (or ``step/task`` in the same run) -> (run, step, task)."""
    parts = path.split("/")
    if len(parts) == 2:
        return default_run, parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise ValueError(f"input path {path!r} is not run/step/task")


class ParentView:
    """The artifacts of one parent task, read lazily, never written."""

    def __init__(self, record: AttemptRecord, cas: ContentAddressedStore) -> None:
        object.__setattr__(self, "_record", record)
        object.__setattr__(self, "_cas", cas)
        object.__setattr__(self, "_cache", {})

    @property
    def refs(self) -> dict[str, ArtifactRef]:
        return self._record.artifacts

    @property
    def step_label(self) -> str:
        return f"{self._record.step}/{self._record.task_id}"

    @property
    def step_name(self) -> str:
        return self._record.step

    @property
    def index(self) -> int | None:
        """The foreach position of this branch (as ``self.index`` was in it), or None."""
        foreach = [f for f in self._record.extra.get("frames", ()) if f[4]]
        return int(foreach[-1][2]) if foreach else None

    def __getattr__(self, name: str) -> Any:
        cache = self.__dict__["_cache"]
        if name in cache:
            return cache[name]
        ref = self._record.artifacts.get(name)
        if ref is None:
            raise AttributeError(
                f"branch '{self._record.step}' (task {self._record.task_id}) has no artifact '{name}'"
            )
        record = self._record
        task = f"{record.flow}/{record.run_id}/{record.step}/{record.task_id}"
        cache[name] = self._cas.load(ref.key, name=name, task=task)
        return cache[name]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("inputs are read-only: set artifacts on self in the join instead")

    def __repr__(self) -> str:
        return f"<input {self._record.step}/{self._record.task_id}>"


class Inputs:
    """The branches arriving at a join, in branch order."""

    def __init__(self, parents: list[ParentView]) -> None:
        self._parents = parents
        self._by_step = {p.step_name: p for p in parents}

    def __iter__(self) -> Iterator[ParentView]:
        return iter(self._parents)

    def __len__(self) -> int:
        return len(self._parents)

    def __getitem__(self, index: int) -> ParentView:
        return self._parents[index]

    def __getattr__(self, name: str) -> ParentView:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._by_step[name]
        except KeyError:
            raise AttributeError(
                f"no branch named '{name}' arrives at this join; branches: "
                + ", ".join(sorted(self._by_step))
            ) from None

    def __repr__(self) -> str:
        return f"<inputs of {len(self)} branches>"
