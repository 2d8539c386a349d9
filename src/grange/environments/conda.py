"""The ``@conda`` backend: solve a step's conda packages with py-rattler into rattler's
lock file, and install a lock into a folder without solving again.

Called only by :mod:`grange.environments.manager` (which keys, caches and renames):

- :func:`lock`: channels (the profile's ``[environments] channels``, default
  conda-forge, then the decorator's) + match specs (:mod:`.conda_specs`) ->
  ``rattler.solve`` -> rattler's lock file text (YAML, ``version: 7``: URL, sha256
  and md5 of every package) as a :class:`Resolved`. ``settings.offline``: the
  repodata comes from rattler's cache only (``<cache>/conda-repodata``), never
  the network.
- :func:`install`: the lock's packages, read back with ``rattler.LockFile``, linked
  into ``target`` by ``rattler.install`` (package cache ``<cache>/conda-pkgs``); with
  ``[environments] conda_tool = "micromamba"`` or ``"conda"``, that program does the
  install instead (:mod:`.conda_tool`). Returns ``target/bin/python``.

Every rattler failure a user can cause (no such package, no solution, a channel
that is not one, no network) is an :class:`EnvError` naming the step and decorator.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import importlib.metadata
import re
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from grange.decorators.options import EnvSpec
from grange.environments import conda_specs, conda_tool
from grange.environments.conda_specs import decorator, rattler_module, where
from grange.environments.envlock import EnvLock, Resolved
from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError

T = TypeVar("T")
ENVIRONMENT = "default"  # the one environment of grange's lock files
_NETWORK = re.compile(
    r"tcp connect error|dns error|error sending request|connection refused|"
    r"timed out|network is unreachable|no route to host",
    re.IGNORECASE,
)
_URL = re.compile(r"\((\w+://[^)\s]+)\)|'(\w+://[^'\s]+)'|(\w+://\S+)")


def lock(spec: EnvSpec, settings: EnvSettings, *, python: str | None, platform: str) -> Resolved:
    """Solve ``spec`` (its ``python`` replaced by ``python`` when given) for the conda
    subdir ``platform``; the lock text is rattler's lock file."""
    rattler = rattler_module()
    if python is not None:
        spec = _with_python(spec, python)
    conda_tool.check(settings, spec)
    urls = conda_specs.channel_urls(spec, settings)
    specs = conda_specs.match_specs(spec, rattler)
    target = conda_specs.subdir(platform, spec, rattler)
    conda_specs.check_local_channels(urls, spec)
    virtual = conda_specs.virtual_packages(platform, rattler)
    gateway = rattler.Gateway(
        cache_dir=settings.cache_dir / "conda-repodata",
        default_config=rattler.SourceConfig(
            cache_action="force-cache-only" if settings.offline else "cache-or-fetch"
        ),
    )
    channels = [rattler.Channel(url) for url in urls]

    def solve() -> Coroutine[Any, Any, list[Any]]:
        return rattler.solve(
            sources=channels,
            specs=specs,
            gateway=gateway,
            platforms=[target, rattler.Subdir("noarch")],
            virtual_packages=virtual,
        )

    try:
        records = _run(solve)
    except Exception as err:
        raise _solve_error(err, spec, urls, rattler) from None
    return _resolved(records, urls, platform, spec, rattler)


def install(
    lock: EnvLock, settings: EnvSettings, target: Path, *, final: Path | None = None
) -> Path:
    """Install the packages of ``lock`` into the new (or empty) folder ``target``
    without solving; return its interpreter.

    ``final``: where the folder will be renamed to once built (the manager builds
    beside it and renames). A conda environment is not relocatable: its packages'
    scripts and text files get the prefix written into them, so rattler writes
    ``final`` there (``alternative_target_prefix``). Not given, it is read from the
    name of the manager's build folder (``.<final>.tmp-<pid>-<hex>`` beside it, see
    ``cache.temp_dir``), else ``target`` itself. micromamba and conda cannot: with
    them, files holding the prefix name ``target``.
    """
    rattler = rattler_module()
    _check_platform(lock, rattler)
    records = _records(lock, rattler)
    if settings.conda_tool in conda_tool.TOOLS:
        conda_tool.install(settings, records, target)
    else:
        conda_tool.check(settings)
        if settings.offline:
            _check_cached(records, settings)
        cache = settings.cache_dir / "conda-pkgs"

        def link() -> Coroutine[Any, Any, None]:
            return rattler.install(
                records,
                target_prefix=target,
                cache_dir=cache,
                show_progress=False,
                alternative_target_prefix=final or final_place(target),
            )

        try:
            _run(link)
        except Exception as err:
            raise _install_error(err, lock) from None
    return interpreter(target, lock.platform)


