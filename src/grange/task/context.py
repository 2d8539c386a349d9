"""The live side of one task: what ``self`` can read, and what it persists.

A :class:`TaskContext` is attached to the flow instance of the running task.
``FlowSpec`` asks it for artifacts it does not hold yet (loaded lazily from the
parent task's record), for ``self.input`` / ``self.index`` / ``foreach_stack()``
and for ``merge_artifacts``; at the end, :meth:`TaskContext.persist` saves what
the step set and references, never rewrites, what it only inherited.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from grange.current import current
from grange.datastore import (
    ArtifactRef,
    BlobStore,
    ContentAddressedStore,
    ForeachRef,
    load_item,
)
from grange.decorators.project import NO_PROJECT_FACTS, ProjectInfo
from grange.exceptions import GrangeError
from grange.task.inputs import Inputs, ParentView, parse_input_path
from grange.task.spec import Frame, TaskSpec
from grange.task.stores import TaskStores

# Attributes of a flow instance that belong to grange, never saved as artifacts.
INTERNAL_PREFIX = "_grange_"
NOT_ARTIFACTS = frozenset({"_transition"})


def bind_current(
    spec: TaskSpec,
    graph: dict[str, Any],
    parameter_names: list[str],
    project: ProjectInfo | None = None,
    blobs: BlobStore | None = None,
) -> None:
    """Set what ``current`` says in the task of ``spec`` (unset after the step).

    ``current.trigger`` reads the run's claim from ``blobs`` on first use only."""
    current._bind(
        flow_name=spec.flow,
        run_id=spec.run_id,
        step_name=spec.step,
        task_id=spec.task_id,
        retry_count=spec.attempt,
        origin_run_id=spec.origin_run_id,
        pathspec=spec.pathspec,
        username=spec.user,
        # What client calls in the step read: --namespace, else the user's own
        # (also in a @project run, as Metaflow's local runs).
        namespace=spec.namespace or f"user:{spec.user}",
        tags=set(spec.tags),
        parameter_names=parameter_names,
        graph=graph,
        _task=spec,
        _client=partial(_client_object, spec.pathspec),
        _trigger=partial(_run_trigger, blobs, spec.flow, spec.run_id) if blobs else None,
        **(project.current_facts() if project is not None else NO_PROJECT_FACTS),
    )


def _client_object(pathspec: str, kind: str) -> Any:
    """``current.task`` / ``current.run``: read through the client, whatever the namespace."""
    from grange.client import Run, Task

    if kind == "task":
        return Task(pathspec, _namespace_check=False)
    return Run("/".join(pathspec.split("/")[:2]), _namespace_check=False)


def _run_trigger(blobs: BlobStore, flow: str, run_id: str) -> Any:
    """``current.trigger``: what the run's claim says started it (None: nothing)."""
    from grange.client.trigger import Trigger
    from grange.datastore.runs import read_claim

    claim = read_claim(blobs, flow, run_id)
    return Trigger.from_extra(claim.extra if claim is not None else None)


class MergeError(GrangeError):
    """``merge_artifacts`` found branches that disagree, or names that are missing."""


class LazyParameters(Mapping[str, Any]):
    """Parameter values of the run, each loaded on first use."""

    def __init__(
        self,
        refs: dict[str, ArtifactRef],
        cas: ContentAddressedStore,
        names: list[str],
        task: str | None = None,
    ) -> None:
        self._refs = {n: refs[n] for n in names if n in refs}
        self._cas = cas
        self._task = task
        self._cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._cache:
            self._cache[name] = self._cas.load(self._refs[name].key, name=name, task=self._task)
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    @property
    def refs(self) -> dict[str, ArtifactRef]:
        return dict(self._refs)


