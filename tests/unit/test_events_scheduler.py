"""The local scheduler's loop under a controlled clock, with an in-memory launcher.

Every rule of docs/events.md "The local scheduler" has a test here: runs per
cron tick, catch-up, concurrency, events (one, AND, reset, duplicates, while
down), pause, manual runs, a restart while a run goes on, and the lease.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from grange.decorators.triggers import (
    EventDependency,
    ResetAt,
    Schedule,
    Triggers,
)
from grange.environments.package import PackageRef
from grange.events.deployments import (
    Deployments,
    DeploymentSpec,
    Policies,
    Storage,
)
from grange.events.model import EventRecord
from grange.events.scheduler import state as st
from grange.events.scheduler.clock import ManualClock
from grange.events.scheduler.launch import GONE, RUNNING, Started
from grange.events.scheduler.lease import Lease
from grange.events.scheduler.loop import Scheduler, manual_launch
from grange.events.store import EventStore
from grange.exceptions import CommandError
from grange.metastore import MetadataStore
from grange.metastore.engine import dispose_all, sqlite_url
from grange.metastore.liveness import this_host


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


T0 = at("2026-01-01T00:00:30")
DEPLOYED = T0 - 3600


class FakeLauncher:
    """Starts nothing: records what it was asked and ends runs when told."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str, list[dict[str, Any]], list[str]]] = []
        self.codes: dict[int, int | str] = {}
        self.terminated: list[int] = []
        self.run_ids: dict[int, str] = {}
        self._pid = 1000

    def start(
        self,
        spec: DeploymentSpec,
        key: str,
        events: Sequence[Mapping[str, Any]],
        parameter_args: Sequence[str],
    ) -> Started:
        self._pid += 1
        self.started.append((spec.name, key, [dict(e) for e in events], list(parameter_args)))
        self.codes[self._pid] = RUNNING
        return Started(self._pid, None, None, f"run-id-{self._pid}", f"log-{self._pid}")

    def poll(self, started: Started) -> int | str:
        return self.codes.get(started.pid, GONE)

    def run_id(self, started: Started) -> str | None:
        return self.run_ids.get(started.pid)

    def terminate(self, started: Started) -> None:
        self.terminated.append(started.pid)
        self.codes[started.pid] = -15

    def keys(self) -> list[str]:
        return [key for _, key, _, _ in self.started]

    def finish_all(self, code: int = 0) -> None:
        for pid, value in self.codes.items():
            if value == RUNNING:
                self.codes[pid] = code


