"""The cards of one task: ``current.card`` while the step runs, the final render after.

Only a step with ``@card`` (its own, or ``--with card``) gets here: other
tasks do not import this module.

Order at the end of the task (see docs/cards.md): the attempt's record
is committed first, then the cards are rendered and stored. A card never fails
the step nor loses its record; the task process waits for its cards, so a hung
card holds the task up to the card's timeout. If the task is killed while its
cards render, the attempt is recorded and each card already stored (or its
latest live data, shown as unfinished) is found under the attempt's folder.
Each card's render runs in a forked child (:mod:`grange.task.card_render`),
which also loads the inherited artifacts the default card previews; the parent
stores the page, then its meta. Each card is stored on its own: one that
cannot be stored never stops the others, and every card lost is named in the
task's stderr (``[@card] ...``).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from grange.cards.collector import CardCollector, CardSpec
from grange.cards.components import error_dict
from grange.cards.default import TaskFacts
from grange.cards.render import render_html
from grange.current import current
from grange.datastore import ArtifactRef, BlobStore, LocalBlobStore, MemoryBlobStore
from grange.datastore.cards import data_key, write_card, write_live_data
from grange.datastore.records import AttemptRecord, TaskPaths
from grange.decorators.base import StepDecorator
from grange.task.card_render import RenderJob, RenderResult, render_cards
from grange.task.guards import timeout_seconds
from grange.task.spec import TaskSpec
from grange.task.stores import TaskStores

if TYPE_CHECKING:
    from grange.task.context import TaskContext

#: Parameter values larger than this (stored size) are not loaded for the card.
MAX_PARAMETER_BYTES = 1 << 20
#: Inherited artifacts the step did not read are loaded for the default card up to
#: this stored size each, and this much in all; the others are listed with their size.
MAX_LOADED_ARTIFACT = 256 << 10
MAX_LOADED_TOTAL = 4 << 20


class TaskCards:
    """The ``@card`` decorators of the running task, and what the task does for them."""

    def __init__(
        self,
        decorators: list[StepDecorator],
        spec: TaskSpec,
        stores: TaskStores,
        *,
        started: float,
        graph: dict[str, Any],
    ) -> None:
        self.spec = spec
        self.stores = stores
        self.started = started
        self.graph = graph
        self.paths = TaskPaths(spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt)
        self.attributes: list[dict[str, Any]] = []
        specs = []
        for index, deco in enumerate(d for d in decorators if d.name == "card"):
            a = deco.attributes
            self.attributes.append(a)
            specs.append(
                CardSpec(
                    index=index,
                    type=str(a["type"]),
                    id=a["id"],
                    customize=bool(a["customize"]),
                    refresh_interval=float(a["refresh_interval"]),
                    options=dict(a["options"]),
                )
            )
        self.collector = CardCollector(specs, facts=self._live_facts, write=self._write_live)
        self.ctx: TaskContext | None = None
        self._parameters: dict[str, Any] | None = None

    # -- while the step runs -------------------------------------------------------------

    def bind(self, ctx: TaskContext) -> None:
        """``current.card`` for the step (``current._unbind`` removes it after)."""
        self.ctx = ctx
        current._bind(card=self.collector)

    def _write_live(self, spec: CardSpec, data: bytes) -> None:
        write_live_data(self.stores.blobs, self.paths, spec.slot, data)

    def _facts(self, status: str, **more: Any) -> TaskFacts:
        spec = self.spec
        return TaskFacts(
            pathspec=spec.pathspec,
            flow=spec.flow,
            run_id=spec.run_id,
            step=spec.step,
            task_id=spec.task_id,
            attempt=spec.attempt,
            status=status,
            started_at=self.started,
            finished_at=more.pop("finished_at", None),
            parameters=self._parameter_values(),
            artifacts=more.pop("artifacts", {}),
            unloaded=more.pop("unloaded", {}),
            graph=self.graph,
            exception=more.pop("exception", None),
        )

    def _live_facts(self) -> TaskFacts:
        """What is known while the step runs; artifacts appear in the final card."""
        return self._facts("running")

    def _parameter_values(self) -> dict[str, Any]:
        if self._parameters is None:
            values: dict[str, Any] = {}
            if self.ctx is not None:
                params = self.ctx.parameters
                refs = params.refs
                for name in params:
                    size = refs[name].size
                    values[name] = (
                        params[name]
                        if size <= MAX_PARAMETER_BYTES
                        else f"<{size:,} bytes, not loaded for the card>"
                    )
            self._parameters = values
        return self._parameters

    # -- when the task ends ----------------------------------------------------------------

    def finish(self, record: AttemptRecord, flow_dict: dict[str, Any] | None) -> None:
        """Render and store every card (after the record is committed); never raises."""
        try:
            self._finish(record, flow_dict or {})
        except Exception as exc:  # a card never fails the step, nor hides its result
            _note(f"the cards of task {self.spec.pathspec} were not stored: {exc}")
        except BaseException as exc:  # Ctrl-C, SystemExit: say so, then stop
            _note(
                f"the cards of task {self.spec.pathspec} not stored yet were lost: the task "
                f"was stopped while they rendered ({type(exc).__name__})"
            )
            raise

    def _final_facts(
        self, record: AttemptRecord, flow_dict: dict[str, Any], *, load: bool = True
    ) -> tuple[TaskFacts, list[tuple[str, ArtifactRef]]]:
        """The facts of the final card, and the inherited artifacts to load for it.

        The facts hold the values the step has in memory; the artifacts it only
        inherited are listed with their stored size. Those small enough (``load``)
        are returned to be loaded by the renderer child (:func:`load_into`), under
        the card's timeout: unpickling runs user code (``__setstate__``), which
        never runs in the task's process after its record."""
        parameters = set(self._parameter_values())
        artifacts = {
            name: value
            for name, value in flow_dict.items()
            if not name.startswith("_") and name not in parameters
        }
        unloaded: dict[str, int] = {}
        to_load: list[tuple[str, ArtifactRef]] = []
        budget = MAX_LOADED_TOTAL
        load = load and fork_safe(self.stores.blobs)
        for name, ref in sorted(record.artifacts.items()):
            if name.startswith("_") or name in parameters or name in artifacts:
                continue
            unloaded[name] = ref.size
            if load and ref.size <= min(MAX_LOADED_ARTIFACT, budget):
                to_load.append((name, ref))
                budget -= ref.size
        exception = None
        if record.exception:
            exception = str(record.exception.get("text") or record.exception.get("message"))
        facts = self._facts(
            "ok" if record.status == "ok" else "failed",
            finished_at=record.finished_at,
            artifacts=artifacts,
            unloaded=unloaded,
            exception=exception,
        )
        return facts, to_load

    def load_into(self, facts: TaskFacts, to_load: list[tuple[str, ArtifactRef]]) -> None:
        """In the renderer child: load the small inherited artifacts into ``facts``
        (one that cannot be loaded stays listed with its size)."""
        for name, ref in to_load:
            try:
                facts.artifacts[name] = self.stores.cas.load(
                    ref.key, name=name, task=self.spec.pathspec
                )
            except Exception:  # listed as not loaded instead
                continue
            facts.unloaded.pop(name, None)

    def _finish(self, record: AttemptRecord, flow_dict: dict[str, Any]) -> None:
        failed = record.status != "ok"
        jobs: list[RenderJob] = []
        limit = self._time_left()
        for handle, attrs in zip(self.collector.cards, self.attributes, strict=True):
            if failed and not attrs["save_errors"]:
                # As Metaflow: no card of a failed step unless errors are saved; its
                # live data goes too, so that no card is left looking unfinished.
                self._drop(handle.spec.slot, pending=handle.pending)
                continue
            timeout = float(attrs["timeout"])
            cut = limit is not None and limit < timeout
            if limit is not None:
                timeout = min(timeout, limit)
            jobs.append(RenderJob(handle, timeout, cut_by_step=cut))
        if not jobs:
            return
        default = any(job.handle.spec.type == "default" for job in jobs)
        facts, to_load = self._final_facts(record, flow_dict, load=default)
        created = time.time()
        prepare = None
        if to_load:
            prepare = lambda f: self.load_into(f, to_load)  # noqa: E731 - in the child
        results = render_cards(jobs, facts, prepare=prepare)
        for job, result in zip(jobs, results, strict=True):
            try:  # each card on its own: one that cannot be stored never stops the others
                self._store(job, result, created)
            except Exception as exc:
                _note(
                    f"card {job.handle.spec.slot} of task {self.spec.pathspec} was not "
                    f"stored: {type(exc).__name__}: {exc}"
                )

    def _drop(self, slot: str, *, pending: bool) -> None:
        what = f"card {slot} of task {self.spec.pathspec}"
        _note(
            f"{what} is not stored: the step failed and the card has save_errors=False"
            + ("; its last refresh() is dropped with it" if pending else "")
        )
        self._remove_live(slot)

    def _remove_live(self, slot: str) -> None:
        try:
            self.stores.blobs.delete(data_key(self.paths, slot))
        except Exception as exc:
            _note(
                f"card {slot} of task {self.spec.pathspec}: its live data could not be "
                f"removed: {type(exc).__name__}: {exc}"
            )

    def _time_left(self) -> float | None:
        """Seconds before the step's @timeout: the renders end before the runtime
        would stop the task (None: no @timeout)."""
        seconds = timeout_seconds(self.spec)
        if not seconds:
            return None
        return max(0.5, self.started + seconds - time.time() + 1.0)

    def _store(self, job: RenderJob, result: RenderResult, created: float) -> None:
        handle = job.handle
        slot = handle.spec.slot
        blobs = self.stores.blobs
        what = f"card {slot} of task {self.spec.pathspec}"
        if result.status == "ok" and result.html is not None:
            if (handle.refreshed or handle.pending) and result.doc is not None:
                try:
                    write_live_data(blobs, self.paths, slot, result.doc)  # the last live data
                except Exception as exc:
                    _note(f"{what}: its final live data was not stored: {exc}")
            write_card(
                blobs,
                self.paths,
                slot,
                result.html,
                status="ok",
                created_at=created,
                render_seconds=result.seconds,
            )
            return
        attrs = self.attributes[handle.spec.index]
        kept = "an error card is stored instead" if attrs["save_errors"] else "no card is stored"
        _note(f"{what} was not rendered: {result.reason}; {kept}")
        if handle.pending:
            _note(f"{what}: its last refresh() was not stored either")
        if not attrs["save_errors"]:
            self._remove_live(slot)  # no card at all, not one left looking unfinished
            return
        page = render_html(self._error_doc(job, result, created)).encode()
        write_card(
            blobs,
            self.paths,
            slot,
            page,
            status="timeout" if result.status == "timeout" else "error",
            created_at=created,
            render_seconds=result.seconds,
        )

    def _error_doc(self, job: RenderJob, result: RenderResult, created: float) -> dict[str, Any]:
        """A card saying why the card could not be rendered (strings only: no user code)."""
        spec = job.handle.spec
        title = (
            f"The card timed out after {job.timeout:.3g} seconds"
            if result.status == "timeout"
            else "The card could not be rendered"
        )
        if result.status != "timeout":
            hint = "The task's stderr log has the details."
        elif job.cut_by_step:
            hint = (
                "It was cut short by the step's @timeout, which left less time than "
                "@card(timeout=...): make the step or the card faster, or give the step "
                "more time with @timeout(seconds=...)."
            )
        else:
            hint = (
                "Something on the card is slow (an artifact's repr in the previews, or a "
                "component's render()): make it faster, or give the card more time with "
                "@card(timeout=...)."
            )
        text = (
            f"Card {spec.slot} of task {self.spec.pathspec} (attempt {self.spec.attempt}): "
            f"{result.reason}. The task itself is not affected. {hint}"
        )
        return {
            "version": 1,
            "type": spec.type,
            "id": spec.id,
            "title": f"{self.spec.pathspec} ({spec.type} card)",
            "created_at": created,
            "final": True,
            "components": [error_dict(title, text)],
        }


def fork_safe(blobs: BlobStore) -> bool:
    """Whether a forked child may read ``blobs`` (the local disk, memory: yes; an S3
    client, whose connections and threads a fork does not copy safely: no; a store
    not known here: no, its artifacts are listed with their size)."""
    return type(blobs) in (LocalBlobStore, MemoryBlobStore)


def _note(text: str) -> None:
    print(f"[@card] {text}", file=sys.stderr, flush=True)
