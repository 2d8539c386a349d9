"""The scheduler's loop: cron ticks and events in, runs out.

One :meth:`Scheduler.step` does, in order:

1. **follow** the runs it started: a process that ended is recorded
   ``succeeded`` (exit status 0) or ``failed``; one started by an earlier
   scheduler is found by its pid, and its outcome read from the run's status
   in the metadata database;
2. **cron**: for each deployment with a schedule, the ticks since its cursor
   (in its timezone) become launches (``cron:<tick>``) under its catch-up
   policy, and the cursor moves past them in the same transaction;
3. **events**: the events recorded after the scheduler's cursor, in arrival
   order, are matched to the deployments' dependencies
   (:mod:`~grange.events.scheduler.matching`); a satisfied AND becomes a
   launch (``events:<ids>``), in the same transaction that moves the cursor
   and saves the pending sets;
4. **launch** the pending launches under each deployment's concurrency policy.

Every decision is a row of ``deployment_runs`` inserted once per launch key
before anything is started, and every run is started from such a row: so a
tick or a set of events starts at most one run, through crashes and restarts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from grange.events.deployments import Deployment, Deployments
from grange.events.scheduler import state as st
from grange.events.scheduler.cron import ticks_between
from grange.events.scheduler.launch import GONE, RUNNING, UNKNOWN, Launcher, Started
from grange.events.scheduler.matching import launch_key, match, provided_parameters
from grange.events.scheduler.state import Launch, SchedulerState

if TYPE_CHECKING:
    from grange.events.scheduler.clock import Clock
    from grange.metastore import MetadataStore

ON_TIME = 60.0  # seconds: a tick seen later than this was missed (catch-up "none" skips it)
EVENT_BATCH = 500


class EventRecordLike(Protocol):
    seq: int
    event_id: str
    name: str
    payload: Any
    timestamp: float
    received_at: float


class EventSource(Protocol):
    def after(self, seq: int, limit: int) -> Sequence[Any]:
        """Events recorded after ``seq``, in arrival order."""
        ...


@dataclass
class StepReport:
    started: list[str] = field(default_factory=list)  # launch keys
    finished: list[tuple[str, str]] = field(default_factory=list)  # (launch key, status)
    open: int = 0  # launches pending or running (of deployments not paused)

    @property
    def idle(self) -> bool:
        return self.open == 0


def event_dict(record: Any) -> dict[str, Any]:
    """A recorded event as the matcher and the run's trigger see it."""
    to_trigger = getattr(record, "to_trigger_event", None)
    if callable(to_trigger):
        data = to_trigger().to_dict()
    else:
        payload = dict(record.payload or {})
        auto = payload.get("auto-generated-by-metaflow") in (True, "true", "True")
        data = {
            "name": record.name,
            "id": str(payload.get("id") or record.event_id) if auto else record.event_id,
            "timestamp": float(record.timestamp),
            "type": "run" if auto else "event",
            "payload": payload,
        }
    data["received_at"] = float(record.received_at)
    data["seq"] = int(record.seq)
    return data


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Scheduler:
    """Runs the deployments of one metadata database (see the module's doc)."""

    def __init__(
        self,
        store: MetadataStore,
        events: EventSource,
        launcher: Launcher,
        clock: Clock,
        *,
        say: Callable[[str], None] = lambda _: None,
        on_time: float = ON_TIME,
    ) -> None:
        self.store = store
        self.events = events
        self.launcher = launcher
        self.clock = clock
        self.say = say
        self.on_time = on_time
        self.state = SchedulerState(store)
        self.deployments = Deployments(store)

    # -- one pass ---------------------------------------------------------------
    def step(self) -> StepReport:
        report = StepReport()
        deployments = {d.name: d for d in self.deployments.list()}
        self._follow(deployments, report)
        now = self.clock.now()
        for deployment in deployments.values():
            if deployment.spec.schedule is not None:
                self._cron(deployment, now)
        self._events(deployments, now)
        self._launch(deployments, report)
        report.open = sum(
            1
            for launch in self.state.launches(statuses=st.OPEN)
            if launch.deployment in deployments
            and not (launch.status == st.PENDING and deployments[launch.deployment].paused)
        )
        return report

    def run(
        self,
        stop: threading.Event,
        wake: threading.Event,
        *,
        poll_interval: float = 1.0,
        once: bool = False,
        heartbeat: Callable[[float], None] | None = None,
    ) -> None:
        """Step until ``stop`` is set (or, with ``once``, until nothing is pending or
        running); ``wake`` cuts a wait short (an event arrived)."""
        from grange.exceptions import MetadataError

        while not stop.is_set():
            try:
                report = self.step()
            except MetadataError as err:  # a database busy or unreachable for a while
                self.say(f"this pass failed, trying again: {err.message}")
                wake.clear()
                self.clock.wait(poll_interval, wake)
                continue
            if heartbeat is not None:
                heartbeat(self.clock.now())
            if once and report.idle:
                return
            wake.clear()
            self.clock.wait(poll_interval, wake)

    # -- 1. follow --------------------------------------------------------------
    def _follow(self, deployments: Mapping[str, Deployment], report: StepReport) -> None:
        for launch in self.state.launches(statuses=st.ACTIVE):
            info = self.state.value(launch.deployment, st.LAUNCH + launch.launch_key) or {}
            if not info.get("started"):
                self._end(launch, st.FAILED, report, message="the scheduler stopped while "
                          "starting this run: it may not have started; check `grange runs` "
                          "and trigger it again if needed")  # fmt: skip
                continue
            started = Started.from_dict(info["started"])
            outcome = self.launcher.poll(started)
            run_id = launch.run_id or self.launcher.run_id(started)
            if outcome == UNKNOWN:
                row = self.store.get_run(launch.flow, run_id) if run_id else None
                outcome = GONE if row is not None and row.status != "running" else RUNNING
            if outcome == RUNNING:
                if run_id and not launch.run_id:
                    self.state.set(launch.deployment, launch.launch_key, run_id=run_id)
                continue
            message: str | None
            if outcome == GONE:
                status, message = self._outcome_of(launch.flow, run_id, started)
            else:
                code = int(outcome)
                status = st.SUCCEEDED if code == 0 else st.FAILED
                message = None if code == 0 else f"exit status {code}; log: {started.log}"
            self._end(launch, status, report, run_id=run_id, message=message)

    def _outcome_of(self, flow: str, run_id: str | None, started: Started) -> tuple[str, str]:
        """The outcome of a run whose process this scheduler did not start."""
        if run_id is None:
            return st.FAILED, f"the run ended before it claimed a run id; log: {started.log}"
        row = self.store.get_run(flow, run_id)
        if row is not None and row.status == "succeeded":
            return st.SUCCEEDED, "followed after a scheduler restart"
        found = row.status if row is not None else "not in the metadata database"
        return st.FAILED, f"run {flow}/{run_id} is {found}; log: {started.log}"

    def _end(
        self,
        launch: Launch,
        status: str,
        report: StepReport,
        *,
        run_id: str | None = None,
        message: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status, "message": message}
        if run_id:
            values["run_id"] = run_id
        self.state.set(launch.deployment, launch.launch_key, **values)
        report.finished.append((launch.launch_key, status))
        run = f" run {launch.flow}/{run_id}" if run_id else ""
        why = f": {message}" if message and status != st.SUCCEEDED else ""
        self.say(f"{launch.deployment}{run} {status} ({launch.launch_key}){why}")

    # -- 2. cron ----------------------------------------------------------------
    def _cron(self, deployment: Deployment, now: float) -> None:
        spec = deployment.spec
        assert spec.schedule is not None
        with self.state.write() as c:
            cursor = self.state.get(c, spec.name, st.CRON)
            if cursor is None or deployment.paused:
                # A new deployment's schedule starts now; a paused one's ticks are not run.
                self.state.put(c, spec.name, st.CRON, {"cursor": now}, now=now)
                return
            after = float(cursor["cursor"])
            if now <= after:
                return
            policy = spec.policies
            limit = policy.catchup_limit if policy.catchup == "all" else 1
            ticks, count = ticks_between(
                spec.schedule.cron, spec.schedule.timezone, after, now, limit=limit
            )
            if not ticks:
                self.state.put(c, spec.name, st.CRON, {"cursor": now}, now=now)
                return
            if policy.catchup == "none":
                ticks = [t for t in ticks if now - t <= self.on_time]
            missed = count - len(ticks)
            if missed > 0:
                more = "+" if count > limit else ""
                self.say(
                    f"{spec.name}: {missed}{more} missed cron tick(s) not run "
                    f"(catch-up policy '{policy.catchup}')"
                )
            for tick in ticks:
                launch = Launch(
                    deployment=spec.name,
                    launch_key=f"cron:{_iso(tick)}",
                    flow=spec.flow,
                    reason="schedule",
                    created_at=now,
                    scheduled_for=tick,
                )
                self.state.insert(c, launch)
            self.state.put(c, spec.name, st.CRON, {"cursor": now}, now=now)

    # -- 3. events --------------------------------------------------------------
    def _events(self, deployments: Mapping[str, Deployment], now: float) -> None:
        triggered = [d for d in deployments.values() if d.spec.triggers is not None]
        while True:
            cursor = int(self.state.value(st.SCHEDULER, st.EVENT_CURSOR) or 0)
            records = list(self.events.after(cursor, EVENT_BATCH))
            if not records:
                return
            with self.state.write() as c:
                pending = {
                    d.name: self.state.get(c, d.name, st.PENDING_EVENTS) or {} for d in triggered
                }
                changed: set[str] = set()
                for record in records:
                    event = event_dict(record)
                    for d in triggered:
                        if d.paused or event["received_at"] < d.created_at:
                            continue  # paused, or an event from before it was deployed
                        assert d.spec.triggers is not None
                        before = pending[d.name]
                        after, fired = match(d.spec.triggers, before, event)
                        if after != before:
                            pending[d.name] = after
                            changed.add(d.name)
                        if fired is not None:
                            changed.add(d.name)
                            self._decide(c, d, fired, now)
                for name in changed:
                    self.state.put(c, name, st.PENDING_EVENTS, pending[name], now=now)
                self.state.put(c, st.SCHEDULER, st.EVENT_CURSOR, int(records[-1].seq), now=now)
            if len(records) < EVENT_BATCH:
                return

    def _decide(self, c: Any, d: Deployment, events: list[dict[str, Any]], now: float) -> None:
        key = launch_key(events)
        launch = Launch(
            deployment=d.name,
            launch_key=key,
            flow=d.spec.flow,
            reason="event",
            created_at=now,
            scheduled_for=max(float(e["received_at"]) for e in events),  # arrival order
            event_ids=tuple(str(e["id"]) for e in events),
        )
        if self.state.insert(c, launch):
            self.state.put(c, d.name, st.LAUNCH + key, {"events": events}, now=now)
            names = ", ".join(e["name"] for e in events)
            self.say(f"{d.name}: {names} arrived; a run is due ({key})")

    # -- 4. launch --------------------------------------------------------------
    def _launch(self, deployments: Mapping[str, Deployment], report: StepReport) -> None:
        for launch in self.state.launches(statuses=(st.PENDING,)):
            deployment = deployments.get(launch.deployment)
            if deployment is None or deployment.paused:
                continue
            active = self.state.launches(statuses=st.ACTIVE, deployment=launch.deployment)
            policy = deployment.spec.policies.concurrency
            if active and policy == "forbid":
                if launch.reason == "schedule":
                    keys = ", ".join(a.launch_key for a in active)
                    self.state.set(launch.deployment, launch.launch_key, status=st.SKIPPED,
                                   message=f"concurrency forbid: {keys} was still running")  # fmt: skip
                    report.finished.append((launch.launch_key, st.SKIPPED))
                    self.say(f"{launch.deployment}: {launch.launch_key} skipped (a run of it "
                             "is still running; concurrency forbid)")  # fmt: skip
                continue  # an event's or a manual run waits for the running one to end
            if active and policy == "replace":
                for other in active:
                    self._replace(other, launch, report)
            self._start(deployment, launch, report)

    def _replace(self, other: Launch, by: Launch, report: StepReport) -> None:
        info = self.state.value(other.deployment, st.LAUNCH + other.launch_key) or {}
        if info.get("started"):
            self.launcher.terminate(Started.from_dict(info["started"]))
        self._end(other, st.FAILED, report, message=f"replaced by {by.launch_key} "
                  "(concurrency replace)")  # fmt: skip

    def _start(self, deployment: Deployment, launch: Launch, report: StepReport) -> None:
        spec = deployment.spec
        now = self.clock.now()
        key = st.LAUNCH + launch.launch_key
        info = dict(self.state.value(launch.deployment, key) or {})
        events = list(info.get("events") or ())
        provided: set[str] = set()
        if spec.triggers is not None and events:
            provided = provided_parameters(spec.triggers, spec.parameter_names, events)
        args = [w for name, words in spec.parameters.items() if name not in provided
                for w in words]  # fmt: skip
        trigger = [{k: v for k, v in e.items() if k not in ("received_at", "seq")} for e in events]
        self.state.set(launch.deployment, launch.launch_key, status=st.LAUNCHING)
        try:
            started = self.launcher.start(spec, launch.launch_key, trigger, args)
        except OSError as err:
            self._end(launch, st.FAILED, report, message=f"cannot start the run: {err}")
            return
        info["started"] = started.to_dict()
        with self.state.write() as c:
            self.state.put(c, launch.deployment, key, info, now=now)
            self.state.update(c, launch.deployment, launch.launch_key, status=st.RUNNING)
        report.started.append(launch.launch_key)
        self.say(f"{launch.deployment}: started ({launch.launch_key}), pid {started.pid}, "
                 f"log {started.log}")  # fmt: skip


def manual_launch(store: MetadataStore, deployment: Deployment, *, now: float) -> str:
    """Record a run asked for by hand (``grange deployments trigger``); its launch key."""
    import uuid

    key = f"manual:{uuid.uuid4().hex[:12]}"
    state = SchedulerState(store)
    with state.write() as c:
        state.insert(
            c,
            Launch(
                deployment=deployment.name,
                launch_key=key,
                flow=deployment.spec.flow,
                reason="manual",
                created_at=now,
            ),
        )
    return key
