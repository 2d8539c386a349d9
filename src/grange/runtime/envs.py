"""A run's step environments (``@pypi``/``@conda``), made ready before the run is claimed.

For every step with an environment (:attr:`TaskOptions.environment`): the lock is
resolved (or, on ``resume``, the origin run's lock is reused when the step asks for
what it asked then: nothing is resolved again), stored in the datastore and recorded
in the run's claim (``extra["environments"][step]``: the lock's summary and
``lock_key``). A step run here gets its environment built (cached across runs); a
``@kubernetes`` step's lock is resolved for the pods' platform and only stored: the
pod builds it. Identical requirement sets are resolved once. An error (no such
package, no network) is an :class:`EnvError` raised before anything is claimed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grange.decorators.options import EnvSpec, TaskOptions
from grange.environments.envlock import EnvLock, PreparedEnv
from grange.runtime.env_launcher import EnvLauncher
from grange.runtime.launcher import Launcher

# Where a lock is for: this machine, or the pods of @kubernetes steps.
HERE, POD = "local", "pod"


@dataclass
class RunEnvironments:
    """What :func:`prepare_environments` made ready."""

    local: dict[str, PreparedEnv] = field(default_factory=dict)  # steps run on this machine
    remote: dict[str, tuple[str, str]] = field(default_factory=dict)  # step -> (lock URL, sha)
    claim: dict[str, dict[str, Any]] = field(default_factory=dict)  # extra["environments"]


def environment_steps(options: Mapping[str, TaskOptions]) -> dict[str, EnvSpec]:
    return {s: o.environment for s, o in options.items() if o.environment is not None}


def prepare_environments(
    options: Mapping[str, TaskOptions],
    *,
    blobs: Any,
    notice: Callable[[str], None],
    origin: Mapping[str, Any] | None = None,
    origin_run: str | None = None,
    env: Mapping[str, str] | None = None,
) -> RunEnvironments | None:
    """Resolve (or reuse), store and, for local steps, build every step's environment.

    ``origin``: the origin run's ``extra["environments"]`` when resuming. None when
    no step has an environment (nothing is imported or read then)."""
    specs = environment_steps(options)
    if not specs:
        return None
    from grange.config.active import active
    from grange.environments import manager
    from grange.environments.settings import EnvSettings

    env = os.environ if env is None else env
    settings = EnvSettings.from_table(active(env).environments, env)
    out = RunEnvironments()
    locks: dict[tuple[Any, ...], tuple[EnvLock, str]] = {}  # same request -> one lock
    built: dict[str, PreparedEnv] = {}  # lock sha -> environment
    for step, spec in specs.items():
        where = POD if options[step].kubernetes is not None else HERE
        platform = settings.pod_platform if where == POD else None
        same = (spec.kind, spec.packages, spec.python, spec.channels, where)
        if same not in locks:
            locks[same] = _lock(
                spec, settings, manager, blobs, notice, platform, where,
                (origin or {}).get(step), origin_run,
            )  # fmt: skip
        lock, key = locks[same]
        out.claim[step] = {**lock.summary(), "lock_key": key, "where": where}
        if where == POD:
            out.remote[step] = (blobs.url(key), lock.sha)
            continue
        if lock.sha not in built:
            started = time.monotonic()
            built[lock.sha] = manager.build(lock, settings)
            spent = time.monotonic() - started
            if spent >= 0.5:  # a cache hit says nothing; a build says how long it took
                notice(f"Built environment {lock.sha[:12]} for {step} in {spent:.1f} s")
        out.local[step] = built[lock.sha]
    return out


def _lock(
    spec: EnvSpec,
    settings: Any,
    manager: Any,
    blobs: Any,
    notice: Callable[[str], None],
    platform: str | None,
    where: str,
    recorded: Mapping[str, Any] | None,
    origin_run: str | None,
) -> tuple[EnvLock, str]:
    """The step's lock and its datastore key: the origin run's if unchanged, else resolved."""
    step = spec.step
    if recorded and recorded.get("lock_key"):
        lock = manager.load_lock(blobs, str(recorded["lock_key"]))
        if _unchanged(spec, lock, recorded, where):
            notice(f"Reusing environment {lock.sha[:12]} for {step} (from run {origin_run})")
            return lock, str(recorded["lock_key"])
        notice(
            f"The environment of {step} changed since run {origin_run} "
            f"({spec.decorator}); resolving it again"
        )
    started = time.monotonic()
    lock = manager.resolve(spec, settings, platform=platform)
    wanted = ", ".join(_requirement(p, v) for p, v in spec.packages) or "no packages"
    python = f", python {lock.python}" if lock.python else ""
    on = f" for {lock.platform}" if where == POD else ""
    notice(
        f"Resolved {spec.decorator} environment for {step}{on}: {wanted}{python} "
        f"({lock.sha[:12]}) in {time.monotonic() - started:.1f} s"
    )
    return lock, manager.store_lock(blobs, lock)


def _requirement(name: str, version: str) -> str:
    if not version:
        return name
    return f"{name}=={version}" if version[0].isalnum() else f"{name}{version}"


def _unchanged(spec: EnvSpec, lock: EnvLock, recorded: Mapping[str, Any], where: str) -> bool:
    """The step asks for what it asked when ``lock`` was resolved, for the same place."""
    if recorded.get("where", HERE) != where or lock.kind != spec.kind:
        return False
    asked = lock.requested
    return (
        dict(asked.get("packages") or {}) == dict(spec.packages)
        and (asked.get("python") or None) == spec.python
        and list(asked.get("channels") or ()) == list(spec.channels)
    )


def run_environments(
    options: Mapping[str, TaskOptions],
    *,
    blobs: Any,
    flow: str,
    origin_run: str | None,
    notice: Callable[[str], None],
    launcher: Launcher,
) -> RunEnvironments | None:
    """Prepare a run's environments (resuming ``origin_run``: from its claim's locks) and
    hand them to its launchers: local steps' to the :class:`EnvLauncher`, the locks of
    pods to the KubeLauncher (its ``environments``: step -> (lock URL, lock sha))."""
    if not environment_steps(options):
        return None
    origin = None
    if origin_run is not None:
        from grange.datastore.runs import read_claim

        claim = read_claim(blobs, flow, origin_run)
        origin = (claim.extra.get("environments") if claim is not None else None) or {}
    prepared = prepare_environments(
        options, blobs=blobs, notice=notice, origin=origin, origin_run=origin_run
    )
    if prepared is None:
        return None
    layer: Any = launcher
    while layer is not None:
        if isinstance(layer, EnvLauncher):
            layer.use(prepared.local)
        remote = getattr(layer, "environments", None)
        if isinstance(remote, dict):
            remote.update(prepared.remote)
        layer = getattr(layer, "inner", None)
    return prepared
