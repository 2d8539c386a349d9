"""Step environments: resolve a requirement set to a lock, build the lock into a cached
environment, store and load locks in the datastore. The one API the runtime, the pod
bootstrap and the compilers use (docs/environments.md).

- :func:`resolve`: an :class:`EnvSpec` to an :class:`EnvLock`, with uv (``pypi``) or
  py-rattler (``conda``); a lock already in the cache for the same key is returned
  without any network (and without running uv).
- :func:`build`: a lock to a :class:`PreparedEnv` under ``<cache>/envs/<lock sha>``,
  built once (atomically: a half-built environment is never used) and reused by every
  run and flow.
- :func:`prepare`: both (``lock=`` given: no resolution, as ``resume`` and pods do).
- :func:`spec_key`: the key :func:`resolve` would file the lock under (``resume``
  compares it with the origin run's to reuse that lock).
- :func:`store_lock` / :func:`load_lock`: a lock in the datastore, content-addressed;
  :func:`find_lock` / :func:`shared_lock`: the lock the datastore's key index holds
  for a requirement set (what every machine on that datastore reuses).

Backends (one module each, imported only when used): ``grange.environments.pypi`` and
``grange.environments.conda`` each provide
``lock(spec, settings, *, python: str | None, platform: str) -> Resolved`` and
``install(lock, settings, target: Path, *, final: Path) -> Path`` (builds into the
empty folder ``target``, which is then renamed to ``final``: a conda environment
writes ``final`` into its files; returns the interpreter in ``target``). The key, the caches, the atomic rename and the
shim for grange are this module's (and :mod:`~grange.environments.cache`'s).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import platform as _platform
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from grange.decorators.options import EnvSpec
from grange.environments import cache
from grange.environments.envlock import EnvLock, PreparedEnv
from grange.environments.keys import KEY_FORMAT as KEY_FORMAT
from grange.environments.keys import KINDS as KINDS
from grange.environments.keys import Runtime as Runtime
from grange.environments.keys import _keyed, _minor, _with_runtime
from grange.environments.keys import _requested as _requested
from grange.environments.keys import _running as _running
from grange.environments.keys import mask_url as mask_url
from grange.environments.platforms import buildable_here as buildable_here
from grange.environments.platforms import conda_platform as conda_platform
from grange.environments.platforms import host_platform as host_platform
from grange.environments.platforms import pypi_platform as pypi_platform
from grange.environments.settings import EnvSettings
from grange.exceptions import BlobNotFound, EnvError

# Off: measured on 2 shared cores, installing while resolving was no faster than
# resolving then installing from the lock (median 1.19x vs 1.10x ``uv venv && uv pip
# install``, 12 alternating cold runs of numpy, pandas and scikit-learn), and a package
# the early install put in is not checked against the lock's sha256 by the sync that
# follows (uv keeps an installed distribution of the right version). Worth measuring
# again on a machine with more cores.
SPECULATE = False
LOCKS_PREFIX = "envs/locks"
KEYS_PREFIX = "envs/keys"  # the key index: <key>.json -> the lock stored for it


def datastore_packages(datastore: str, *, boto3: bool = False) -> Runtime:
    """What a task on a ``datastore`` (``"local"``, ``"s3"``) imports beyond grange's
    own task dependencies, pinned to this machine's versions: on S3, ``obstore`` and,
    when credentials come from boto3's chain (``S3Settings.use_boto3_credentials``),
    ``boto3``. Pass it as ``runtime=`` to :func:`spec_key`, :func:`resolve`,
    :func:`build` and :func:`prepare` for every environment step of that run:

    - ``@pypi``: the packages join the resolution (and so the key and the lock), so
      the environment has them, for any Python and in pods;
    - ``@conda``: the host's copies are linked into the shim, which needs the
      environment's Python x.y to be the host's (compiled modules): otherwise
      :func:`resolve` raises an EnvError saying so.

    A step that asks for one of these packages itself keeps its own version."""
    if datastore != "s3":
        return ()
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("obstore", "boto3") if boto3 else ("obstore",):
        try:
            found.append((name, version(name)))
        except PackageNotFoundError:
            continue  # the datastore reports it missing, with its fix
    return tuple(found)


def spec_key(
    spec: EnvSpec, settings: EnvSettings, platform: str | None = None, *, runtime: Runtime = ()
) -> str:
    """The key :func:`resolve` files ``spec``'s lock under for ``platform`` (None: this
    machine's), computed without resolving."""
    with _at(spec):
        return _keyed(_with_runtime(spec, runtime), settings, platform)[0]


