"""A run's step environments (``@pypi``/``@conda``), made ready before the run is claimed.

For every step with an environment (:attr:`TaskOptions.environment`): the lock is
resolved (or, on ``resume``, the origin run's lock is reused when the step asks for
what it asked then: nothing is resolved again; or the lock an earlier run on the same
datastore stored for the same requirement set is reused), stored in the datastore and recorded
in the run's claim (``extra["environments"][step]``: the lock's summary and
``lock_key``). A step run here gets its environment built (cached across runs); a
``@kubernetes`` step's lock is resolved for the pods' platform and only stored: the
pod builds it. Identical requirement sets are resolved once. An error (no such
package, no network) is an :class:`EnvError` raised before anything is claimed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from grange.decorators.options import EnvSpec, TaskOptions
from grange.environments.envlock import EnvLock, PreparedEnv
from grange.exceptions import EnvError
from grange.runtime.env_launcher import EnvLauncher
from grange.runtime.launcher import Launcher
from grange.runtime.signals import Stopped, signal_of

Runtime = tuple[tuple[str, str], ...]  # grange.environments.manager.datastore_packages

# Where a lock is for: this machine, or the pods of @kubernetes steps.
HERE, POD = "local", "pod"


@dataclass
class RunEnvironments:
    """What :func:`prepare_environments` made ready; :meth:`store` records the locks."""

    locks: dict[str, tuple[EnvLock, str, str | None]] = field(default_factory=dict)
    local: dict[str, PreparedEnv] = field(default_factory=dict)  # steps run on this machine
    remote: dict[str, tuple[str, str]] = field(default_factory=dict)  # step -> (lock URL, sha)
    claim: dict[str, dict[str, Any]] = field(default_factory=dict)  # extra["environments"]
    # resume: steps it expects to clone keep the origin's record (nothing resolved or
    # built); if one of their tasks must run after all, ``deferred`` builds its
    # environment then (the origin's lock, or an EnvError saying what to do).
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    deferred: dict[str, Callable[[], PreparedEnv]] = field(default_factory=dict)

    def store(self, blobs: Any) -> None:
        """Store every lock in the datastore (once per lock) and fill ``claim`` and
        ``remote`` (step -> (lock URL, lock sha) for the pods of @kubernetes steps)."""
        from grange.environments import manager

        keys: dict[str, str] = {}
        for step, (lock, where, key) in self.locks.items():
            if key is None:
                key = keys.get(lock.sha) or manager.store_lock(blobs, lock)
            keys[lock.sha] = key
            self.claim[step] = {**lock.summary(), "lock_key": key, "where": where}
            if where == POD:
                self.remote[step] = (blobs.url(key), lock.sha)
        for step, recorded in self.kept.items():
            self.claim[step] = dict(recorded)
            if recorded.get("where") == POD and recorded.get("sha"):
                self.remote[step] = (blobs.url(str(recorded["lock_key"])), str(recorded["sha"]))


def environment_steps(options: Mapping[str, TaskOptions]) -> dict[str, EnvSpec]:
    return {s: o.environment for s, o in options.items() if o.environment is not None}


def prepare_environments(
    options: Mapping[str, TaskOptions],
    *,
    notice: Callable[[str], None],
    blobs: Any = None,
    origin: Mapping[str, Any] | None = None,
    origin_run: str | None = None,
    env: Mapping[str, str] | None = None,
    runs: Collection[str] | None = None,
) -> RunEnvironments | None:
    """Resolve (or reuse) every step's lock and build the environments of local steps;
    :meth:`RunEnvironments.store` then records the locks.

    ``origin``: the origin run's ``extra["environments"]`` when resuming (its locks are
    read from ``blobs``). ``runs``: on resume, the steps whose tasks may run (the
    others are cloned: they keep the origin's record, and nothing is resolved or
    built for them). None when no step has an environment (nothing is imported)."""
    specs = environment_steps(options)
    if not specs:
        return None
    from grange.config.active import active
    from grange.environments import manager
    from grange.environments.settings import EnvSettings

    env = os.environ if env is None else env
    settings = EnvSettings.from_table(active(env).environments, env)
    runtime = datastore_runtime(env)
    out = RunEnvironments()
    groups: dict[tuple[Any, ...], list[str]] = {}  # the same request: one lock
    for step, spec in specs.items():
        where = POD if options[step].kubernetes is not None else HERE
        if runs is not None and step not in runs:
            recorded = (origin or {}).get(step)
            _keep(out, spec, settings, manager, where, recorded, blobs, origin_run, runtime)
            continue
        groups.setdefault((spec.kind, spec.packages, spec.python, spec.channels, where), [])
        groups[(spec.kind, spec.packages, spec.python, spec.channels, where)].append(step)
    built: dict[str, PreparedEnv] = {}  # lock sha -> environment
    for (*_, where), steps in groups.items():
        try:
            _prepare_group(
                out, steps, where, specs, settings, manager, origin, blobs, origin_run,
                notice, built, runtime,
            )  # fmt: skip
        except KeyboardInterrupt as interrupt:  # Ctrl-C, SIGTERM: say what it stopped
            raise StoppedPreparing(signal_of(interrupt), _names(steps)) from None
    return out


class StoppedPreparing(Stopped):
    """Ctrl-C (or SIGTERM, SIGHUP) while the environment of ``steps`` was prepared."""

    def __init__(self, signum: int, steps: str) -> None:
        super().__init__(signum)
        self.steps = steps


def _prepare_group(
    out: RunEnvironments,
    steps: list[str],
    where: str,
    specs: Mapping[str, EnvSpec],
    settings: Any,
    manager: Any,
    origin: Mapping[str, Any] | None,
    blobs: Any,
    origin_run: str | None,
    notice: Callable[[str], None],
    built: dict[str, PreparedEnv],
    runtime: Runtime,
) -> None:
    """Resolve (or reuse) the lock of ``steps`` (one request) and build it if local."""
    first = steps[0]
    recorded = (origin or {}).get(first)
    lock, key = _lock(
        specs[first], settings, manager, where, recorded, blobs, origin_run, notice,
        names=_names(steps), runtime=runtime,
    )  # fmt: skip
    for step in steps:
        out.locks[step] = (lock, where, key)
    if where == POD:
        return
    if lock.sha not in built:
        started = time.monotonic()
        try:
            built[lock.sha] = manager.build(lock, settings, runtime=runtime)
        except EnvError as err:
            if err.step is None:  # the lock knows no step: name those that need it
                spec = specs[first]
                err.step, err.file, err.line = _names(steps), spec.file, spec.line
            raise
        spent = time.monotonic() - started
        if spent >= 0.5:  # a cache hit says nothing; a build says how long it took
            notice(f"Built environment {lock.sha[:12]} for {_names(steps)} in {spent:.1f} s")
    for step in steps:
        out.local[step] = built[lock.sha]


def _names(steps: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``, ``a and 4 more``."""
    if len(steps) == 1:
        return steps[0]
    if len(steps) <= 3:
        return f"{', '.join(steps[:-1])} and {steps[-1]}"
    return f"{steps[0]} and {len(steps) - 1} more"


