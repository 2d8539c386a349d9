"""What :func:`~grange.testing.run_step` returns: the artifacts of the task it ran.

A :class:`StepResult` is a read-only mapping of artifact name to value (loaded on
first use from the step's own temporary store): ``result.model``,
``result["model"]``, ``"model" in result``, ``result.keys()``. It holds every
artifact the task ended with, as ``task.data`` of a real run does: the ones it set,
the ones it inherited from ``inputs``, the parameters and the flow's constants.
"""

from __future__ import annotations

import difflib
import shutil
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

from grange.datastore import AttemptRecord, ContentAddressedStore


class StepResult(Mapping[str, Any]):
    """The artifacts of one task run by ``run_step``, and how it ended.

    ``next`` lists the steps its ``self.next(...)`` went to (empty for ``end``),
    ``foreach_count`` the number of items of a foreach it started (else None),
    ``caught`` is True when the step raised and its ``@catch`` handled it (the
    exception is then in the ``@catch(var=...)`` artifact, if it names one).
    """

    def __init__(self, record: AttemptRecord, cas: ContentAddressedStore, folder: str) -> None:
        object.__setattr__(self, "_record", record)
        object.__setattr__(self, "_cas", cas)
        object.__setattr__(self, "_values", {})
        # The step's store lives as long as this result (its artifacts load lazily).
        object.__setattr__(
            self, "_cleanup", weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
        )

    # -- how the task ended ---------------------------------------------------------

    @property
    def status(self) -> str:
        """``"ok"`` or ``"failed"``."""
        return self._record.status

    @property
    def successful(self) -> bool:
        return self._record.status == "ok"

    @property
    def next(self) -> list[str]:
        return list(self._record.extra.get("next", ()))

    @property
    def foreach_count(self) -> int | None:
        foreach = self._record.extra.get("foreach")
        return int(foreach["count"]) if foreach else None

    @property
    def caught(self) -> bool:
        return bool(self._record.extra.get("caught"))

    @property
    def pathspec(self) -> str:
        r = self._record
        return f"{r.flow}/{r.run_id}/{r.step}/{r.task_id}"

    @property
    def artifacts(self) -> dict[str, Any]:
        """Every artifact, loaded now."""
        return {name: self[name] for name in self}

    # -- the mapping ------------------------------------------------------------------

    def __getitem__(self, name: str) -> Any:
        values = self._values
        if name not in values:
            ref = self._record.artifacts.get(name) if isinstance(name, str) else None
            if ref is None:
                raise KeyError(self._missing(name))
            values[name] = self._cas.load(ref.key, name=name, task=self.pathspec)
        return values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._record.artifacts))

    def __len__(self) -> int:
        return len(self._record.artifacts)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(err.args[0]) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a step's result is read-only")

    def _missing(self, name: object) -> str:
        known = sorted(self._record.artifacts)
        text = f"step '{self._record.step}' has no artifact {name!r}"
        close = difflib.get_close_matches(str(name), known, n=1)
        text += f"; did you mean {close[0]!r}?" if close else f" (it has: {', '.join(known)})"
        if self.caught:
            text += " (the step raised, and its @catch caught the exception)"
        return text

    def __repr__(self) -> str:
        how = "caught" if self.caught else self.status
        return f"<StepResult {self.pathspec} {how}: {', '.join(self)}>"