def resolve(
    spec: EnvSpec, settings: EnvSettings, *, platform: str | None = None, runtime: Runtime = ()
) -> EnvLock:
    """The lock of ``spec`` for ``platform`` (None: this machine's). Errors: EnvError naming
    the step and decorator (``spec.step``, ``spec.decorator``, ``spec.file``/``line``).
    ``runtime``: :func:`datastore_packages`."""
    with _at(spec):
        return _resolve(spec, _absolute(settings), platform, seed=False, runtime=runtime)[0]


@contextlib.contextmanager
def _at(spec: EnvSpec) -> Iterator[None]:
    """An EnvError raised inside that names no step (uv missing, a cache that cannot be
    written, an install that failed) gets ``spec``'s step, file and line."""
    try:
        yield
    except EnvError as err:
        if err.step is None and spec.step:
            err.step, err.file, err.line = spec.step, err.file or spec.file, err.line or spec.line
        raise


def _resolve(
    asked: EnvSpec, settings: EnvSettings, platform: str | None, *, seed: bool, runtime: Runtime
) -> tuple[EnvLock, Path | None]:
    """The lock of ``spec`` and, when ``seed`` and the backend can, a folder it started
    an environment in while resolving (the cold path of :func:`prepare`: the backend's
    ``speculate``), for :func:`_build` to finish; None otherwise."""
    spec = _with_runtime(asked, runtime)  # what is resolved; ``asked`` is recorded
    key, python, target = _keyed(spec, settings, platform)
    found = cache.cached_lock(settings.cache_dir, key)
    if found is not None:
        # As this step asked it (the same requirements may be written otherwise).
        return replace(found, requested=_requested(asked, settings)), None
    backend = _backend(spec.kind, spec)
    folder: Path | None = None
    started: Any = None
    try:
        with cache.file_lock(settings.cache_dir / "locks" / f".{key}.lock"):
            found = cache.cached_lock(settings.cache_dir, key)  # resolved while we waited
            if found is not None:
                return replace(found, requested=_requested(asked, settings)), None
            speculate = getattr(backend, "speculate", None)
            if seed and speculate is not None and buildable_here(target):
                folder = _seed_dir(settings)
                started = speculate(spec, settings, python=python, platform=target, target=folder)
            try:
                resolved = backend.lock(spec, settings, python=python or None, platform=target)
            except BaseException:
                if started is not None:
                    started.cancel()
                if folder is not None:
                    cache.discard(folder)
                raise
            if runtime and spec.kind == "conda" and _minor(resolved.python) != _minor(_running()):
                raise EnvError(
                    f"{spec.decorator or '@conda'}: the solution has Python {resolved.python}; "
                    f"on this datastore a task imports {', '.join(n for n, _ in runtime)} from "
                    f"grange's Python {_minor(_running())}, which cannot load in it",
                    file=spec.file,
                    line=spec.line,
                    step=spec.step or None,
                    fix=f"ask for python {_minor(_running())} in {spec.decorator or '@conda'}",
                )
            _check_task_deps(spec, resolved.packages)
            lock = EnvLock(
                kind=spec.kind,
                key=key,
                python=resolved.python,
                platform=target,
                text=resolved.text,
                tool=resolved.tool,
                packages=resolved.packages,
                requested=_requested(asked, settings),
            )
            cache.cache_lock(settings.cache_dir, lock)
        if folder is not None and (started is None or not started.wait()):
            cache.discard(folder)  # no environment was started there: build afresh
            folder = None
    except OSError as err:
        raise cache.unwritable(settings.cache_dir, err) from None
    return lock, folder