class TaskContext:
    """Reads and writes on behalf of one running task."""

    def __init__(
        self,
        spec: TaskSpec,
        stores: TaskStores,
        *,
        is_join: bool,
        parameter_names: list[str],
        constant_names: Sequence[str] = (),
    ) -> None:
        self.spec = spec
        self.stores = stores
        self.is_join = is_join
        params_record = stores.parameters_record(spec.run_id)
        self.parameters = LazyParameters(
            params_record.artifacts, stores.cas, parameter_names, spec.pathspec
        )
        # The flow's constants, stored with the parameters: every task carries them.
        self.constants = {
            n: params_record.artifacts[n] for n in constant_names if n in params_record.artifacts
        }
        self.parents = [
            ParentView(
                stores.final_record(spec.flow, *parse_input_path(p, spec.run_id)), stores.cas
            )
            for p in spec.input_paths
        ]
        # Artifacts the task starts with (by reference): a join starts with the
        # parameters only; any other step with everything its parent had.
        if is_join or not self.parents:
            self.inherited: dict[str, ArtifactRef] = {}
        else:
            self.inherited = dict(self.parents[0].refs)
        self._foreach_cache: dict[int, Any] = {}

    # -- reads from FlowSpec ----------------------------------------------------

    def load_artifact(self, name: str) -> Any:
        """The value of an inherited artifact; KeyError if the task has none."""
        ref = self.inherited[name]
        return self.stores.cas.load(ref.key, name=name, task=self.spec.pathspec)

    def artifact_names(self) -> list[str]:
        return sorted(self.inherited)

    def _frame_value(self, depth: int, frame: Frame) -> Any:
        if depth not in self._foreach_cache:
            assert frame.items_key is not None
            ref = ForeachRef(key=frame.items_key, count=frame.count, flow=self.spec.flow)
            self._foreach_cache[depth] = load_item(self.stores.blobs, ref, frame.index)
        return self._foreach_cache[depth]

    @property
    def in_foreach(self) -> bool:
        return bool(self.spec.foreach_frames)

    def foreach_input(self) -> Any:
        frames = self.spec.foreach_frames
        return self._frame_value(len(frames) - 1, frames[-1])

    def foreach_index(self) -> int:
        return self.spec.foreach_frames[-1].index

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        return [
            (f.index, f.count, self._frame_value(i, f))
            for i, f in enumerate(self.spec.foreach_frames)
        ]

    def inputs(self) -> Inputs:
        return Inputs(self.parents)

    # -- merge_artifacts ----------------------------------------------------------

    def merge(
        self,
        flow_dict: dict[str, Any],
        inputs: Inputs,
        include: list[str] | None,
        exclude: list[str] | None,
    ) -> None:
        """Adopt (by reference) artifacts the branches agree on; see FlowSpec.merge_artifacts."""
        if not self.is_join:
            raise MergeError(
                "merge_artifacts() can only be called in a join step",
                step=self.spec.step,
                fix="call it in the step that takes 'inputs'",
            )
        if include and exclude:
            raise MergeError(
                "merge_artifacts() takes include= or exclude=, not both",
                step=self.spec.step,
                fix="pass only one of include= and exclude=",
            )
        candidates: dict[str, dict[str, ArtifactRef]] = {}  # name -> {branch: ref}
        for parent in inputs:
            for name, ref in parent.refs.items():
                if (
                    name.startswith(INTERNAL_PREFIX)
                    or name in self.parameters
                    or name in self.constants
                ):
                    continue
                candidates.setdefault(name, {})[parent.step_label] = ref
        wanted = set(include) if include else set(candidates) - set(exclude or ())
        wanted -= set(flow_dict)  # set in the join already: the join's value wins
        missing = sorted(n for n in wanted if n not in candidates)
        conflicts = sorted(
            n for n in wanted & set(candidates) if len({r.key for r in candidates[n].values()}) > 1
        )
        if conflicts:
            name = conflicts[0]
            branches = ", ".join(sorted(candidates[name]))
            also = f"; so do {', '.join(conflicts[1:])}" if conflicts[1:] else ""
            raise MergeError(
                f"merge_artifacts() cannot merge artifact '{name}': its value differs between "
                f"branches {branches}{also}",
                step=self.spec.step,
                fix=f"set self.{name} in the join before calling merge_artifacts(), "
                f"or pass exclude=['{name}']",
            )
        if missing:
            raise MergeError(
                f"merge_artifacts(include=...) names {', '.join(missing)}, which no branch has",
                step=self.spec.step,
                fix="remove them from include=, or set them in the branches",
            )
        for name in wanted & set(candidates):
            self.inherited[name] = next(iter(candidates[name].values()))

    # -- persisting -----------------------------------------------------------------

    def persist(
        self, flow_dict: dict[str, Any], *, skip_unsaveable: bool = False
    ) -> dict[str, ArtifactRef]:
        """Save every artifact the step holds; keep references for the rest.

        ``skip_unsaveable`` (a failed attempt's artifacts): an artifact that
        cannot be saved is left out, with a line on stderr, instead of raising.
        """
        refs: dict[str, ArtifactRef] = dict(self.inherited)
        refs.update(self.parameters.refs)
        refs.update(self.constants)
        values = {
            name: value
            for name, value in flow_dict.items()
            if not name.startswith(INTERNAL_PREFIX) and name not in NOT_ARTIFACTS
        }

        def skip(name: str, err: Exception) -> None:
            print(f"artifact '{name}' of the failed task is not saved: {err}", file=sys.stderr)

        refs.update(
            self.stores.save_artifacts(
                values, self.spec.step, on_error=skip if skip_unsaveable else None
            )
        )
        return refs
