"""``current``: facts about the task that is running, readable from any step.

Outside a running task every fact is ``None`` and ``is_running_flow`` is
False. The ``@project`` facts (``project_name``, ``branch_name``,
``project_flow_name``) are ``None`` and ``is_production``/``is_user_branch``
False in a task of a flow without ``@project``. ``trigger`` (the events that
started the run) is read from the run's claim the first time a step asks, and
is ``None`` for a run no event started. The task executor calls
:meth:`Current._bind` before the step and :meth:`Current._unbind` after it.
"""

from __future__ import annotations

from typing import Any

_FIELDS = (
    "flow_name", "run_id", "step_name", "task_id", "retry_count", "origin_run_id",
    "pathspec", "username", "namespace", "tags", "parameter_names", "graph",
    "project_name", "branch_name", "project_flow_name", "is_production", "is_user_branch",
)  # fmt: skip
_FLAGS = frozenset({"is_production", "is_user_branch"})  # False, not None, when unset


class Current:
    """The facts of the running task (Metaflow's ``current``)."""

    flow_name: str | None
    run_id: str | None
    step_name: str | None
    task_id: str | None
    retry_count: int | None
    origin_run_id: str | None
    pathspec: str | None
    username: str | None
    namespace: str | None
    tags: set[str] | None  # the run's user tags: a set of its own per task, as Metaflow's
    parameter_names: list[str] | None
    graph: dict[str, Any] | None
    # @project: where the run belongs (None / False without @project)
    project_name: str | None
    branch_name: str | None
    project_flow_name: str | None
    is_production: bool
    is_user_branch: bool

    def __init__(self) -> None:
        self._unbind()

    @property
    def is_running_flow(self) -> bool:
        return self.run_id is not None

    # The running task's spec (grange.task.TaskSpec), for the client to see the
    # task before the runtime has indexed it; None outside a task.
    _task: Any = None
    # Bound by the task layer: ("run" | "task") -> the client object. The client
    # sits above this module, so it is never imported here.
    _client: Any = None

    # Bound by the task layer: () -> the run's grange.client.trigger.Trigger or None,
    # called on the first read of ``current.trigger`` only (nothing is read before).
    _trigger: Any = None
    _trigger_value: Any = None
    _trigger_read = False

    @property
    def trigger(self) -> Any:
        """The events that started the run, as a :class:`~grange.client.trigger.Trigger`
        (``.event``, ``.events``, ``.run``, ``.runs``, ``[name]``), or ``None`` for a run
        no event started, and outside a task. Read from the run's claim on first use."""
        if not self._trigger_read:
            self._trigger_value = self._trigger() if self._trigger is not None else None
            self._trigger_read = self._trigger is not None
        return self._trigger_value

    @property
    def task(self) -> Any:
        """The running task as a client :class:`~grange.Task` (None outside a task)."""
        return self._client("task") if self._client is not None else None

    @property
    def run(self) -> Any:
        """The running task's run as a client :class:`~grange.Run` (None outside a task)."""
        return self._client("run") if self._client is not None else None

    def _bind(self, **facts: Any) -> None:
        unknown = set(facts) - set(_FIELDS) - set(self._extras) - {"_task", "_client", "_trigger"}
        for name in unknown:
            self._extras.add(name)
        for name, value in facts.items():
            setattr(self, name, value)
        if "_trigger" in facts:  # another run's claim: read afresh
            self._trigger_read = False
            self._trigger_value = None

    def _unbind(self) -> None:
        for name in getattr(self, "_extras", ()):
            delattr(self, name)
        self._extras: set[str] = set()
        self._task = None
        self._client = None
        self._trigger = None
        self._trigger_value = None
        self._trigger_read = False
        for name in _FIELDS:
            setattr(self, name, False if name in _FLAGS else None)

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name, default)

    def __contains__(self, name: str) -> bool:
        if name in _FLAGS:  # set only in a run of a @project flow, as in Metaflow
            return self.project_name is not None
        return getattr(self, name, None) is not None

    def __repr__(self) -> str:
        if not self.is_running_flow:
            return "current(not running a flow)"
        return f"current({self.pathspec})"


current = Current()