def _check_task_deps(spec: EnvSpec, packages: Any) -> None:
    """An environment that has one of grange's task dependencies (click, pathspec) keeps
    its own version, which tasks then import: one grange cannot run with is an EnvError."""
    from grange.environments.requires import satisfies, task_requirements

    needs = task_requirements()
    for package in packages:
        name = str(package.get("name", "")).lower().replace("_", "-")
        version = str(package.get("version", ""))
        need = needs.get(name)
        if need is None or not version or satisfies(version, need):
            continue
        label = spec.decorator or "@" + spec.kind
        raise EnvError(
            f"{label}: the environment has {name} {version}, but grange's tasks import "
            f"{name} from the environment and grange needs {name}{need}",
            file=spec.file,
            line=spec.line,
            step=spec.step or None,
            fix=f"ask for {name}{need} in {label} (a package that needs an older {name} "
            "cannot share a step's environment with grange: run it in a subprocess)",
        )


def _seed_dir(settings: EnvSettings) -> Path:
    """An empty folder beside the environments to start one in before its lock (and so
    its name) is known; leftovers of dead processes removed."""
    envs = settings.cache_dir / "envs"
    if envs.is_dir():
        cache.sweep(envs, "seed", locked=False)
    return cache.temp_dir(envs / "seed")


def build(lock: EnvLock, settings: EnvSettings, *, runtime: Runtime = ()) -> PreparedEnv:
    """The environment of ``lock`` on this machine, built once and cached. ``runtime``:
    :func:`datastore_packages` (a @conda environment's shim links them)."""
    return _built(lock, _absolute(settings), None, runtime)


def _built(
    lock: EnvLock, settings: EnvSettings, seed: Path | None, runtime: Runtime = ()
) -> PreparedEnv:
    prefix = cache.env_path(settings.cache_dir, lock)
    python = cache.ready_python(prefix, lock)
    if python is None:
        python = _build(lock, settings, prefix, seed)
    elif seed is not None:
        cache.discard(seed)
    return PreparedEnv(
        lock=lock, prefix=prefix, python=python, pythonpath=_pythonpath(lock, settings, runtime)
    )


def prepare(
    spec: EnvSpec, settings: EnvSettings, *, lock: EnvLock | None = None, runtime: Runtime = ()
) -> PreparedEnv:
    """``build(lock or resolve(spec, settings, runtime=runtime), settings, runtime=runtime)``
    (``runtime``: :func:`datastore_packages`; pass the same to :func:`spec_key`).

    With :data:`SPECULATE` on and no ``lock``, when the spec's lock is not cached yet
    (the cold path), the backend starts building the environment while it resolves
    (``@pypi``: ``uv pip install`` of the requirements concurrently with ``uv pip
    compile``), then syncs it to the lock: its versions are exactly the lock's."""
    with _at(spec):
        return _prepare(spec, _absolute(settings), lock, runtime)


def _prepare(
    spec: EnvSpec, settings: EnvSettings, lock: EnvLock | None, runtime: Runtime
) -> PreparedEnv:
    if lock is not None:
        return _built(lock, settings, None, runtime)
    found, seed = _resolve(spec, settings, None, seed=SPECULATE, runtime=runtime)
    try:
        return _built(found, settings, seed, runtime)
    finally:
        if seed is not None and seed.exists():
            cache.discard(seed)


