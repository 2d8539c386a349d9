"""``Metaflow()`` (every flow) and ``Flow("Name")`` (every run of one flow)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from grange.client.base import ClientObject, suggest
from grange.client.config import Stores, current_stores, get_namespace
from grange.client.sync import sync_flow, sync_flows
from grange.exceptions import ObjectNotFound
from grange.metastore import FlowRow, RunRow, RunTags
from grange.metastore.urls import mask_url

if TYPE_CHECKING:
    from grange.client.run import Run


class Metaflow:
    """Every flow with at least one run in the current namespace.

    ``Metaflow().flows`` lists them (by name); ``Metaflow()["Name"]`` is
    ``Flow("Name")``. The name is Metaflow's, kept so existing code works.
    """

    def __init__(self) -> None:
        self._stores = current_stores()
        self._ns = get_namespace()

    @property
    def flows(self) -> list[Flow]:
        return list(self)

    def __iter__(self) -> Iterator[Flow]:
        if not self._stores.exists():
            return iter([])
        tags = [self._ns] if self._ns else []
        sync_flows(self._stores)
        rows = self._stores.metadata.list_flows(tags=tags)
        return iter(
            [
                Flow(
                    row.name,
                    _row=row,
                    _namespace_check=False,
                    _stores=self._stores,
                    _namespace=self._ns,
                )
                for row in rows
            ]
        )

    def __getitem__(self, name: str) -> Flow:
        return Flow(name, _stores=self._stores, _namespace=self._ns)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(f.id == name for f in self)

    def __repr__(self) -> str:
        return "Metaflow()"


class Flow(ClientObject):
    """All runs of one flow: ``Flow("TrainFlow").latest_successful_run.data.model``.

    A flow is visible in a namespace when at least one of its runs is.
    Iteration yields runs newest first.
    """

    _KIND = "flow"
    _DEPTH = 1
    _CHILD = "run"

    def _fetch(self) -> FlowRow:
        stores = self._stores
        sync_flow(stores, self.id)  # runs that wrote only records, indexed first
        row = stores.metadata.get_flow(self.id)
        if row is None:
            known = [f.name for f in stores.metadata.list_flows()]
            raise ObjectNotFound(
                f"flow {self.id} has no runs in {mask_url(stores.describe())}",
                pathspec=self.pathspec,
                fix=suggest(self.id, known, "flow"),
            )
        return row

    def _fetch_tags(self) -> RunTags:
        return RunTags()

    def _in_namespace(self, ns: str) -> bool:
        return bool(self._stores.metadata.list_runs(self.id, tags=[ns], limit=1))

    def _namespace_fix(self) -> str:
        return "switch with grange.namespace(None) to read every run (or run the flow yourself)"

    def _run_rows(
        self, *tags: str, limit: int | None = None, status: str | None = None
    ) -> list[RunRow]:
        wanted = [*tags, self._ns] if self._ns else list(tags)
        sync_flow(self._stores, self.id)
        return self._stores.metadata.list_runs(self.id, tags=wanted, limit=limit, status=status)

    def _make_run(self, row: RunRow) -> Run:
        from grange.client.run import Run

        return self._adopt(Run, row.run_id, row)

    def _children(self) -> list[ClientObject]:
        return [self._make_run(row) for row in self._run_rows()]

    def _visible(self, child: ClientObject) -> bool:
        return True

    def __getitem__(self, run_id: str) -> Run:
        run: Run = self._child(run_id)
        return run

    def __iter__(self) -> Iterator[Run]:
        return super().__iter__()

    def runs(self, *tags: str) -> Iterator[Run]:
        """Runs carrying every tag in ``tags`` (and the namespace), newest first."""
        return iter([self._make_run(row) for row in self._run_rows(*tags)])

    @property
    def latest_run(self) -> Run | None:
        """The newest run in the namespace, whatever its status (it may still be running)."""
        rows = self._run_rows(limit=1)
        return self._make_run(rows[0]) if rows else None

    @property
    def latest_successful_run(self) -> Run | None:
        """The newest run in the namespace that succeeded."""
        rows = self._run_rows(limit=1, status="succeeded")
        return self._make_run(rows[0]) if rows else None


def missing_run(flow: Flow, run_id: str) -> ObjectNotFound:
    """The error for ``Flow/run_id`` not existing, naming the newest runs."""
    recent = [row.run_id for row in flow._stores.metadata.list_runs(flow.id, limit=5)]
    fix = (
        f"the newest runs of {flow.id} are {', '.join(recent)}"
        if recent
        else f"{flow.id} has no runs yet"
    )
    return ObjectNotFound(
        f"run {flow.id}/{run_id} does not exist", pathspec=f"{flow.id}/{run_id}", fix=fix
    )


def require_flow(stores: Stores, flow: str) -> None:
    """Raise the flow's :class:`ObjectNotFound` when it has no runs at all."""
    Flow(flow, _namespace_check=False, _stores=stores, _namespace=None)
