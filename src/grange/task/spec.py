"""What a task needs to know to run: :class:`TaskSpec` and its split :class:`Frame` stack.

A spec is plain data: it travels as JSON to a forked worker and as command-line
options to ``python flow.py step`` (and so to a pod or an Argo container).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Frame:
    """One split enclosing a task: which split task opened it and which branch this is.

    For a foreach, ``index`` is the item's position and ``items_key`` the blob
    holding the items; for a static split, ``index`` is the branch's position in
    the split's ``self.next(...)``.
    """

    step: str
    task_id: str
    index: int
    count: int
    foreach: bool = False
    items_key: str | None = None

    def to_list(self) -> list[Any]:
        return [self.step, self.task_id, self.index, self.count, self.foreach, self.items_key]

    @classmethod
    def from_list(cls, data: list[Any]) -> Frame:
        step, task_id, index, count, foreach, items_key = data
        return cls(str(step), str(task_id), int(index), int(count), bool(foreach), items_key)


@dataclass(frozen=True)
class TaskSpec:
    """Everything that identifies one task attempt and where its inputs are."""

    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int = 0
    input_paths: tuple[str, ...] = ()  # "<run>/<step>/<task>" of each parent
    frames: tuple[Frame, ...] = ()
    iteration: int = 0  # times a looping switch step re-entered itself
    origin_run_id: str | None = None
    tags: tuple[str, ...] = ()
    user: str = ""
    namespace: str | None = None
    max_user_retries: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"

    @property
    def foreach_frames(self) -> tuple[Frame, ...]:
        return tuple(f for f in self.frames if f.foreach)

    def to_json(self) -> str:
        data = asdict(self)
        data["frames"] = [f.to_list() for f in self.frames]
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> TaskSpec:
        data = json.loads(text)
        data["frames"] = tuple(Frame.from_list(f) for f in data["frames"])
        data["input_paths"] = tuple(data["input_paths"])
        data["tags"] = tuple(data["tags"])
        return cls(**data)


def frames_to_json(frames: tuple[Frame, ...]) -> str:
    return json.dumps([f.to_list() for f in frames], separators=(",", ":"))


def frames_from_json(text: str | None) -> tuple[Frame, ...]:
    if not text:
        return ()
    return tuple(Frame.from_list(f) for f in json.loads(text))
