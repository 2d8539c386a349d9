"""``Task("Flow/run/step/task", attempt=None)``: one execution of a step.

Without ``attempt`` a task is seen through its latest attempt: the one that
started last for status, exception and logs, and the last one that ended for
artifacts (a retry still running does not hide the data of the attempt
before it). ``attempt=N`` pins everything to attempt ``N``.

A task's artifacts are every name it ended with, inherited ones and the
flow's parameters included; ``task.data`` reads each one lazily.
"""

from __future__ import annotations

import json
import time
from collections import namedtuple
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from grange.client.base import ClientObject, timestamp
from grange.client.data import Metadata, TaskData, TaskException, epoch_ms
from grange.client.step import natural_key, run_tasks
from grange.client.sync import index_if_stored
from grange.current import current
from grange.datastore import log_key, read_log
from grange.exceptions import ObjectNotFound
from grange.metastore import ArtifactRow, AttemptRow, RunRow, TaskRow
from grange.metastore.status import RUNNING

if TYPE_CHECKING:
    from grange.client.artifact import DataArtifact
    from grange.client.code import CodePackage
    from grange.client.run import EnvironmentInfo
    from grange.client.step import Step
    from grange.environments.package import PackageRef

LOG_STREAMS = ("stdout", "stderr")
# grange's runtime names -> Metaflow's (its METAFLOW_RUNTIME_NAME: "dev" when local)
METAFLOW_RUNTIMES = {"local": "dev", "argo": "argo-workflows"}


def running_task_row(pathspec: str) -> TaskRow | None:
    """The row of the task this process is running, if ``pathspec`` names it.

    The runtime indexes tasks in batches, so a step that looks itself up
    (``Task(current.pathspec)``) may run before its row is written; it is
    built from the running task's own facts then.
    """
    spec = current._task
    if spec is None or current.pathspec != pathspec:
        return None
    flow, run_id = spec.flow, spec.run_id
    return TaskRow(
        flow,
        run_id,
        spec.step,
        spec.task_id,
        created_at=time.time(),
        status=RUNNING,
        foreach_stack=[f.to_list() for f in spec.frames],
        parent_task_ids=[
            f"{flow}/{p}" if p.count("/") == 2 else f"{flow}/{run_id}/{p}" for p in spec.input_paths
        ],
    )


def running_attempt_row(pathspec: str) -> AttemptRow | None:
    """The attempt this process is running, if ``pathspec`` names its task."""
    spec = current._task
    if spec is None or current.pathspec != pathspec:
        return None
    return AttemptRow(
        spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt, started_at=time.time()
    )


