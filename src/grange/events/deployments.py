"""Deployments on one machine: what ``python flow.py deploy`` stores for ``grange scheduler``.

A :class:`DeploymentSpec` says what to run (the flow's code package, the flow
file inside it, the storage its runs use, the ``@project`` branch, the
parameter values and tags given at deploy time) and when (its
:class:`~grange.decorators.triggers.Schedule`, its
:class:`~grange.decorators.triggers.Triggers`) under which :class:`Policies`.
It is stored as JSON in the ``deployments`` table of the metadata database the
runs use, keyed by the deployment's name: the flow's ``project_flow_name``
(``<project>.<branch>.<Flow>`` under ``@project``, else the flow's name).

:class:`Deployments` reads and writes that table. Deploying again replaces the
spec and keeps the scheduler's state (the cron cursor, the events an AND is
waiting for, the runs it started); :meth:`Deployments.delete` removes the spec
and the state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from grange.decorators.triggers import (
    EventDependency,
    ResetAt,
    Schedule,
    Triggers,
    UpstreamFlow,
)
from grange.environments.package import PackageRef
from grange.exceptions import CommandError
from grange.metastore.dbapi import from_json, to_json

if TYPE_CHECKING:
    from grange.metastore import MetadataStore

Concurrency = Literal["allow", "forbid", "replace"]
Catchup = Literal["once", "all", "none"]
CONCURRENCY: tuple[Concurrency, ...] = ("allow", "forbid", "replace")
CATCHUP: tuple[Catchup, ...] = ("once", "all", "none")
DEFAULT_CONCURRENCY: Concurrency = "allow"  # Argo's default, so Metaflow's behaviour
DEFAULT_CATCHUP: Catchup = "once"
DEFAULT_CATCHUP_LIMIT = 10
SPEC_VERSION = 1


@dataclass(frozen=True)
class Policies:
    """How a deployment's runs may overlap and what happens to missed cron ticks.

    ``concurrency``: ``allow`` (default, as Argo and Metaflow) starts every run;
    ``forbid`` skips a cron tick while a run of the deployment is running and
    holds an event-started run until it ends; ``replace`` stops the running
    run (SIGTERM) and starts the new one; under ``forbid``, of several ticks due
    at once (caught up after downtime) only the latest runs. ``catchup``: after the scheduler was
    down, ``once`` (default) runs the latest missed tick once, ``all`` runs
    every missed tick (at most ``catchup_limit``, the latest ones), ``none``
    runs none of them.
    """

    concurrency: Concurrency = DEFAULT_CONCURRENCY
    catchup: Catchup = DEFAULT_CATCHUP
    catchup_limit: int = DEFAULT_CATCHUP_LIMIT

    def __post_init__(self) -> None:
        if self.concurrency not in CONCURRENCY:
            raise CommandError(
                f"unknown concurrency policy {self.concurrency!r}",
                fix="use --concurrency allow, forbid or replace",
            )
        if self.catchup not in CATCHUP:
            raise CommandError(
                f"unknown catch-up policy {self.catchup!r}", fix="use --catchup once, all or none"
            )
        if self.catchup_limit < 1:
            raise CommandError(
                f"--catchup-limit {self.catchup_limit} must be at least 1",
                fix="give a positive number of ticks",
            )


@dataclass(frozen=True)
class Storage:
    """Where the deployment's runs store: the datastore root (absolute) and the
    metadata URL as it may be shown (``local``, or a URL with any password as
    ``***``), and the profile the deployer worked under.

    The runs use the metadata database of the scheduler that starts them (it is
    where the deployment is stored, and where the events that chain runs are
    read): the scheduler passes its URL to them in ``GRANGE_METADATA``, never on
    a command line, and refuses to start a run whose deployment names another
    database (:func:`same_metadata`). ``None``: deployed by an older grange
    that did not record a URL holding a password."""

    datastore_root: str
    metadata: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class DeploymentSpec:
    """What ``grange scheduler`` runs for one deployment, and when."""

    name: str
    flow: str
    package: PackageRef
    storage: Storage
    schedule: Schedule | None = None
    triggers: Triggers | None = None
    # Values given at deploy, as the run's command-line words: {"alpha": ["--alpha", "5"]}.
    parameters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    parameter_names: tuple[str, ...] = ()  # the flow's, for the payload mappings
    tags: tuple[str, ...] = ()
    branch: str | None = None
    production: bool = False
    with_decorators: tuple[str, ...] = ()
    policies: Policies = field(default_factory=Policies)
    flow_file: str = ""  # where it was deployed from (absolute), for messages
    user: str = ""  # who deployed it: its runs are theirs (GRANGE_USER), as on Argo
    # The events table's last seq when it was deployed: every later event counts for
    # it, even one a scheduler's pass under way when it was saved moved past.
    events_after: int | None = None
    # The flow's configs as bound at deploy ({name: value}): its runs use them, not the
    # files they came from (not in the code package), as an Argo template bakes them.
    configs: Mapping[str, Any] | None = None

    @property
    def manual_only(self) -> bool:
        """Neither ``@schedule`` nor a trigger: runs start only when asked."""
        return self.schedule is None and self.triggers is None

    def top_level_args(self) -> list[str]:
        """The options before ``run`` that put the run in the deployment's storage
        and on its branch (the metadata URL goes in the environment: see
        :class:`Storage`)."""
        args = ["--datastore-root", self.storage.datastore_root]
        if self.branch is not None:
            args += ["--branch", self.branch]
        if self.production:
            args.append("--production")
        for spec in self.with_decorators:
            args += ["--with", spec]
        return args

    def describe_when(self) -> str:
        """When it runs, in words."""
        parts = []
        if self.schedule is not None:
            tz = f" ({self.schedule.timezone})" if self.schedule.timezone else " (UTC)"
            parts.append(f"on cron '{self.schedule.cron}'{tz}")
        if self.triggers is not None:
            names = [d.name for d in self.triggers.dependencies]
            if self.triggers.kind == "run":
                flows = [d.upstream.project_flow_name if d.upstream else d.name
                         for d in self.triggers.dependencies]  # fmt: skip
                what = " and ".join(flows)
                parts.append(f"when {what} finish{'es' if len(flows) == 1 else ''} successfully")
            elif len(names) == 1:
                parts.append(f"when the event {names[0]} arrives")
            else:
                parts.append("when all of the events " + ", ".join(names) + " have arrived")
        return " and ".join(parts) if parts else "only when triggered by hand"

    # -- JSON --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SPEC_VERSION,
            "name": self.name,
            "flow": self.flow,
            "package": self.package.to_dict(),
            "storage": {
                "datastore_root": self.storage.datastore_root,
                "metadata": self.storage.metadata,
                "profile": self.storage.profile,
            },
            "schedule": _schedule_dict(self.schedule),
            "triggers": _triggers_dict(self.triggers),
            "parameters": {k: list(v) for k, v in self.parameters.items()},
            "parameter_names": list(self.parameter_names),
            "tags": list(self.tags),
            "branch": self.branch,
            "production": self.production,
            "with_decorators": list(self.with_decorators),
            "policies": {
                "concurrency": self.policies.concurrency,
                "catchup": self.policies.catchup,
                "catchup_limit": self.policies.catchup_limit,
            },
            "flow_file": self.flow_file,
            "user": self.user,
            "events_after": self.events_after,
            "configs": None if self.configs is None else dict(self.configs),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeploymentSpec:
        storage = data.get("storage") or {}
        policies = data.get("policies") or {}
        return cls(
            name=str(data["name"]),
            flow=str(data["flow"]),
            package=PackageRef.from_dict(dict(data["package"])),
            storage=Storage(
                datastore_root=str(storage["datastore_root"]),
                metadata=storage.get("metadata"),
                profile=storage.get("profile"),
            ),
            schedule=_schedule_of(data.get("schedule")),
            triggers=_triggers_of(data.get("triggers")),
            parameters={
                str(k): tuple(str(w) for w in v) for k, v in (data.get("parameters") or {}).items()
            },
            parameter_names=tuple(data.get("parameter_names") or ()),
            tags=tuple(data.get("tags") or ()),
            branch=data.get("branch"),
            production=bool(data.get("production")),
            with_decorators=tuple(data.get("with_decorators") or ()),
            policies=Policies(
                concurrency=policies.get("concurrency", DEFAULT_CONCURRENCY),
                catchup=policies.get("catchup", DEFAULT_CATCHUP),
                catchup_limit=int(policies.get("catchup_limit") or DEFAULT_CATCHUP_LIMIT),
            ),
            flow_file=str(data.get("flow_file") or ""),
            user=str(data.get("user") or ""),
            events_after=None if data.get("events_after") is None else int(data["events_after"]),
            configs=data.get("configs"),
        )


def same_metadata(deployed: str | None, scheduler: str | None) -> bool:
    """Whether a deployment's metadata database (:attr:`Storage.metadata`) is the
    scheduler's (``None``: the local SQLite index under the datastore root).
    Passwords do not count (the deployment keeps none); a deployment that recorded
    no URL (an older grange's, deployed with a password) is taken as the scheduler's."""
    if deployed is None:
        return True
    if deployed in ("", "local") or scheduler in (None, "", "local"):
        return deployed in ("", "local") and scheduler in (None, "", "local")
    return _comparable(deployed) == _comparable(scheduler)


def _comparable(url: str) -> str:
    from grange.metastore.urls import mask_url

    scheme, sep, rest = mask_url(url).replace(":***@", "@", 1).partition("://")
    scheme = scheme.split("+", 1)[0]  # the driver does not change the database
    if scheme == "postgres":
        scheme = "postgresql"
    return scheme + sep + rest.rstrip("/")


def _schedule_dict(schedule: Schedule | None) -> dict[str, Any] | None:
    if schedule is None:
        return None
    return {"cron": schedule.cron, "timezone": schedule.timezone}


def _schedule_of(data: Mapping[str, Any] | None) -> Schedule | None:
    if not data:
        return None
    return Schedule(cron=str(data["cron"]), timezone=data.get("timezone"))


def _triggers_dict(triggers: Triggers | None) -> dict[str, Any] | None:
    if triggers is None:
        return None
    deps = []
    for dep in triggers.dependencies:
        up = dep.upstream
        deps.append(
            {
                "name": dep.name,
                "parameters": dict(dep.parameters),
                "upstream": None
                if up is None
                else {"flow": up.flow, "project": up.project, "branch": up.branch},
            }
        )
    reset = triggers.reset_at
    return {
        "kind": triggers.kind,
        "dependencies": deps,
        "reset_at": None if reset is None else {"cron": reset.cron, "timezone": reset.timezone},
    }


def _upstream(data: Mapping[str, Any] | None) -> UpstreamFlow | None:
    if not data:
        return None
    return UpstreamFlow(flow=data["flow"], project=data.get("project"), branch=data.get("branch"))


def _triggers_of(data: Mapping[str, Any] | None) -> Triggers | None:
    if not data:
        return None
    deps = []
    for dep in data.get("dependencies") or ():
        up = dep.get("upstream")
        deps.append(
            EventDependency(
                name=str(dep["name"]),
                parameters=dict(dep.get("parameters") or {}),
                upstream=_upstream(up),
            )
        )
    reset = data.get("reset_at")
    return Triggers(
        kind="run" if data.get("kind") == "run" else "event",
        dependencies=tuple(deps),
        reset_at=None if not reset else ResetAt(cron=reset["cron"], timezone=reset.get("timezone")),
    )


@dataclass(frozen=True)
class Deployment:
    """A stored deployment: its spec and its row's facts."""

    spec: DeploymentSpec
    paused: bool
    user: str
    created_at: float
    updated_at: float

    @property
    def name(self) -> str:
        return self.spec.name


class Deployments:
    """The ``deployments`` table of a metadata store (each method one transaction)."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def save(self, spec: DeploymentSpec, *, user: str, now: float) -> Deployment | None:
        """Store ``spec``, replacing the deployment of that name (its paused flag and
        the scheduler's state are kept); the deployment it replaced, if any."""
        with self.store._write() as c:
            before = _one(c, spec.name)
            if before is None:
                c.execute(
                    'INSERT INTO deployments (name, flow, spec, paused, "user", created_at, '
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (spec.name, spec.flow, to_json(spec.to_dict()), False, user, now, now),
                )
            else:
                c.execute(
                    'UPDATE deployments SET flow = ?, spec = ?, "user" = ?, updated_at = ? '
                    "WHERE name = ?",
                    (spec.flow, to_json(spec.to_dict()), user, now, spec.name),
                )
            return before

    def get(self, name: str) -> Deployment | None:
        with self.store._read() as c:
            return _one(c, name)

    def require(self, name: str) -> Deployment:
        """The deployment ``name``, or an error that lists the known ones."""
        found = self.get(name)
        if found is not None:
            return found
        known = [d.name for d in self.list()]
        import difflib

        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        listed = ", ".join(known) if known else "none"
        raise CommandError(
            f"no deployment {name!r} in this metadata database (deployed: {listed})",
            fix=f"{hint}`grange deployments list` shows them; `python flow.py deploy` adds one",
        )

    def list(self) -> list[Deployment]:
        with self.store._read() as c:
            rows = c.execute(
                f"SELECT {_COLUMNS} FROM deployments ORDER BY name"
            ).fetchall()  # fmt: skip
        return [_deployment(row) for row in rows]

    def set_paused(self, name: str, paused: bool, *, now: float) -> bool:
        """Pause or resume; whether the deployment exists."""
        with self.store._write() as c:
            cursor = c.execute(
                "UPDATE deployments SET paused = ?, updated_at = ? WHERE name = ?",
                (paused, now, name),
            )
            return cursor.rowcount > 0

    def delete(self, name: str) -> bool:
        """Remove the deployment, its scheduler state and its launch records."""
        with self.store._write() as c:
            cursor = c.execute("DELETE FROM deployments WHERE name = ?", (name,))
            c.execute("DELETE FROM scheduler_state WHERE deployment = ?", (name,))
            c.execute("DELETE FROM deployment_runs WHERE deployment = ?", (name,))
            return cursor.rowcount > 0


_COLUMNS = 'name, flow, spec, paused, "user", created_at, updated_at'


def _one(c: Any, name: str) -> Deployment | None:
    row = c.execute(f"SELECT {_COLUMNS} FROM deployments WHERE name = ?", (name,)).fetchone()
    return None if row is None else _deployment(row)


def _deployment(row: Sequence[Any]) -> Deployment:
    return Deployment(
        spec=DeploymentSpec.from_dict(from_json(row[2])),
        paused=bool(row[3]),
        user=str(row[4]),
        created_at=float(row[5]),
        updated_at=float(row[6]),
    )
