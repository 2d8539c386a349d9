"""Step environments in pods: the lock a pod rebuilds from, and the rebuild itself.

Where pods run (``@kubernetes`` steps, ``argo-workflows create``), a step's
environment is resolved for the pods' platform (``pod_platform``, never this
machine's), stored in the datastore (:func:`store_for_pods`: the lock at
``envs/locks/<sha>.json``, and with ``wheels_in_datastore`` every package it names,
:mod:`grange.environments.wheels`), and handed to the pod's bootstrap as
``--env-lock-url URL --env-lock-sha SHA``. The pod (:func:`rebuild`) builds the
environment from that lock alone, never resolving: with the packages from the
datastore and no index when they are there, from the lock's URLs otherwise.

What a pod is told through its environment variables (:func:`pod_env`,
:func:`settings_from_env`): ``GRANGE_ENV_CACHE`` where environments are cached
(default: under ``$HOME/.cache/grange``; mount a volume there to keep them across
pods),
``GRANGE_ENV_PACKAGES`` the datastore holding the lock's packages,
``GRANGE_ENV_OFFLINE=1`` never to reach an index (the profile's ``pod_offline``).
"""

from __future__ import annotations

import os
import platform as _platform
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from grange.environments.envlock import EnvLock, PreparedEnv
from grange.environments.settings import OFFLINE_ENV, EnvSettings
from grange.exceptions import EnvError

if TYPE_CHECKING:
    from grange.datastore import DatastoreLocation
    from grange.decorators.options import EnvSpec

PACKAGES_ENV = "GRANGE_ENV_PACKAGES"
#: On a deployment's start pod: ``{step: lock key}`` of every step with a lock (JSON),
#: which the run's claim records (:func:`claim_of`).
DEPLOYED_LOCKS_ENV = "GRANGE_ARGO_ENVIRONMENTS"
LOCKS_PREFIX = "envs/locks"
#: conda's subdir of a uv platform name (pods: ``x86_64-manylinux_2_28``).
CONDA_SUBDIRS = {"x86_64": "linux-64", "aarch64": "linux-aarch64"}
#: Words of uv's messages when it cannot reach an index.
NETWORK_WORDS = (
    "Failed to fetch",
    "Request failed",
    "dns error",
    "tcp connect",
    "Connection refused",
    "network",
    "Network",
)
FIX_UV = "the image needs uv: pip install uv (or grange[pypi])"

EnvRef = tuple[str, str]  # (lock URL, lock sha)


# -- where pods run: resolve, store, tell the pod -------------------------------------


def pod_platform(kind: str, settings: EnvSettings) -> str:
    """The platform a ``kind`` lock is resolved for when pods run it."""
    if kind == "conda":
        arch = settings.pod_platform.split("-", 1)[0]
        return CONDA_SUBDIRS.get(arch, settings.pod_platform)
    return settings.pod_platform


def pod_runtime(datastore: str) -> tuple[tuple[str, str], ...]:
    """What a pod's task imports on a ``datastore`` (``"local"``, ``"s3"``) beyond
    grange's task dependencies (``manager.datastore_packages``: obstore on S3): a
    @pypi lock for pods has them, a @conda environment's shim links the image's.
    Never boto3: pods get their credentials from the cluster, not ``~/.aws``."""
    from grange.environments import manager

    return manager.datastore_packages(datastore)


def lock_url(location: DatastoreLocation, blobs: Any, key: str) -> str:
    """What a pod reads the lock stored at ``key`` from: a path or an ``s3://`` URL."""
    return str(location.path / key) if location.is_local else str(blobs.url(key))