def _keep(
    out: RunEnvironments,
    spec: EnvSpec,
    settings: Any,
    manager: Any,
    where: str,
    recorded: Mapping[str, Any] | None,
    blobs: Any,
    origin_run: str | None,
    runtime: Runtime = (),
) -> None:
    """A step resume clones: the origin's record stays; its environment is built only
    if one of its tasks must run after all (one the origin never finished)."""
    step = spec.step
    if recorded and recorded.get("lock_key"):
        out.kept[step] = dict(recorded)
    if where == POD:
        return  # a pod builds its environment from the lock itself

    def build() -> PreparedEnv:
        if recorded and recorded.get("lock_key") and blobs is not None:
            lock = manager.load_lock(blobs, str(recorded["lock_key"]))
            if _unchanged(spec, settings, manager, lock, recorded, where, runtime):
                return manager.build(lock, settings, runtime=runtime)
            why = f"its {spec.decorator} environment changed since run {origin_run}"
        else:
            why = f"run {origin_run} recorded no environment for it"
        raise EnvError(
            f"resume expected to reuse every task of step '{step}' from run {origin_run}, "
            f"but one must run again and {why}",
            file=spec.file,
            line=spec.line,
            step=step,
            fix=f"resume from that step (python <flow file> resume {step}), which "
            "prepares its environment anew",
        )

    out.deferred[step] = build