@pytest.fixture(params=["sqlite3", "sqlalchemy"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A new store, on the stdlib sqlite3 and on SQLAlchemy (as PostgreSQL runs it)."""
    from grange.metastore.sql_store import SqlAlchemyStore

    url = sqlite_url(tmp_path / "store")
    if request.param == "sqlalchemy":
        yield SqlAlchemyStore.open(url)
    else:
        yield MetadataStore.from_url(url)
    dispose_all()


def spec(
    name: str = "Flow",
    *,
    schedule: Schedule | None = None,
    triggers: Triggers | None = None,
    policies: Policies | None = None,
    parameters: Mapping[str, tuple[str, ...]] | None = None,
    parameter_names: tuple[str, ...] = (),
) -> DeploymentSpec:
    return DeploymentSpec(
        name=name,
        flow=name,
        package=PackageRef(url="/nowhere/pkg", sha="0" * 64, flow_file="flow.py"),
        storage=Storage(datastore_root="/nowhere"),
        schedule=schedule,
        triggers=triggers,
        policies=policies or Policies(),
        parameters=parameters or {},
        parameter_names=parameter_names,
    )


def deploy(store: MetadataStore, deployment: DeploymentSpec) -> None:
    Deployments(store).save(deployment, user="ada", now=DEPLOYED)


def scheduler(store: MetadataStore, clock: ManualClock, launcher: FakeLauncher) -> Scheduler:
    return Scheduler(store, EventStore(store), launcher, clock)


def publish(store: MetadataStore, name: str, when: float, **payload: Any) -> bool:
    event_id = payload.pop("event_id", None)
    record = EventRecord.new(name, payload, event_id=event_id, now=when, user="u", host="h")
    return EventStore(store).record(record)


EVERY_MINUTE = Schedule(cron="* * * * *")


# -- cron ----------------------------------------------------------------------------


def test_a_per_minute_cron_runs_exactly_once_per_tick(store: MetadataStore) -> None:
    deploy(store, spec(schedule=EVERY_MINUTE))
    clock, launcher = ManualClock(T0), FakeLauncher()
    loop = scheduler(store, clock, launcher)
    loop.step()
    assert launcher.keys() == []  # the schedule starts when the scheduler first sees it
    clock.set(at("2026-01-01T00:01:00"))
    loop.step()
    loop.step()  # the same moment again: nothing new
    clock.set(at("2026-01-01T00:01:59"))
    loop.step()
    assert launcher.keys() == ["cron:2026-01-01T00:01:00Z"]
    clock.set(at("2026-01-01T00:02:00.5"))
    loop.step()
    assert launcher.keys() == ["cron:2026-01-01T00:01:00Z", "cron:2026-01-01T00:02:00Z"]
    launches = st.SchedulerState(store).launches()
    assert [(x.reason, x.scheduled_for) for x in launches] == [
        ("schedule", at("2026-01-01T00:01:00")),
        ("schedule", at("2026-01-01T00:02:00")),
    ]


def test_a_missed_tick_runs_once_after_downtime_by_default(store: MetadataStore) -> None:
    deploy(store, spec(schedule=EVERY_MINUTE))
    clock, launcher = ManualClock(T0), FakeLauncher()
    scheduler(store, clock, launcher).step()
    clock.set(at("2026-01-01T00:10:30"))  # down for ten ticks
    scheduler(store, clock, launcher).step()
    assert launcher.keys() == ["cron:2026-01-01T00:10:00Z"]


def test_catchup_all_runs_each_missed_tick_up_to_the_limit(store: MetadataStore) -> None:
    deploy(store, spec(schedule=EVERY_MINUTE, policies=Policies(catchup="all", catchup_limit=3)))
    clock, launcher = ManualClock(T0), FakeLauncher()
    loop = scheduler(store, clock, launcher)
    loop.step()
    clock.set(at("2026-01-01T00:02:30"))
    loop.step()
    assert launcher.keys() == ["cron:2026-01-01T00:01:00Z", "cron:2026-01-01T00:02:00Z"]
    clock.set(at("2026-01-01T00:10:30"))
    loop.step()
    assert launcher.keys()[2:] == [f"cron:2026-01-01T00:{m:02d}:00Z" for m in (8, 9, 10)]


def test_catchup_none_runs_only_ticks_seen_on_time(store: MetadataStore) -> None:
    hourly = Schedule(cron="0 * * * *")
    deploy(store, spec(schedule=hourly, policies=Policies(catchup="none")))
    clock, launcher = ManualClock(T0), FakeLauncher()
    loop = scheduler(store, clock, launcher)
    loop.step()
    clock.set(at("2026-01-01T03:10:00"))  # the latest tick is ten minutes old: missed
    loop.step()
    assert launcher.keys() == []
    clock.set(at("2026-01-01T04:00:05"))
    loop.step()
    assert launcher.keys() == ["cron:2026-01-01T04:00:00Z"]


def test_cron_ticks_in_the_deployments_timezone(store: MetadataStore) -> None:
    deploy(store, spec(schedule=Schedule(cron="0 9 * * *", timezone="Europe/Paris")))
    clock, launcher = ManualClock(at("2026-07-01T06:00:00")), FakeLauncher()
    loop = scheduler(store, clock, launcher)
    loop.step()
    clock.set(at("2026-07-01T07:00:30"))  # 09:00:30 in Paris (UTC+2 in summer)
    loop.step()
    assert launcher.keys() == ["cron:2026-07-01T07:00:00Z"]


# -- concurrency -----------------------------------------------------------------------


def _two_ticks(store: MetadataStore, policy: str) -> tuple[FakeLauncher, Scheduler]:
    deploy(store, spec(schedule=EVERY_MINUTE, policies=Policies(concurrency=policy)))  # type: ignore[arg-type]
    clock, launcher = ManualClock(T0), FakeLauncher()
    loop = scheduler(store, clock, launcher)
    loop.step()
    clock.set(at("2026-01-01T00:01:00"))
    loop.step()
    clock.set(at("2026-01-01T00:02:00"))
    loop.step()  # the first run still runs
    return launcher, loop


def test_concurrency_allow_overlaps_runs(store: MetadataStore) -> None:
    launcher, _ = _two_ticks(store, "allow")
    assert len(launcher.started) == 2 and not launcher.terminated


def test_concurrency_forbid_skips_a_tick_while_a_run_runs(store: MetadataStore) -> None:
    launcher, loop = _two_ticks(store, "forbid")
    assert launcher.keys() == ["cron:2026-01-01T00:01:00Z"]
    skipped = st.SchedulerState(store).launch("Flow", "cron:2026-01-01T00:02:00Z")
    assert skipped is not None and skipped.status == st.SKIPPED
    assert "still running" in (skipped.message or "")
    launcher.finish_all()
    loop.clock.set(at("2026-01-01T00:03:00"))  # type: ignore[attr-defined]
    loop.step()
    assert launcher.keys()[-1] == "cron:2026-01-01T00:03:00Z"


def test_concurrency_forbid_holds_an_events_run_until_the_running_one_ends(
    store: MetadataStore,
) -> None:
    triggers = Triggers(kind="event", dependencies=(EventDependency("go"),))
    deploy(store, spec(triggers=triggers, policies=Policies(concurrency="forbid")))
    clock, launcher = ManualClock(T0), FakeLauncher()
    loop = scheduler(store, clock, launcher)
    publish(store, "go", T0)
    publish(store, "go", T0 + 1)
    report = loop.step()
    assert len(launcher.started) == 1 and report.open == 2
    launcher.finish_all()
    loop.step()
    assert len(launcher.started) == 2  # the second event's run: held, then started


def test_concurrency_replace_stops_the_running_run(store: MetadataStore) -> None:
    launcher, _ = _two_ticks(store, "replace")
    assert len(launcher.started) == 2 and launcher.terminated == [1001]
    first = st.SchedulerState(store).launch("Flow", "cron:2026-01-01T00:01:00Z")
    assert first is not None and first.status == st.FAILED and "replaced" in (first.message or "")


def test_a_finished_run_is_recorded_with_its_run_id_and_status(store: MetadataStore) -> None:
    deploy(store, spec(schedule=EVERY_MINUTE))
    clock, launcher = ManualClock(T0), FakeLauncher()
    loop = scheduler(store, clock, launcher)
    loop.step()
    clock.set(at("2026-01-01T00:02:00"))
    loop.step()
    clock.set(at("2026-01-01T00:03:00"))
    loop.step()
    launcher.run_ids.update({1001: "7", 1002: "8"})
    launcher.codes.update({1001: 0, 1002: 1})
    report = loop.step()
    assert sorted(report.finished) == [
        ("cron:2026-01-01T00:02:00Z", st.SUCCEEDED),
        ("cron:2026-01-01T00:03:00Z", st.FAILED),
    ]
    rows = {x.launch_key: x for x in st.SchedulerState(store).launches()}
    assert rows["cron:2026-01-01T00:02:00Z"].run_id == "7"
    assert "exit status 1" in (rows["cron:2026-01-01T00:03:00Z"].message or "")
    assert report.idle


# -- events ----------------------------------------------------------------------------


def test_each_event_starts_one_run_with_the_event_as_its_trigger(store: MetadataStore) -> None:
    triggers = Triggers(kind="event", dependencies=(EventDependency("new_data"),))
    deploy(store, spec(triggers=triggers))
    clock, launcher = ManualClock(T0), FakeLauncher()
    loop = scheduler(store, clock, launcher)
    publish(store, "new_data", T0, event_id="e1", date="2026-01-01")
    publish(store, "other", T0)
    loop.step()
    loop.step()
    assert launcher.keys() == ["events:e1"]
    (event,) = launcher.started[0][2]
    assert event["name"] == "new_data" and event["id"] == "e1" and event["type"] == "event"
    assert event["payload"]["date"] == "2026-01-01"
    assert set(event) == {"name", "id", "timestamp", "type", "payload"}


def test_a_duplicate_event_id_starts_one_run(store: MetadataStore) -> None:
    triggers = Triggers(kind="event", dependencies=(EventDependency("new_data"),))
    deploy(store, spec(triggers=triggers))
    clock, launcher = ManualClock(T0), FakeLauncher()
    loop = scheduler(store, clock, launcher)
    assert publish(store, "new_data", T0, event_id="same")
    loop.step()
    assert not publish(store, "new_data", T0 + 5, event_id="same")  # the store refuses it
    loop.step()
    assert launcher.keys() == ["events:same"]


def test_events_recorded_while_the_scheduler_was_down_are_delivered(store: MetadataStore) -> None:
    triggers = Triggers(kind="event", dependencies=(EventDependency("new_data"),))
    deploy(store, spec(triggers=triggers))
    publish(store, "new_data", T0, event_id="before-start")
    clock, launcher = ManualClock(T0 + 600), FakeLauncher()
    scheduler(store, clock, launcher).step()
    assert launcher.keys() == ["events:before-start"]
    publish(store, "new_data", T0 + 700, event_id="while-down")
    scheduler(store, clock, FakeLauncher()).step()  # a new scheduler: the cursor is stored
    assert st.SchedulerState(store).launch("Flow", "events:while-down") is not None
    assert st.SchedulerState(store).launch("Flow", "events:before-start") is not None
    assert len(st.SchedulerState(store).launches()) == 2


def test_events_from_before_the_deployment_do_not_count(store: MetadataStore) -> None:
    triggers = Triggers(kind="event", dependencies=(EventDependency("new_data"),))
    publish(store, "new_data", DEPLOYED - 10, event_id="old")
    deploy(store, spec(triggers=triggers))
    launcher = FakeLauncher()
    scheduler(store, ManualClock(T0), launcher).step()
    assert launcher.keys() == []


def test_and_of_events_waits_for_all_then_starts_one_run(store: MetadataStore) -> None:
    deps = (EventDependency("a"), EventDependency("b"))
    deploy(store, spec(triggers=Triggers(kind="event", dependencies=deps)))
    clock, launcher = ManualClock(T0), FakeLauncher()
    loop = scheduler(store, clock, launcher)
    publish(store, "a", T0, event_id="a1")
    loop.step()
    assert launcher.keys() == []
    publish(store, "a", T0 + 1, event_id="a2")  # replaces a1
    publish(store, "b", T0 + 2, event_id="b1")
    loop.step()
    assert launcher.keys() == ["events:a2+b1"]
    assert [e["id"] for e in launcher.started[0][2]] == ["a2", "b1"]
    publish(store, "b", T0 + 3, event_id="b2")  # the set was emptied: b2 waits for an a
    loop.step()
    assert len(launcher.started) == 1


def test_and_of_events_with_reset_drops_events_before_the_reset_tick(
    store: MetadataStore,
) -> None:
    deps = (EventDependency("a"), EventDependency("b"))
    reset = ResetAt(cron="0 0 * * *")  # midnight UTC
    deploy(store, spec(triggers=Triggers(kind="event", dependencies=deps, reset_at=reset)))
    clock, launcher = ManualClock(at("2026-01-03T00:00:00")), FakeLauncher()
    loop = scheduler(store, clock, launcher)
    publish(store, "a", at("2026-01-01T10:00:00"), event_id="a-day1")
    publish(store, "b", at("2026-01-02T10:00:00"), event_id="b-day2")  # a-day1 no longer counts
    loop.step()
    assert launcher.keys() == []
    publish(store, "a", at("2026-01-02T11:00:00"), event_id="a-day2")
    loop.step()
    assert launcher.keys() == ["events:a-day2+b-day2"]


def test_the_matcher_never_counts_one_event_twice() -> None:
    from grange.events.scheduler.matching import match

    triggers = Triggers(kind="event", dependencies=(EventDependency("a"), EventDependency("b")))
    event = {"name": "a", "id": "x", "timestamp": 1.0, "received_at": 1.0, "payload": {}}
    pending, fired = match(triggers, {}, event)
    again, fired_again = match(triggers, pending, dict(event, received_at=2.0))
    assert fired is None and fired_again is None and again == pending


def test_deploy_time_values_yield_to_values_an_event_maps(store: MetadataStore) -> None:
    dep = EventDependency("new_data", parameters={"date": "day"})
    deploy(
        store,
        spec(
            triggers=Triggers(kind="event", dependencies=(dep,)),
            parameters={"date": ("--date", "2000-01-01"), "alpha": ("--alpha", "5")},
            parameter_names=("date", "alpha"),
        ),
    )
    launcher = FakeLauncher()
    loop = scheduler(store, ManualClock(T0), launcher)
    publish(store, "new_data", T0, event_id="z", day="2026-01-01")
    publish(store, "new_data", T0 + 1, event_id="a")  # no "day": the deployment's value
    loop.step()
    assert [args for *_, args in launcher.started] == [
        ["--alpha", "5"],
        ["--date", "2000-01-01", "--alpha", "5"],
    ]


def test_an_upstream_runs_end_event_is_a_run_trigger(store: MetadataStore) -> None:
    from grange.decorators.triggers import UpstreamFlow, end_event_name

    name = end_event_name("Upstream")
    dep = EventDependency(name, upstream=UpstreamFlow("Upstream"))
    deploy(store, spec("Down", triggers=Triggers(kind="run", dependencies=(dep,))))
    launcher = FakeLauncher()
    payload = {"pathspec": "Upstream/3/end/9", "flow_name": "Upstream", "run_id": "3",
               "auto-generated-by-metaflow": True}  # fmt: skip
    publish(store, name, T0, **payload)
    scheduler(store, ManualClock(T0), launcher).step()
    (event,) = launcher.started[0][2]
    assert event["type"] == "run" and event["id"] == "Upstream/3/end/9"


# -- pause, manual runs, deletion --------------------------------------------------------


def test_a_paused_deployment_runs_nothing_until_resumed(store: MetadataStore) -> None:
    triggers = Triggers(kind="event", dependencies=(EventDependency("go"),))
    deploy(store, spec(schedule=EVERY_MINUTE, triggers=triggers))
    clock, launcher = ManualClock(T0), FakeLauncher()
    loop = scheduler(store, clock, launcher)
    loop.step()
    Deployments(store).set_paused("Flow", True, now=T0)
    publish(store, "go", T0 + 1)
    deployment = Deployments(store).require("Flow")
    manual_launch(store, deployment, now=T0)
    clock.set(at("2026-01-01T00:05:10"))
    report = loop.step()
    assert launcher.keys() == [] and report.idle
    Deployments(store).set_paused("Flow", False, now=T0)
    clock.set(at("2026-01-01T00:05:20"))
    loop.step()
    assert len(launcher.keys()) == 1 and launcher.keys()[0].startswith("manual:")


def test_redeploying_keeps_state_and_delete_removes_it(store: MetadataStore) -> None:
    deploy(store, spec(schedule=EVERY_MINUTE))
    clock, launcher = ManualClock(T0), FakeLauncher()
    scheduler(store, clock, launcher).step()
    state = st.SchedulerState(store)
    assert state.value("Flow", st.CRON) == {"cursor": T0}
    Deployments(store).set_paused("Flow", True, now=T0)
    before = Deployments(store).save(spec(schedule=Schedule("0 * * * *")), user="bo", now=T0)
    assert before is not None and before.spec.schedule == EVERY_MINUTE
    again = Deployments(store).require("Flow")
    assert again.paused and again.spec.schedule == Schedule("0 * * * *")
    assert again.created_at == DEPLOYED and again.user == "bo"
    assert state.value("Flow", st.CRON) == {"cursor": T0}
    assert Deployments(store).delete("Flow")
    assert state.value("Flow", st.CRON) is None and Deployments(store).get("Flow") is None
    with pytest.raises(CommandError, match="no deployment 'Flow'"):
        Deployments(store).require("Flow")


def test_the_spec_round_trips_through_json() -> None:
    from grange.decorators.triggers import UpstreamFlow

    dep = EventDependency("metaflow.p.prod.Up.end", {"x": "y"}, UpstreamFlow("Up", "p", "prod"))
    original = spec(
        schedule=Schedule("0 9 * * *", "Europe/Paris"),
        triggers=Triggers(kind="run", dependencies=(dep,), reset_at=ResetAt("0 0 * * *")),
        policies=Policies(concurrency="forbid", catchup="all", catchup_limit=4),
        parameters={"flag": ("--flag",)},
    )
    assert DeploymentSpec.from_dict(original.to_dict()) == original


def test_a_bad_policy_is_refused() -> None:
    with pytest.raises(CommandError, match="concurrency"):
        Policies(concurrency="sometimes")  # type: ignore[arg-type]


# -- restarts ------------------------------------------------------------------------------


def test_a_restarted_scheduler_follows_a_running_run_instead_of_starting_it_again(
    store: MetadataStore,
) -> None:
    triggers = Triggers(kind="event", dependencies=(EventDependency("go"),))
    deploy(store, spec(triggers=triggers))
    clock, first = ManualClock(T0), FakeLauncher()
    publish(store, "go", T0, event_id="g1")
    scheduler(store, clock, first).step()
    assert first.keys() == ["events:g1"]
    run_id = store.new_run("Flow", user="ada")
    # The first scheduler is gone; a second one finds the run's process still running...
    second = FakeLauncher()
    second.codes[1001] = RUNNING
    second.run_ids[1001] = run_id
    loop = scheduler(store, clock, second)
    assert not loop.step().idle
    assert second.started == []
    assert st.SchedulerState(store).launch("Flow", "events:g1").run_id == run_id  # type: ignore[union-attr]
    # ... then ended: its outcome is the run's status.
    store.finish_run("Flow", run_id, status="succeeded")
    second.codes[1001] = GONE
    report = loop.step()
    assert report.finished == [("events:g1", st.SUCCEEDED)] and second.started == []


def test_a_launch_cut_short_by_a_crash_is_not_started_twice(store: MetadataStore) -> None:
    deploy(store, spec())
    state = st.SchedulerState(store)
    key = manual_launch(store, Deployments(store).require("Flow"), now=T0)
    state.set("Flow", key, status=st.LAUNCHING)  # the scheduler died right here
    launcher = FakeLauncher()
    report = scheduler(store, ManualClock(T0), launcher).step()
    assert launcher.started == [] and report.finished == [(key, st.FAILED)]
    assert "may not have started" in (state.launch("Flow", key).message or "")  # type: ignore[union-attr]


# -- the lease -----------------------------------------------------------------------------


def test_a_second_scheduler_is_refused_naming_the_first(store: MetadataStore) -> None:
    first = Lease(store)
    first.acquire(T0)
    other = Lease(store)
    other.holder = "another-host:boot:1|4242|99"
    with pytest.raises(CommandError, match=r"pid \d+ on host"):
        other.acquire(T0 + 5)
    first.release()
    assert other.acquire(T0 + 6) is None


def test_a_stale_lease_is_taken_over(store: MetadataStore) -> None:
    gone = Lease(store, stale_after=60)
    gone.holder = "another-host:boot:1|4242|99"  # elsewhere: the heartbeat decides
    gone.acquire(T0)
    me = Lease(store, stale_after=60)
    with pytest.raises(CommandError):
        me.acquire(T0 + 30)
    took = me.acquire(T0 + 61)
    assert took is not None and took.pid == gone.pid
    with pytest.raises(CommandError, match="lost its lease"):
        gone.renew(T0 + 62)


@pytest.mark.skipif(this_host() is None, reason="pids are checked on Linux only")
def test_a_lease_whose_process_is_dead_on_this_host_is_taken_over(store: MetadataStore) -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = Lease(store)
    dead.holder = f"{this_host()}|{child.pid}|1"
    dead.acquire(T0)
    assert Lease(store).acquire(T0 + 1) is not None  # at once: no heartbeat wait


def test_an_endpoint_off_loopback_needs_a_token() -> None:
    from grange.events.scheduler.service import check_binding

    check_binding("127.0.0.1", None)
    check_binding("::1", None)
    check_binding("localhost", None)
    check_binding("0.0.0.0", "secret")
    with pytest.raises(CommandError, match="without a token"):
        check_binding("0.0.0.0", None)


def test_the_file_clock_reads_posix_seconds_or_iso_times(tmp_path: Path) -> None:
    from grange.events.scheduler.clock import FileClock, clock_from_env

    clock_file = tmp_path / "now"
    clock_file.write_text("2026-01-01T00:01:00")
    clock = clock_from_env({"GRANGE_SCHEDULER_NOW": f"@{clock_file}"})
    assert clock.now() == at("2026-01-01T00:01:00")
    clock_file.write_text("1800000000")
    assert clock.now() == 1_800_000_000
    assert isinstance(clock_from_env({"GRANGE_SCHEDULER_NOW": "5"}), FileClock)
    clock_file.write_text("noon")
    with pytest.raises(CommandError, match="neither POSIX seconds nor an ISO 8601 time"):
        clock.now()


def test_a_bad_cron_or_timezone_is_refused() -> None:
    from grange.events.scheduler.cron import check_cron

    check_cron("*/15 9-17 * * 1-5", "Europe/Paris")
    with pytest.raises(CommandError, match="5-field"):
        check_cron("0 0 * * ? *")
    with pytest.raises(CommandError, match="unknown timezone"):
        check_cron("0 0 * * *", "Mars/Olympus")


def test_a_pass_that_meets_a_database_error_is_tried_again(
    store: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from grange.exceptions import MetadataError

    deploy(store, spec())
    manual_launch(store, Deployments(store).require("Flow"), now=T0)
    said: list[str] = []
    launcher = FakeLauncher()
    loop = Scheduler(store, EventStore(store), launcher, ManualClock(T0), say=said.append)
    real = loop.step
    calls = iter([MetadataError("the database is locked"), None])

    def flaky() -> Any:
        error = next(calls, None)
        if error is not None:
            raise error
        launcher.finish_all()
        return real()

    monkeypatch.setattr(loop, "step", flaky)
    loop.run(threading.Event(), threading.Event(), poll_interval=0.01, once=True)
    assert "this pass failed, trying again: the database is locked" in said
    assert len(launcher.started) == 1


def test_a_run_started_on_another_machine_is_followed_by_its_status(
    store: MetadataStore,
) -> None:
    from grange.events.scheduler.launch import UNKNOWN

    deploy(store, spec())
    key = manual_launch(store, Deployments(store).require("Flow"), now=T0)
    first = FakeLauncher()
    scheduler(store, ManualClock(T0), first).step()
    run_id = store.new_run("Flow", user="ada")
    elsewhere = FakeLauncher()
    elsewhere.codes[1001] = UNKNOWN
    elsewhere.run_ids[1001] = run_id
    loop = scheduler(store, ManualClock(T0), elsewhere)
    assert loop.step().finished == []  # its run still runs
    store.finish_run("Flow", run_id, status="failed")
    assert loop.step().finished == [(key, st.FAILED)]
    assert elsewhere.started == []