def split_lock_url(url: str) -> tuple[str, str]:
    """``(datastore root, key)`` of a lock's URL (``<root>/envs/locks/<sha>.json``)."""
    scheme, sep, rest = url.partition("://") if "://" in url else ("", "", url)
    parts = rest.split("/")
    if len(parts) < 4 or "/".join(parts[-3:-1]) != LOCKS_PREFIX or not parts[-1].endswith(".json"):
        raise EnvError(
            f"{url} is not the URL of an environment lock (<root>/{LOCKS_PREFIX}/<sha>.json)",
            fix="pass the URL the run or the deployment stored the lock at",
        )
    return scheme + sep + "/".join(parts[:-3]), "/".join(parts[-3:])


def store_for_pods(
    spec: EnvSpec,
    settings: EnvSettings,
    location: DatastoreLocation,
    *,
    lock: EnvLock | None = None,
    blobs: Any = None,
) -> tuple[EnvLock, EnvRef]:
    """``spec``'s lock for the pods' platform (``lock`` given: that one, as ``resume``
    reuses a recorded lock; else the local lock cache's, the datastore key index's, or
    resolved now), stored in ``location`` with, if the settings say so, its
    packages; return it and what the pod's bootstrap gets."""
    from grange.environments import manager

    blobs = location.open() if blobs is None else blobs
    if lock is None:
        platform = pod_platform(spec.kind, settings)
        runtime = pod_runtime(location.kind)
        # The local lock cache's, else the datastore key index's (an earlier run or
        # deployment on any machine), else resolved now.
        lock = manager.shared_lock(
            spec, settings, blobs, platform=platform, runtime=runtime
        ) or manager.resolve(spec, settings, platform=platform, runtime=runtime)
    if settings.wheels_in_datastore or settings.pod_offline:
        store_lock_packages(blobs, lock, settings, step=spec.step)
    else:
        check_reachable(lock, step=spec.step)
    key = manager.store_lock(blobs, lock)
    return lock, (lock_url(location, blobs, key), lock.sha)


def check_reachable(lock: EnvLock, *, step: str) -> None:
    """Pods installing from the lock's URLs cannot read a package from this machine's
    disk (a ``find_links`` wheel): an EnvError naming it."""
    from grange.environments.wheels import on_this_disk

    local = on_this_disk(lock)
    if local:
        name, where = local[0]
        raise EnvError(
            f"package {name!r} of the lock {lock.sha[:12]} comes from this machine's disk "
            f"({where}): pods cannot read it there",
            step=step or None,
            fix="set wheels_in_datastore = true in the profile's [environments] table (its "
            "file is then stored in the datastore for the pods), or publish it to an "
            "index the pods reach",
        )


def locks_for_pods(
    specs: Mapping[str, EnvSpec | None],
    table: Mapping[str, Any] | None,
    location: DatastoreLocation,
    *,
    say: Callable[[str], None] | None = None,
) -> tuple[dict[str, EnvRef], dict[str, str]]:
    """What a deployment gives the pods of its steps with an environment (``specs``:
    each step's EnvSpec or None; ``table``: the profile's ``[environments]``): each
    one's ``(lock URL, lock sha)``, resolved for the pods (or taken from the local lock
    cache or the datastore's key index) and stored; and the variables those pods get."""
    wanted = {step: spec for step, spec in specs.items() if spec is not None}
    if not wanted:
        return {}, {}
    settings = EnvSettings.from_table(table, os.environ)
    blobs = location.open()
    refs: dict[str, EnvRef] = {}
    done: dict[tuple[Any, ...], tuple[EnvLock, EnvRef]] = {}  # same request: one lock
    steps_of: dict[str, list[str]] = {}  # lock sha -> its steps
    for step, spec in sorted(wanted.items()):
        same = (spec.kind, spec.packages, spec.python, spec.channels)
        if same not in done:
            done[same] = store_for_pods(spec, settings, location, blobs=blobs)
        lock, refs[step] = done[same]
        steps_of.setdefault(lock.sha, []).append(step)
    if say is not None:  # one line per lock (@pypi_base: every step shares one)
        for lock, _ref in done.values():
            steps = steps_of.pop(lock.sha, [])
            if not steps:
                continue
            spec = wanted[steps[0]]
            say(
                f"Step{'s' if len(steps) > 1 else ''} {', '.join(steps)}: "
                f"{spec.decorator or lock.kind} environment, lock {lock.sha[:12]} "
                f"for Python {lock.python} on {lock.platform} ({len(lock.packages)} packages)."
            )
    return refs, pod_env(settings, location)