def store_lock(blobs: Any, lock: EnvLock) -> str:
    """Store ``lock`` in the datastore (``blobs``: a BlobStore) at
    ``envs/locks/<sha>.json`` unless there already, and file it in the datastore's key
    index, ``envs/keys/<lock key>.json`` (write-once: the first lock stored for a key
    stays the one every machine on that datastore reuses, :func:`find_lock`); return
    the lock's storage key."""
    key = f"{LOCKS_PREFIX}/{lock.sha}.json"
    data = json.dumps(lock.to_dict(), sort_keys=True, indent=1).encode()
    blobs.put_bytes(key, data)  # write-once: a lock there already is this very lock
    if lock.key:
        pointer = {"lock": key, "sha": lock.sha, "record_sha": lock.record_sha}
        blobs.put_bytes(index_key(lock.key), json.dumps(pointer, sort_keys=True).encode())
    return key


def index_key(key: str) -> str:
    """Where the datastore's key index files the lock of the requirement set ``key``."""
    return f"{KEYS_PREFIX}/{key}.json"


def find_lock(blobs: Any, key: str) -> EnvLock | None:
    """The lock the datastore's key index holds for the requirement set ``key`` (stored
    by an earlier run or deployment on any machine), or None. A pointer or lock that
    does not match (edited, truncated) is an EnvError saying it is damaged."""
    pointer_key = index_key(key)
    where = f"the environment key index entry {pointer_key} in the {blobs.describe()}"
    fix = (
        f"delete {pointer_key} from the datastore: the next run resolves the "
        "environment again and files its lock there"
    )
    try:
        raw = blobs.get_bytes(pointer_key)
    except BlobNotFound:
        return None
    try:
        pointer = json.loads(raw)
    except ValueError as err:
        raise EnvError(f"{where} is damaged (not JSON: {err})", fix=fix) from None
    stored = pointer.get("lock") if isinstance(pointer, dict) else None
    if not isinstance(stored, str) or not stored.startswith(f"{LOCKS_PREFIX}/"):
        raise EnvError(f"{where} is damaged: it names no lock under {LOCKS_PREFIX}/", fix=fix)
    try:
        lock = load_lock(blobs, stored)
    except EnvError as err:
        raise EnvError(
            f"{where} points to a lock that cannot be used: {err.message}", fix=fix
        ) from None
    if (
        lock.key != key
        or lock.sha != pointer.get("sha")
        or (lock.record_sha != pointer.get("record_sha"))
    ):
        raise EnvError(
            f"{where} is damaged: it points to the lock {lock.sha[:12]} (key "
            f"{lock.key[:12]}), which is not what it records",
            fix=fix,
        )
    return lock


def shared_lock(
    spec: EnvSpec,
    settings: EnvSettings,
    blobs: Any,
    *,
    platform: str | None = None,
    runtime: Runtime = (),
) -> EnvLock | None:
    """When the local lock cache has no lock for ``spec`` (for ``platform``, with
    ``runtime``: as :func:`resolve`), the one the datastore's key index holds
    (:func:`find_lock`), put in the local lock cache; None otherwise (then
    :func:`resolve` finds it in the local cache, or resolves)."""
    with _at(spec):
        settings = _absolute(settings)
        key = _keyed(_with_runtime(spec, runtime), settings, platform)[0]
        if cache.cached_lock(settings.cache_dir, key) is not None:
            return None
        lock = find_lock(blobs, key)
        if lock is None:
            return None
        cache.cache_lock(settings.cache_dir, lock)
        return replace(lock, requested=_requested(spec, settings))


def load_lock(blobs: Any, key: str) -> EnvLock:
    """The lock stored at ``key``, checked against its sha; EnvError when missing/damaged."""
    where = f"the environment lock {key} in the {blobs.describe()}"
    fix = "run the flow again to resolve its environments and record their locks anew"
    try:
        data = json.loads(blobs.get_bytes(key))
    except BlobNotFound:
        raise EnvError(f"{where} is missing", fix=fix) from None
    except ValueError as err:
        raise EnvError(f"{where} is damaged (not JSON: {err})", fix=fix) from None
    lock = EnvLock.from_dict(data, where=where)
    name = key.rsplit("/", 1)[-1]
    if key.startswith(f"{LOCKS_PREFIX}/") and name != f"{lock.sha}.json":
        raise EnvError(f"{where} is damaged: it holds the lock {lock.sha}", fix=fix)
    return lock