_BUILD_FOLDER = re.compile(r"\.(?P<final>.+)\.tmp-\d+-[0-9a-f]+")


def final_place(target: Path) -> Path | None:
    """The folder the manager renames its build folder ``target`` to (None: ``target``
    is no build folder of the manager's, it stays where it is)."""
    match = _BUILD_FOLDER.fullmatch(target.name)
    return target.parent / match["final"] if match else None


def interpreter(prefix: Path, platform: str) -> Path:
    """The Python of a conda prefix (``bin/python``, ``python.exe`` on Windows)."""
    path = prefix / "python.exe" if platform.startswith("win-") else prefix / "bin" / "python"
    if not path.exists():
        raise EnvError(
            f"the conda environment built in {prefix} has no Python ({path} is missing)",
            fix="add python to the packages, or check that the channel provides it",
        )
    return path


def tool_version() -> str:
    try:
        return f"py-rattler {importlib.metadata.version('py-rattler')}"
    except importlib.metadata.PackageNotFoundError:
        return "py-rattler"


def _with_python(spec: EnvSpec, python: str) -> EnvSpec:
    packages = tuple(p for p in spec.packages if p[0].lower() != "python")
    return replace(spec, python=python, packages=packages)


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a rattler coroutine to its end: on this thread when no event loop runs here,
    else on a private loop in a worker thread (a step or notebook may hold a loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def _resolved(
    records: list[Any], urls: list[str], platform: str, spec: EnvSpec, rattler: Any
) -> Resolved:
    python = [r for r in records if r.name.normalized == "python"]
    if not python:
        raise EnvError(
            f"{decorator(spec)}: the solution has no python package",
            fix="use channels that provide python (conda-forge does)",
            **where(spec),
        )
    lock_platform = rattler.LockPlatform(platform)
    lock_file = rattler.LockFile([lock_platform])
    lock_file.set_channels(ENVIRONMENT, [rattler.LockChannel(url) for url in urls])
    for record in records:
        lock_file.add_conda_package(ENVIRONMENT, lock_platform, record)
    with tempfile.TemporaryDirectory(prefix="grange-conda-") as tmp:
        path = Path(tmp) / "conda.lock"
        lock_file.to_path(path)
        text = path.read_text()
    packages = sorted((_describe(r) for r in records), key=lambda p: (p["name"], p["url"]))
    return Resolved(
        text=text, tool=tool_version(), packages=tuple(packages), python=str(python[0].version)
    )


def _describe(record: Any) -> dict[str, Any]:
    return {
        "name": record.name.normalized,
        "version": str(record.version),
        "build": str(record.build),
        "url": str(record.url),
        "sha256": record.sha256.hex() if record.sha256 else None,
        "md5": record.md5.hex() if record.md5 else None,
    }


def _records(lock: EnvLock, rattler: Any) -> list[Any]:
    """The packages of ``lock`` as rattler records (its platform object taken from the
    loaded lock file: rattler panics on one built apart)."""
    with tempfile.TemporaryDirectory(prefix="grange-conda-") as tmp:
        path = Path(tmp) / "conda.lock"
        path.write_text(lock.text)
        try:
            lock_file = rattler.LockFile.from_path(path)
            environment = lock_file.environment(ENVIRONMENT) or lock_file.default_environment()
            platforms = [p for p in environment.platforms() if p.name == lock.platform]
            records = environment.conda_repodata_records_for_platform(platforms[0])
            if not records:
                raise ValueError(f"no packages for {lock.platform}")
        except Exception as err:  # rattler's parse errors, or a lock without the platform
            reason = _trim(str(err).splitlines()[0] if str(err) else type(err).__name__, 200)
            raise EnvError(
                f"the conda lock {lock.sha[:12]} is not a rattler lock file for "
                f"{lock.platform} ({reason})",
                fix="run the flow again to resolve its environments anew (or upgrade "
                "py-rattler if the lock was made by a newer one)",
            ) from None
    return list(records)


def _check_platform(lock: EnvLock, rattler: Any) -> None:
    here = str(rattler.Subdir.current())
    if lock.platform not in (here, "noarch"):
        raise EnvError(
            f"the conda environment is locked for {lock.platform}; this machine is {here}",
            fix=f"build it on a {lock.platform} machine (a pod), or resolve it for {here}",
        )


def _check_cached(records: list[Any], settings: EnvSettings) -> None:
    """Offline: every package must be in the package cache already (or a local file)."""
    cache = settings.cache_dir / "conda-pkgs"
    for record in records:
        url = str(record.url)
        if url.startswith("file:"):
            continue
        name = f"{record.name.normalized}-{record.version}-{record.build}"
        if not (cache / name).is_dir():
            raise EnvError(
                f"offline, and the conda package {name} is not in the package cache "
                f"({cache}); it would come from {url}",
                fix="build this environment once with the network on, or set "
                "[environments] offline = false",
            )


def _channel_in(message: str, urls: list[str]) -> str:
    """The channel a rattler message is about (the first URL in it that starts one of
    ``urls``), else the URL in the message, else all channels."""
    found = [next(g for g in m.groups() if g) for m in _URL.finditer(message)]
    for url in found:
        for channel in urls:
            if url.rstrip("/").startswith(channel.rstrip("/")):
                return channel
    return found[0].rstrip("/") if found else ", ".join(urls)


def _trim(message: str, limit: int = 600) -> str:
    text = message.strip()
    if text.startswith("Cannot solve the request because of:"):
        text = text[len("Cannot solve the request because of:") :].strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _solve_error(err: Exception, spec: EnvSpec, urls: list[str], rattler: Any) -> Exception:
    if isinstance(err, EnvError):
        return err
    exceptions = importlib.import_module("rattler.exceptions")
    name = decorator(spec)
    message = str(err)
    if isinstance(err, exceptions.SolverError):
        asked = [conda_specs.package_spec(n, v, spec) for n, v in spec.packages]
        if not any(n.lower() == "python" for n, _ in spec.packages):
            asked.append(conda_specs.python_spec(spec.python))
        return EnvError(
            f"{name}: cannot solve {', '.join(asked)} from {', '.join(urls)}: {_trim(message)}",
            fix=f"change the versions in {name}(packages=...), or add the channel that "
            "has them to [environments] channels",
            **where(spec),
        )
    if isinstance(err, exceptions.GatewayError):
        channel = _channel_in(message, urls)
        if "no usable repodata cache" in message:
            return EnvError(
                f"{name}: offline, and no repodata of the conda channel {channel} is cached",
                fix="solve once with the network on, or set [environments] offline = false",
                **where(spec),
            )
        if _NETWORK.search(message):
            return EnvError(
                f"{name}: no network to the conda channel {channel} ({_cause(message)})",
                fix="check the network; or solve from the cache with [environments] "
                "offline = true (after one solve online); or list a reachable channel in "
                "[environments] channels",
                **where(spec),
            )
        if "could not find subdir" in message or "404" in message:
            return EnvError(
                f"{name}: {channel} is not a conda channel (no repodata for "
                f"{_subdir_in(message)}): {_trim(message.splitlines()[0])}",
                fix="fix the channel's URL or path in [environments] channels or the "
                "decorator (a channel has noarch/repodata.json)",
                **where(spec),
            )
        return EnvError(
            f"{name}: cannot read the conda channels {', '.join(urls)}: {_trim(message)}",
            fix="check the channels in [environments] channels",
            **where(spec),
        )
    if _is_rattler_error(err, rattler):
        return EnvError(
            f"{name}: cannot solve the environment: {type(err).__name__}: {_trim(message)}",
            fix=f"check {name}(packages=...) and [environments] channels",
            **where(spec),
        )
    return err


def _cause(message: str) -> str:
    """The innermost cause of a rattler message (its last ``Caused by:`` line)."""
    last = message.strip().splitlines()[-1] if message.strip() else message
    return _trim(last.removeprefix("Caused by:").strip())


def _is_rattler_error(err: Exception, rattler: Any) -> bool:
    module = importlib.import_module("rattler.exceptions")
    errors = [v for v in vars(module).values() if isinstance(v, type)]
    return isinstance(err, tuple(e for e in errors if issubclass(e, Exception)))


def _subdir_in(message: str) -> str:
    found = re.search(r"subdir '([^']+)'", message)
    return found.group(1) if found else "its platforms"


def _install_error(err: Exception, lock: EnvLock) -> Exception:
    message = str(err)
    if _NETWORK.search(message):
        return EnvError(
            f"no network to download the conda packages of lock {lock.sha[:12]}: {_cause(message)}",
            fix="check the network, or build with a package cache that has them",
        )
    return EnvError(
        f"cannot install the conda environment of lock {lock.sha[:12]}: {_trim(message)}",
        fix="check the disk and the package cache; run the flow again to rebuild",
    )