def store_lock_packages(blobs: Any, lock: EnvLock, settings: EnvSettings, *, step: str) -> None:
    """The lock's packages in the datastore (pypi locks; conda pods fetch from channels)."""
    if lock.kind != "pypi":
        if settings.pod_offline:
            raise EnvError(
                "pods cannot rebuild a conda environment without its channel: its "
                "packages are not stored in the datastore (only @pypi's are)",
                step=step,
                fix="set pod_offline = false in the profile's [environments] table, or use "
                "@pypi for this step",
            )
        return
    from grange.environments.wheels import store_packages

    try:
        store_packages(blobs, lock)
    except EnvError as err:
        if step and not err.step:
            err.step = step
        raise


def pod_env(settings: EnvSettings, location: DatastoreLocation | str) -> dict[str, str]:
    """The environment variables a pod running a step with an environment gets."""
    env: dict[str, str] = {}
    if settings.wheels_in_datastore or settings.pod_offline:
        env[PACKAGES_ENV] = str(getattr(location, "url", location))
    if settings.pod_offline:
        env[OFFLINE_ENV] = "1"
    return env


def deployed_locks(refs: Mapping[str, EnvRef]) -> str:
    """What a deployment's start pod is told of its steps' locks (``refs``: step ->
    (lock URL, sha)): ``{step: lock key}`` as compact JSON."""
    import json

    keys = {step: split_lock_url(url)[1] for step, (url, _sha) in sorted(refs.items())}
    return json.dumps(keys, separators=(",", ":"))


def claim_of(blobs: Any, given: str) -> dict[str, dict[str, Any]]:
    """The run's ``extra["environments"]`` from :func:`deployed_locks`' JSON: each
    step's lock summary, its key and ``where = "pod"`` (each lock read once)."""
    import json

    from grange.environments import manager

    try:
        keys = json.loads(given)
    except ValueError:
        keys = None
    if not isinstance(keys, dict):
        raise EnvError(
            f"{DEPLOYED_LOCKS_ENV} is not a JSON object of step -> lock key: {given[:80]!r}",
            fix="deploy the flow again (argo-workflows create)",
        )
    locks: dict[str, EnvLock] = {}
    out: dict[str, dict[str, Any]] = {}
    for step, key in sorted(keys.items()):
        key = str(key)
        if key not in locks:
            locks[key] = manager.load_lock(blobs, key)
        out[str(step)] = {**locks[key].summary(), "lock_key": key, "where": "pod"}
    return out


# -- in the pod ------------------------------------------------------------------------


def settings_from_env(env: Mapping[str, str]) -> tuple[EnvSettings, str | None]:
    """A pod's settings (``GRANGE_ENV_CACHE``, ``GRANGE_ENV_OFFLINE``) and the datastore
    holding the lock's packages (``GRANGE_ENV_PACKAGES``)."""
    return EnvSettings.from_table(None, env), env.get(PACKAGES_ENV) or None


def check_python(lock: EnvLock, here: str | None = None) -> None:
    """A pypi environment is built on the image's Python: its major.minor must be the
    lock's (a conda environment brings its own Python)."""
    if lock.kind != "pypi":
        return
    here = here or _platform.python_version()
    if lock.python.split(".")[:2] != here.split(".")[:2]:
        want = ".".join(lock.python.split(".")[:2])
        raise EnvError(
            f"the environment was resolved for Python {lock.python} but this image has "
            f"Python {here}",
            fix=f"run the step on an image with Python {want} (image= on @kubernetes, or "
            f'the profile\'s [kubernetes] image), or set python="{".".join(here.split(".")[:2])}"'
            " on the step's @pypi and deploy again",
        )