class Task(ClientObject):
    """One task; iteration yields its public artifacts as :class:`DataArtifact` objects."""

    _KIND = "task"
    _DEPTH = 4
    _CHILD = "artifact"
    _PARENT = "step"

    _row: TaskRow

    def _fetch(self) -> TaskRow:
        flow, run_id, step, task_id = self._components
        row = self._stores.metadata.get_task(flow, run_id, step=step, task_id=task_id)
        if row is None:
            row = running_task_row(self.pathspec)
        if row is None and index_if_stored(self._stores, flow, run_id):  # wrote only records
            return self._fetch()
        if row is None:
            parent: Step = self.parent  # raises ObjectNotFound when the step is missing
            raise self._not_found("task", [r.task_id for r in parent._task_rows()])
        if self._attempt is not None:
            numbers = [a.attempt for a in self._stores.metadata.list_attempts(row)]
            if self._attempt not in numbers:
                raise ObjectNotFound(
                    f"task {self.pathspec} has no attempt {self._attempt}",
                    pathspec=self.pathspec,
                    fix="its attempts are " + (", ".join(map(str, numbers)) or "none yet"),
                )
        return row

    @property
    def parent(self) -> Step:
        step: Step = super().parent  # type: ignore[assignment]
        return step

    @property
    def environment_info(self) -> EnvironmentInfo | None:
        """The environment the task ran in (its step's: :attr:`Step.environment_info`),
        or ``None`` for a task run in the runtime's own Python. A task that ``resume``
        reused ran in an earlier run: that run's environment for the step (``None``
        when that run recorded none, as runs made before environments)."""
        return self._ran_as().parent.environment_info

    @property
    def code(self) -> CodePackage | None:
        """The code package of the run the task ran in (:attr:`Run.code`): for a task
        that ``resume`` reused, the earlier run's, whose code produced its artifacts
        and logs. ``None`` when that run recorded none."""
        from grange.client.code import CodePackage

        flow, run_id = self._ran_as()._components[:2]
        ref = self._package_of(flow, run_id)
        return CodePackage(ref, flow, self._stores.blobs) if ref is not None else None

    def _package_of(self, flow: str, run_id: str) -> PackageRef | None:
        """The code package run ``flow/run_id`` recorded in its claim (read once per run
        by the client's stores: a claim does not change once written)."""
        known = self._stores.packages
        if (flow, run_id) in known:
            ref: PackageRef | None = known[flow, run_id]
            return ref
        from grange.client.code import code_of
        from grange.datastore.runs import read_claim

        claim = read_claim(self._stores.blobs, flow, run_id)
        if claim is None:
            return None  # not cached: the run may not have written it yet
        code = code_of(dict(claim.extra), flow, None)
        known[flow, run_id] = ref = code.ref if code is not None else None
        return ref

    # -- attempts ------------------------------------------------------------------------

    def _attempts(self) -> list[AttemptRow]:
        rows = self._stores.metadata.list_attempts(self._row)
        running = running_attempt_row(self.pathspec)
        if running is not None and all(r.attempt != running.attempt for r in rows):
            rows.append(running)  # this process runs it; the runtime has not indexed it yet
        if self._attempt is not None:
            rows = [row for row in rows if row.attempt == self._attempt]
        return rows

    def _attempt_row(self) -> AttemptRow | None:
        """The pinned attempt, else the one that started last."""
        rows = self._attempts()
        return rows[-1] if rows else None

    def _data_attempt(self) -> AttemptRow | None:
        """The pinned attempt, else the last one that ended."""
        ended = [row for row in self._attempts() if row.status != RUNNING]
        return ended[-1] if ended else None

    def _artifact_rows(self) -> dict[str, ArtifactRow]:
        attempt = self._data_attempt()
        if attempt is None:
            return {}
        flow, run_id, step, task_id = self._components
        rows = self._stores.metadata.artifacts(
            flow, run_id, step=step, task_id=task_id, attempt=attempt.attempt
        )
        return {row.name: row for row in rows}

    @property
    def current_attempt(self) -> int:
        """The pinned attempt, else the number of the attempt that started last (0 before any)."""
        if self._attempt is not None:
            return self._attempt
        row = self._attempt_row()
        return row.attempt if row is not None else 0

    # -- artifacts ---------------------------------------------------------------------

    def _children(self) -> list[ClientObject]:
        from grange.client.artifact import DataArtifact

        rows = self._artifact_rows()
        return [self._adopt(DataArtifact, name, rows[name]) for name in sorted(rows)]

    def all_artifacts(self) -> list[DataArtifact]:
        """Every artifact by name, private ones (``_name``) included; grange's addition."""
        found: list[DataArtifact] = self._children()  # type: ignore[assignment]
        return found

    def __getitem__(self, name: str) -> DataArtifact:
        artifact: DataArtifact = self._child(name, check=False)
        return artifact

    def __iter__(self) -> Iterator[DataArtifact]:
        return super().__iter__()

    @property
    def data(self) -> TaskData:
        """The task's public artifacts as attributes, as they are now (a task still
        running gains them when it ends); each read from the datastore when asked for."""
        return TaskData(self.pathspec, self._artifact_rows(), self._load)

    def _load(self, key: str, name: str) -> Any:
        return self._stores.cas(self._components[0]).load(key, name=name, task=self.pathspec)

    @property
    def artifacts(self) -> Any:
        """The public artifacts as a named tuple of :class:`DataArtifact` (``.artifacts.x.sha``)."""
        found = list(self)
        names = namedtuple("MetaflowArtifacts", [a.id for a in found], rename=True)  # type: ignore[misc]
        return names._make(found)

    # -- status --------------------------------------------------------------------------

    @property
    def successful(self) -> bool:
        row = self._attempt_row()
        return row is not None and row.successful

    @property
    def finished(self) -> bool:
        """True once the attempt ended: succeeded, failed or crashed."""
        row = self._attempt_row()
        return row is not None and row.status != RUNNING

    @property
    def finished_at(self) -> datetime | None:
        row = self._attempt_row()
        if row is None or row.status == RUNNING:
            return None
        return timestamp(row.finished_at or row.heartbeat_at or row.started_at)

    @property
    def exception(self) -> TaskException | None:
        """What the attempt raised (``type``, ``message``, ``traceback``), else ``None``."""
        row = self._attempt_row()
        if row is None or not row.exception:
            return None
        return TaskException.from_record(row.exception)

    @property
    def index(self) -> int | None:
        """The position of the task's item in its innermost foreach, else ``None``."""
        foreach = [frame for frame in self._row.foreach_stack if len(frame) > 4 and frame[4]]
        return int(foreach[-1][2]) if foreach else None

    @property
    def runtime_name(self) -> str | None:
        for tag in self._tags.system:
            if tag.startswith("runtime:"):
                return tag.split(":", 1)[1]
        return None

    @property
    def origin_pathspec(self) -> str | None:
        """The task ``resume`` cloned this one from, else ``None``."""
        return self._row.origin_task

    # -- logs --------------------------------------------------------------------------

    def log_bytes(self, stream: str) -> bytes:
        """What the attempt wrote on ``stream`` (``'stdout'`` or ``'stderr'``), byte for
        byte; grange's addition. A task that ``resume`` reused shows what it printed
        in the run it comes from (:meth:`log_source` names that task)."""
        if stream not in LOG_STREAMS:
            raise ValueError(f"a log stream is 'stdout' or 'stderr', not {stream!r}")
        source = self._ran_as()
        flow, run_id, step, task_id = source._components
        key = log_key(flow, run_id, step, task_id, source.current_attempt, stream)
        return read_log(self._stores.blobs, key)

    def log_source(self) -> str:
        """The pathspec of the task whose output :meth:`log_bytes` shows: this one, or
        for a task that ``resume`` reused, the task that ran in an earlier run."""
        return self._ran_as().pathspec

    def _ran_as(self) -> Task:
        """This task, or (a clone by ``resume``) the task of an earlier run that ran."""
        task: Task = self
        seen = {self.pathspec}
        while task._row.origin_task and task._attempt in (None, 0):
            origin = task._row.origin_task
            if origin in seen:
                break
            seen.add(origin)
            try:
                task = Task(origin, _namespace_check=False, _stores=self._stores, _namespace=None)
            except ObjectNotFound:
                break
        return task

    @property
    def stdout(self) -> str:
        """What the attempt printed on standard output (so far, if it is running)."""
        return self.log_bytes("stdout").decode("utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.log_bytes("stderr").decode("utf-8", errors="replace")

    @property
    def stdout_size(self) -> int:
        return len(self.log_bytes("stdout"))

    @property
    def stderr_size(self) -> int:
        return len(self.log_bytes("stderr"))

    def loglines(
        self, stream: str, as_unicode: bool = True, meta_dict: dict[str, Any] | None = None
    ) -> Iterator[tuple[None, Any]]:
        """``(timestamp, line)`` pairs, as Metaflow's; the timestamp is always ``None``.

        grange keeps no per-line times: a task's output goes straight to its log
        file (no pipe, no reader stamping each line), which keeps a task's start and
        its prints cheap. Print a time yourself where it matters. ``meta_dict``
        (Metaflow's, for its log service) is accepted and ignored.
        """
        for line in self.log_bytes(stream).splitlines():
            yield None, line.decode("utf-8", errors="replace") if as_unicode else line

    # -- lineage -------------------------------------------------------------------------

    @property
    def parent_task_pathspecs(self) -> Iterator[str]:
        """Pathspecs of the tasks whose outputs this task read."""
        return iter(list(self._row.parent_task_ids))

    @property
    def child_task_pathspecs(self) -> Iterator[str]:
        """Pathspecs of the tasks that read this task's outputs."""
        rows = [row for row in run_tasks(self) if self.pathspec in row.parent_task_ids]
        rows.sort(key=lambda row: (row.created_at or 0.0, natural_key(row.task_id)))
        return iter([row.pathspec for row in rows])

    @property
    def parent_tasks(self) -> Iterator[Task]:
        return iter([self._relative(p) for p in self.parent_task_pathspecs])

    @property
    def child_tasks(self) -> Iterator[Task]:
        return iter([self._relative(p) for p in self.child_task_pathspecs])

    def _relative(self, pathspec: str) -> Task:
        return Task(pathspec, _namespace_check=False, _stores=self._stores, _namespace=self._ns)

    # -- metadata ------------------------------------------------------------------------

    @property
    def metadata(self) -> list[Metadata]:
        """Metadata entries of every attempt (of the pinned one, if any), oldest first.

        Metaflow's names where grange knows the value: ``attempt``, ``attempt_ok``,
        ``attempt-done``, ``origin-run-id``/``origin-task-id`` (a resumed run),
        ``user``, ``runtime``, ``python_version``, ``grange_version`` (Metaflow's
        ``metaflow_version``), ``script-name``, ``ds-type``, ``ds-root``. They are
        read from the run's and the attempts' records when asked for: a task
        records nothing more for them while it runs.
        """
        flow, run_id, step, task_id = self._components
        entries: list[Metadata] = []
        for row in self._attempts():
            entries.append(self._entry("attempt", str(row.attempt), row.started_at))
            if row.status != RUNNING:
                done = row.finished_at or row.started_at
                entries.append(self._entry("attempt_ok", str(row.successful), done))
                entries.append(self._entry("attempt-done", str(row.attempt), done))
        origin = self._row.origin_task
        created = self._row.created_at
        run = self._stores.metadata.get_run(flow, run_id)
        if run is not None:
            entries += [self._entry(k, v, created) for k, v in self._run_facts(run).items()]
        if origin:
            entries.append(self._entry("origin-run-id", origin.split("/")[1], created))
            entries.append(self._entry("origin-task-id", origin.split("/")[3], created))
        elif run is not None and run.origin_run_id:
            # as in Metaflow, every task of a resumed run names the origin run
            entries.append(self._entry("origin-run-id", run.origin_run_id, created))
        for tag in run.tags.system if run is not None else ():
            name, _, value = tag.partition(":")  # what every task of the run ran with
            if name in ("python_version", "grange_version"):
                entries.append(self._entry(name, value, created))
        stored = self._stores.metadata.task_metadata(
            flow, run_id, step=step, task_id=task_id, attempt=self._attempt
        )
        entries += [self._entry(m.name, m.value, m.created_at) for m in stored]
        return sorted(entries, key=lambda m: m.created_at)

    def _run_facts(self, run: RunRow) -> dict[str, str]:
        """Metaflow's per-task metadata that grange keeps once per run (or knows):
        ``runtime`` in Metaflow's words (``dev`` for a local run, ``argo-workflows``),
        ``ds-root`` the datastore the task's records were read from, which is where it
        wrote them, and ``code-package`` as Metaflow's ``Task.code`` reads it."""
        facts = {
            "user": run.user,
            "runtime": METAFLOW_RUNTIMES.get(run.runtime, run.runtime),
            "ds-type": self._stores.root.kind,
            "ds-root": self._stores.root.url,
        }
        ref = self._package_of(run.flow, run.run_id)
        if ref is not None:
            facts["script-name"] = ref.flow_file.rsplit("/", 1)[-1]
        ran = self._ran_as()._components[:2]  # a reused task: the earlier run's (Task.code)
        code = ref if ran == (run.flow, run.run_id) else self._package_of(*ran)
        if code is not None:
            where = "s3" if code.url.startswith("s3://") else "local"
            facts["code-package"] = json.dumps(
                {"ds_type": where, "sha": code.sha, "location": code.url}
            )
        return facts

    def _entry(self, name: str, value: str, when: float | None) -> Metadata:
        return Metadata(name, value, epoch_ms(when), name, self)

    @property
    def metadata_dict(self) -> dict[str, str]:
        """The latest value of each metadata name."""
        return {m.name: m.value for m in self.metadata}
