"""``Run("Flow/run")``: one execution of a flow, its steps, its status and its tags.

Status comes from the metadata index and is read afresh on every access, so
``while not run.finished: time.sleep(5)`` works. ``finished`` is true once the
run succeeded, failed or crashed (its runtime is gone; grange.metastore.liveness): unlike
Metaflow, where ``finished`` follows the ``end`` task and a run that failed
earlier never finishes (Metaflow issue #1104). ``successful`` means the run
succeeded, which implies its end step did.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from grange.client.base import ClientObject, namespace_fix, timestamp
from grange.client.flow import missing_run, require_flow
from grange.client.sync import index_if_stored, refresh_if_ended
from grange.datastore import latest_record
from grange.datastore.runs import update_tags
from grange.exceptions import ClientError
from grange.metastore import RunRow, RunTags

if TYPE_CHECKING:
    from grange.client.code import CodePackage
    from grange.client.flow import Flow
    from grange.client.step import Step
    from grange.client.task import Task, TaskData
    from grange.client.trigger import Trigger

_UNREAD: Any = object()  # Run._code before the claim was read


class Run(ClientObject):
    """One run of a flow; iteration yields its steps, the most recently started first."""

    _KIND = "run"
    _DEPTH = 2
    _CHILD = "step"
    _PARENT = "flow"

    _row: RunRow
    _end_step: str | None = None  # found once, then kept
    _code: Any = _UNREAD  # the CodePackage once read (None: the run has none)
    _extra: dict[str, Any] | None = None  # the claim's extra, once read
    _environment: dict[str, dict[str, Any]] | None = None  # its steps' environments, once read

    def _fetch(self) -> RunRow:
        flow, run_id = self._components
        row = self._stores.metadata.get_run(flow, run_id)
        if row is None and index_if_stored(self._stores, flow, run_id):
            row = self._stores.metadata.get_run(flow, run_id)  # it wrote only records
        if row is None:
            require_flow(self._stores, flow)
            from grange.client.flow import Flow

            raise missing_run(Flow(flow, _namespace_check=False, _stores=self._stores), run_id)
        return refresh_if_ended(self._stores, row)

    def _fetch_tags(self) -> RunTags:
        return self._row.tags

    def _namespace_fix(self) -> str:
        return namespace_fix(f"user:{self._row.user}" if self._row.user else None)

    def _step_names(self) -> list[str]:
        """Step names, the most recently started first (by their first task)."""
        flow, run_id = self._components
        first: dict[str, float] = {}
        for task in self._stores.metadata.list_tasks(flow, run_id):
            created = task.created_at or 0.0
            if task.step not in first or created < first[task.step]:
                first[task.step] = created
        return sorted(first, key=lambda step: (-first[step], step))

    def _children(self) -> list[ClientObject]:
        from grange.client.step import Step

        flow, run_id = self._components
        rows = {row.step: row for row in self._stores.metadata.list_steps(flow, run_id)}
        return [self._adopt(Step, name, rows[name]) for name in self._step_names() if name in rows]

    def __getitem__(self, step: str) -> Step:
        found: Step = self._child(step)
        return found

    def __iter__(self) -> Iterator[Step]:
        return super().__iter__()

    def steps(self, *tags: str) -> Iterator[Step]:
        """The run's steps (tags, as in Metaflow, filter on the run's own tags)."""
        return self._filtered(tags)

    @property
    def parent(self) -> Flow:
        flow: Flow = super().parent  # type: ignore[assignment]
        return flow

    # -- status ---------------------------------------------------------------------------

    def _fresh(self) -> RunRow:
        row = self._stores.metadata.get_run(*self._components)
        if row is not None:
            self._row = row
        return self._row

    @property
    def status(self) -> str:
        """``running``, ``succeeded``, ``failed`` or ``crashed`` (grange's addition)."""
        return self._fresh().status

    @property
    def successful(self) -> bool:
        return self._fresh().successful

    @property
    def finished(self) -> bool:
        """True once the run succeeded, failed or crashed (see the module docstring)."""
        return self._fresh().finished

    @property
    def finished_at(self) -> datetime | None:
        """When the run ended (for a crashed run, its last heartbeat); ``None`` while running."""
        row = self._fresh()
        return timestamp(row.finished_at) if row.finished else None

    @property
    def code(self) -> CodePackage | None:
        """The code package the run was started from (its flow's directory and grange's
        source; see :class:`~grange.client.code.CodePackage`), or ``None`` for a run
        that recorded none."""
        if self._code is _UNREAD:
            from grange.client.code import code_of

            self._code = code_of(self._claim_extra(), self._components[0], self._stores.blobs)
        code: CodePackage | None = self._code
        return code

    @property
    def trigger(self) -> Trigger | None:
        """The events that started the run (``@trigger``, ``@trigger_on_finish``,
        ``--trigger``...) as a :class:`~grange.client.trigger.Trigger`, or ``None``
        for a run no event started."""
        from grange.client.trigger import Trigger

        return Trigger.from_extra(self._claim_extra())

    @property
    def graph(self) -> dict[str, Any] | None:
        """The flow's graph as the run recorded it when it started (``FlowGraph.to_dict()``:
        steps, their types and transitions), or ``None`` for a run recorded before grange
        kept it. Read from the run's claim: the flow's code is not imported."""
        graph = self._claim_extra().get("graph")
        return dict(graph) if isinstance(graph, dict) else None

    @property
    def config(self) -> dict[str, Any]:
        """The run's configs (``Config(...)`` of the flow) by name, with the values it was
        started with: a :class:`~grange.ConfigValue` each (a ``plain=True`` config's value
        as it is); {} for a flow without configs. A grange extension: Metaflow's client
        has only the artifacts (``run.data.config``, a dict)."""
        from grange.user_configs.value import wrapped

        recorded = self._claim_extra().get("configs")
        if not isinstance(recorded, dict):
            return {}
        return {
            name: wrapped(item.get("value"), bool(item.get("plain")))
            for name, item in recorded.items()
            if isinstance(item, dict)
        }

    @property
    def environment(self) -> dict[str, EnvironmentInfo]:
        """The ``@pypi``/``@conda`` environment of each step that had one, by step name:
        what :attr:`Step.environment_info` gives ({} for a run without any)."""
        if self._environment is None:
            recorded = self._claim_extra().get("environments")
            found: dict[str, EnvironmentInfo] = {}
            locks: dict[str, str] = {}  # steps sharing a lock read it once
            for step, info in sorted(recorded.items() if isinstance(recorded, dict) else ()):
                if isinstance(info, dict):
                    where = f"step '{step}' of run {self.pathspec}"
                    found[step] = _environment_info(dict(info), self._stores.blobs, where, locks)
            self._environment = found
        return {step: dict(info) for step, info in self._environment.items()}

    def _claim_extra(self) -> dict[str, Any]:
        """What the run recorded in its claim's ``extra`` (read once; {} for none)."""
        if self._extra is None:
            from grange.datastore.runs import read_claim

            claim = read_claim(self._stores.blobs, *self._components)
            self._extra = dict(claim.extra) if claim is not None else {}
        return self._extra

    @property
    def origin_pathspec(self) -> str | None:
        """``Flow/run`` of the run this one resumed, else ``None``."""
        origin = self._row.origin_run_id
        return f"{self._components[0]}/{origin}" if origin else None

    # -- the end step ---------------------------------------------------------------------

    def _find_end_step(self) -> str | None:
        """The step that ended the flow: its successful task took no transition.

        Usually the step named ``end``, found with one record read; a flow whose
        end step has another name (``@step(end=True)``) costs a look at each step.
        """
        if self._end_step is not None:
            return self._end_step
        flow, run_id = self._components
        meta = self._stores.metadata
        steps = {row.step for row in meta.list_steps(flow, run_id)}
        if "end" in steps and self._ends_flow("end"):
            self._end_step = "end"
            return "end"
        for name in self._step_names():
            if name != "end" and not name.startswith("_") and self._ends_flow(name):
                self._end_step = name
                return name
        return None

    def _ends_flow(self, step: str) -> bool:
        flow, run_id = self._components
        for task in self._stores.metadata.list_tasks(flow, run_id, step=step)[:1]:
            blobs = self._stores.blobs
            record = latest_record(blobs, flow, run_id, step, task.task_id)
            if record is None and task.status in ("ok", "caught"):
                # The index and the datastore are not the same run's (a database
                # URL read with another machine's, or no, GRANGE_DATASTORE_ROOT).
                raise ClientError(
                    f"the metadata index says task {flow}/{run_id}/{step}/{task.task_id} "
                    f"succeeded, but {blobs.describe()} holds no record of it",
                    fix="set GRANGE_DATASTORE_ROOT to the datastore the run was stored in "
                    "before calling metadata(...)",
                )
            return record is not None and record.status == "ok" and "next" not in record.extra
        return False

    @property
    def end_task(self) -> Task | None:
        """The task of the end step, or ``None`` before it has run successfully."""
        name = self._find_end_step()
        return self[name].task if name is not None else None

    @property
    def data(self) -> TaskData | None:
        """The end task's artifacts (``run.data.model``), or ``None`` without an end task."""
        end = self.end_task
        return end.data if end is not None else None

    # -- tags ------------------------------------------------------------------------------

    def add_tag(self, tag: str | Iterable[str]) -> None:
        """Add a user tag (a tag that is already a system tag is left alone)."""
        self.replace_tags([], _as_list(tag))

    def add_tags(self, tags: Iterable[str]) -> None:
        self.replace_tags([], tags)

    def remove_tag(self, tag: str | Iterable[str]) -> None:
        """Remove a user tag; removing a system tag is a :class:`TagError`."""
        self.replace_tags(_as_list(tag), [])

    def remove_tags(self, tags: Iterable[str]) -> None:
        self.replace_tags(tags, [])

    def replace_tag(
        self, tag_to_remove: str | Iterable[str], tag_to_add: str | Iterable[str]
    ) -> None:
        self.replace_tags(_as_list(tag_to_remove), _as_list(tag_to_add))

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        """Remove, then add, user tags in one change; nothing changes if a rule is broken."""
        flow, run_id = self._components
        remove, add = _checked(tags_to_remove), _checked(tags_to_add)
        before = set(self._tags.user)
        user = self._stores.metadata.replace_tags(flow, run_id, remove=remove, add=add)
        self._tags = RunTags(user=user, system=self._tags.system)
        # Kept in the datastore too, so that a rebuilt index has them: this change,
        # applied to what the datastore holds (other processes may change them too).
        update_tags(
            self._stores.blobs,
            flow,
            run_id,
            remove=[t for t in remove if t not in add],
            add=[t for t in add if t in user],
            start=sorted(before),
        )


def _as_list(tags: str | Iterable[str]) -> list[str]:
    return [tags] if isinstance(tags, str) else list(tags)


def _checked(tags: Iterable[str]) -> Iterable[str]:
    """A list of the tags; a lone string goes through, for the store to refuse clearly."""
    return tags if isinstance(tags, str) else list(tags)


#: A step's environment as its run recorded it (a plain dict, as in Metaflow:
#: ``json.dumps`` takes it): the lock's summary (``type`` "pypi"/"conda", ``python``,
#: ``platform``, ``packages`` with name, version, url and sha256, ``requested``,
#: ``sha``, ``key``, ``tool``, ``lock_key``) and ``lock``, the lock file's text (read
#: from the datastore with the summary: a lock is a few kilobytes).
EnvironmentInfo = dict[str, Any]


def _environment_info(
    summary: dict[str, Any], blobs: Any, where: str, locks: dict[str, str]
) -> EnvironmentInfo:
    """``summary`` with the text of its lock (``locks``: those read already, by key)."""
    import json

    from grange.exceptions import BlobNotFound

    key = summary.get("lock_key")
    if not isinstance(key, str) or not key:
        raise ClientError(
            f"the environment that {where} recorded names no lock (no lock_key)",
            fix="the run's claim is damaged; run the flow again to record it anew",
        )
    if key not in locks:
        try:
            stored = json.loads(blobs.get_bytes(key))
            text = stored["text"]
            if not isinstance(text, str):
                raise TypeError(f"its text is a {type(text).__name__}")
        except BlobNotFound as error:
            raise ClientError(
                f"the lock file of {where} ({key}) is missing from the datastore",
                fix="it was deleted from the datastore; run the flow again to record it",
            ) from error
        except (ValueError, KeyError, TypeError) as error:
            what = "not JSON" if isinstance(error, ValueError) else f"no lock text: {error}"
            raise ClientError(
                f"the lock file of {where} ({key}) is damaged ({what})",
                fix="run the flow again to record its environment anew",
            ) from error
        locks[key] = text
    return {**summary, "lock": locks[key]}