def _absolute(settings: EnvSettings) -> EnvSettings:
    """``settings`` with an absolute cache folder (uv runs from inside it)."""
    if settings.cache_dir.is_absolute():
        return settings
    return replace(settings, cache_dir=settings.cache_dir.absolute())


# -- building ------------------------------------------------------------------------


def _backend(kind: str, spec: EnvSpec | None = None) -> Any:
    try:
        return importlib.import_module(f"grange.environments.{kind}")
    except ImportError as err:
        raise EnvError(
            f"the @{kind} environment backend cannot be loaded ({err})",
            step=(spec.step or None) if spec else None,
            fix=f"install grange with its {kind} extra: pip install 'grange[{kind}]'",
        ) from None


def _build(lock: EnvLock, settings: EnvSettings, prefix: Path, seed: Path | None) -> Path:
    if lock.kind == "pypi" and not buildable_here(lock.platform):
        raise EnvError(
            f"the environment's lock is for {lock.platform}, not this machine "
            f"({host_platform() or _platform.platform()})",
            fix="build it where it runs (a pod of that platform), or resolve it anew "
            "for this machine",
        )
    backend = _backend(lock.kind)
    try:
        with cache.file_lock(prefix.parent / f".{prefix.name}.lock"):
            python = cache.ready_python(prefix, lock)  # built while we waited
            if python is not None:
                return python
            cache.sweep(prefix.parent, prefix.name)
            if _in_place(lock, settings) and seed is None:
                return _build_in_place(lock, settings, prefix, backend)
            temp = seed if seed is not None else cache.temp_dir(prefix)
            try:
                built = Path(backend.install(lock, settings, temp, final=prefix))
                cache.mark_ready(temp, lock, built)
                cache.publish(temp, prefix)
            finally:
                if temp.exists():
                    cache.discard(temp)
            return prefix / os.path.relpath(built, temp)
    except OSError as err:
        raise cache.unwritable(settings.cache_dir, err) from None


def _in_place(lock: EnvLock, settings: EnvSettings) -> bool:
    """micromamba and conda write their prefix into the files they install (scripts'
    shebangs, ``conda-meta``): they build at the final path, never renamed after."""
    from grange.environments.conda_tool import TOOLS

    return lock.kind == "conda" and settings.conda_tool in TOOLS


def _build_in_place(lock: EnvLock, settings: EnvSettings, prefix: Path, backend: Any) -> Path:
    """Build at ``prefix`` itself (the caller holds its file lock): what is there
    without a ready marker is a damaged build, removed first; the marker is written
    last, so a build killed half way is never taken for a complete one."""
    if prefix.exists():
        cache.discard(prefix)
    prefix.mkdir(parents=True)
    try:
        built = Path(backend.install(lock, settings, prefix, final=prefix))
        cache.mark_ready(prefix, lock, built)
    except BaseException:
        cache.discard(prefix)
        raise
    return built


def _pythonpath(lock: EnvLock, settings: EnvSettings, runtime: Runtime) -> tuple[str, ...]:
    from grange.environments.shim import shim_dir

    # A @pypi lock has the runtime's packages; a @conda environment gets the host's.
    extra = [name for name, _ in runtime] if lock.kind == "conda" else []
    try:
        names = [str(p.get("name", "")) for p in lock.packages]
        return (str(shim_dir(settings.cache_dir, names, extra)),)
    except OSError as err:
        raise cache.unwritable(settings.cache_dir, err) from None