def find_uv() -> str | None:
    """The uv program this image has (the engine's lookup), or None."""
    from grange.environments.uvtool import uv_binary

    try:
        return uv_binary()
    except EnvError:
        return None


def rebuild(
    lock: EnvLock,
    settings: EnvSettings,
    *,
    packages: str | None = None,
    step: str = "",
    datastore: str = "local",
) -> PreparedEnv:
    """The environment of ``lock`` built on this machine (cached under the settings'
    ``cache_dir``): from the packages stored in the datastore at ``packages`` and no
    index when given, else from the lock's URLs. Never resolves. ``datastore``: the
    kind of the run's datastore (on ``"s3"`` a @conda shim links the image's obstore)."""
    from grange.environments import cache, manager

    check_python(lock)
    if lock.kind == "pypi" and find_uv() is None:
        raise EnvError("uv is not installed in this image", step=step or None, fix=FIX_UV)
    # The lock's files are named by absolute paths (a relative GRANGE_ENV_CACHE too).
    settings = replace(settings, cache_dir=settings.cache_dir.absolute())
    if packages and lock.kind == "pypi":
        from grange.datastore import DatastoreLocation
        from grange.environments.wheels import fetch_packages, local_lock

        folder = settings.cache_dir / "packages" / lock.sha[:16]
        # Installed from those files (their paths in the lock), with no index at all.
        built = local_lock(lock, folder)
        if cache.ready_python(cache.env_path(settings.cache_dir, built), built) is None:
            # (each file checked against its sha256: not on every task once built)
            fetch_packages(DatastoreLocation.of(packages).open(), lock, folder)
        settings = replace(settings, find_links=(str(folder),), offline=True)
    else:
        built = lock
    try:
        return manager.build(built, settings, runtime=pod_runtime(datastore))
    except EnvError as err:
        raise _build_error(err, lock, settings, packages, step) from None


def _build_error(
    err: EnvError, lock: EnvLock, settings: EnvSettings, packages: str | None, step: str
) -> EnvError:
    message = _trim(err.message)
    where = f"cannot rebuild the environment of the lock {lock.sha[:12]}"
    if message.startswith("cannot write the environment cache"):  # pods ignore cache_dir
        return EnvError(
            f"{where}: {message}",
            step=step or None,
            fix="set GRANGE_ENV_CACHE in the pod to a folder it may write to (or mount a "
            "writable volume at $HOME/.cache/grange)",
        )
    if packages and lock.kind == "pypi" and "offline (" in message:
        # The build is offline because the packages come from the datastore: uv's
        # words, not the engine's (which blame an offline setting nobody set).
        detail = _trim(err.message.split("\n", 1)[-1])
        return EnvError(
            f"{where} from the packages stored in the datastore, with no index: {detail}",
            step=step or None,
            fix="a package of the lock may have no wheel (only a source archive, which "
            "needs build tools from an index): pin a version with wheels, or set "
            "wheels_in_datastore = false in the profile's [environments] table",
        )
    if not packages and any(word in message for word in NETWORK_WORDS):
        return EnvError(
            f"{where}: no package index is reachable from this pod, and the lock's "
            f"packages are not in the datastore ({message})",
            step=step or None,
            fix="set wheels_in_datastore = true in the profile's [environments] table (pods "
            "then get the packages from the datastore), or let pods reach the index",
        )
    return EnvError(f"{where}: {message}", step=step or None, fix=err.fix)


def _trim(message: str, lines: int = 12) -> str:
    kept = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if len(kept) > lines:
        kept = [*kept[:lines], f"... ({len(kept) - lines} more lines)"]
    return " / ".join(kept) if len(kept) > 1 else (kept[0] if kept else "")