def _lock(
    spec: EnvSpec,
    settings: Any,
    manager: Any,
    where: str,
    recorded: Mapping[str, Any] | None,
    blobs: Any,
    origin_run: str | None,
    notice: Callable[[str], None],
    *,
    names: str | None = None,
    runtime: Runtime = (),
) -> tuple[EnvLock, str | None]:
    """The step's lock (and its datastore key when already stored): the origin run's if
    the step asks for what it asked then; else the local lock cache's, the one the
    datastore's key index holds (stored by an earlier run or deployment, on any
    machine), or resolved now, in that order."""
    step = names or spec.step
    if recorded and recorded.get("lock_key") and blobs is not None:
        key = str(recorded["lock_key"])
        lock = manager.load_lock(blobs, key)
        if _unchanged(spec, settings, manager, lock, recorded, where, runtime):
            notice(f"Reusing environment {lock.sha[:12]} for {step} (from run {origin_run})")
            return lock, key
        notice(
            f"The environment of {step} changed since run {origin_run} "
            f"({spec.decorator}); resolving it again"
        )
    started = time.monotonic()
    platform = _platform(spec, settings, where)
    if blobs is not None:  # resolved by an earlier run on this datastore (any machine)
        shared = manager.shared_lock(spec, settings, blobs, platform=platform, runtime=runtime)
        if shared is not None:
            notice(
                f"Reusing the team's {spec.decorator or '@' + spec.kind} environment "
                f"{shared.sha[:12]} for {step} (resolved by an earlier run)"
            )
            return shared, None
    lock = manager.resolve(spec, settings, platform=platform, runtime=runtime)
    from grange.environments.keys import mask_url

    wanted = ", ".join(mask_url(_requirement(p, v)) for p, v in spec.packages)
    wanted = wanted or "no packages"
    python = f", python {lock.python}" if lock.python else ""
    on = f" for {lock.platform}" if where == POD else ""
    notice(
        f"Resolved {spec.decorator} environment for {step}{on}: {wanted}{python} "
        f"({lock.sha[:12]}) in {time.monotonic() - started:.1f} s"
    )
    return lock, None


def _requirement(name: str, version: str) -> str:
    if not version:
        return name
    return f"{name}=={version}" if version[0].isalnum() else f"{name}{version}"


def _unchanged(
    spec: EnvSpec,
    settings: Any,
    manager: Any,
    lock: EnvLock,
    recorded: Mapping[str, Any],
    where: str,
    runtime: Runtime = (),
) -> bool:
    """The step asks for what it asked when ``lock`` was resolved, for the same place:
    the same key (packages, Python, platform, index or channels), computed unresolved."""
    if recorded.get("where", HERE) != where or lock.kind != spec.kind:
        return False
    key = manager.spec_key(spec, settings, _platform(spec, settings, where), runtime=runtime)
    return bool(lock.key == key)


def datastore_runtime(env: Mapping[str, str]) -> Runtime:
    """What the run's tasks import for its datastore beyond grange's task dependencies
    (:func:`grange.environments.manager.datastore_packages`): computed once per run and
    passed to every key, resolution and build, so a resume compares like with like."""
    from grange.environments import manager

    root = str(env.get("GRANGE_DATASTORE_ROOT") or "")
    if not root.startswith("s3://"):
        return manager.datastore_packages("local")
    from grange.datastore.s3.settings import S3Settings

    boto3 = S3Settings.from_env(env).use_boto3_credentials
    return manager.datastore_packages("s3", boto3=boto3)


def _platform(spec: EnvSpec, settings: Any, where: str) -> str | None:
    """What a lock is resolved for: this machine, or the pods' platform in the kind's
    own naming (uv's ``x86_64-manylinux_2_28``, conda's ``linux-64``)."""
    from grange.environments.podenv import pod_platform

    return pod_platform(spec.kind, settings) if where == POD else None


def origin_environments(blobs: Any, flow: str, origin_run: str) -> dict[str, Any]:
    """The ``extra["environments"]`` the origin run of a resume recorded ({} for none)."""
    from grange.datastore.runs import read_claim

    claim = read_claim(blobs, flow, origin_run)
    found = claim.extra.get("environments") if claim is not None else None
    return dict(found) if isinstance(found, dict) else {}


def hand_over(environments: RunEnvironments, launcher: Launcher) -> None:
    """Give the environments to the run's launchers: local steps' to the
    :class:`EnvLauncher` (its fork servers start now), the stored locks of pods to a
    launcher with an ``environments`` dict (the KubeLauncher's: step -> (URL, sha))."""
    layer: Any = launcher
    while layer is not None:
        if isinstance(layer, EnvLauncher):
            if environments.local:
                layer.use(environments.local)
            layer.deferred.update(environments.deferred)
        remote = getattr(layer, "environments", None)
        if isinstance(remote, dict) and environments.remote:
            remote.update(environments.remote)
        layer = getattr(layer, "inner", None)
