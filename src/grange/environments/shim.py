"""The folder that makes the running grange importable inside a step's environment.

grange is never installed into an environment (nor downloaded): a step launched in one
gets ``<cache>/runtime/<grange version>-<hash>`` first on ``PYTHONPATH``, a folder of
symbolic links to the ``grange`` package that is running and to the pure-Python packages
a task imports from grange's own dependencies (click, pathspec; tomli before Python
3.11), with their ``.dist-info`` folders. Nothing else of the host's site-packages is
visible (a host ``numpy`` stays out), and nothing of the environment leaks into other
steps.

A package the environment has itself (a step that asks for ``click``) is left out of the
shim, so that the environment's own version is the one imported.

On an S3 datastore a ``@conda`` environment (of the host's Python x.y) also gets the
host's ``obstore`` (and boto3's chain when credentials come from it) here; a ``@pypi``
environment has them in its lock instead (``manager.datastore_packages``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from grange.environments.cache import discard, temp_dir

# What a task imports of grange's dependencies (measured: a run's step processes
# import click and pathspec and no other third-party package).
TASK_DEPS = ("click", "pathspec") + (("tomli",) if sys.version_info < (3, 11) else ())
# What a task on an S3 datastore imports beyond them, by the package asked for
# (measured on moto: obstore; boto3's chain when credentials come from ~/.aws).
CLOSURES = {
    "obstore": ("obstore",),
    "boto3": ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3"),
}
_DISTS = {"dateutil": "python-dateutil"}  # import name -> distribution name


def shim_dir(cache_dir: Path, provided: Iterable[str] = (), extra: Iterable[str] = ()) -> Path:
    """The shim folder under ``cache_dir`` for the running grange, created (atomically)
    if needed. ``provided``: normalised names of packages the environment has itself,
    left out. ``extra``: more of the host's packages to link (keys of
    :data:`CLOSURES`, with what they import), for an environment of the host's
    Python x.y (compiled modules are ABI-specific)."""
    deps = list(TASK_DEPS)
    for name in sorted(set(extra)):
        deps += [d for d in CLOSURES.get(name, (name,)) if d not in deps]
    provided_names = {_normal(n) for n in provided}
    left_out = tuple(sorted(d for d in deps if _normal(_DISTS.get(d, d)) in provided_names))
    links = tuple(
        (name, target) for name, target, dep in _links(tuple(deps)) if dep not in left_out
    )
    from grange._version import __version__

    digest = hashlib.sha256(repr((links, left_out)).encode()).hexdigest()[:12]
    final = cache_dir / "runtime" / f"{__version__}-{digest}"
    if final.is_dir():
        return final
    temp = temp_dir(final)
    try:
        for name, target in links:
            os.symlink(target, temp / name)
        try:
            os.rename(temp, final)
        except OSError:
            if not final.is_dir():  # not a lost race: a real failure
                raise
    finally:
        if temp.exists():
            discard(temp)
    return final


@functools.lru_cache(maxsize=8)
def _links(deps: tuple[str, ...] = TASK_DEPS) -> tuple[tuple[str, str, str], ...]:
    """``(name in the shim, what it links to, the dependency it belongs to)``: grange's
    package folder, then each task dependency's package and ``.dist-info`` folders."""
    package = Path(__file__).resolve().parents[1]  # grange/environments/shim.py
    links = [("grange", str(package), "grange")]
    for dep in deps:
        try:
            spec = importlib.util.find_spec(dep)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            continue
        if spec.submodule_search_locations:
            target = Path(next(iter(spec.submodule_search_locations)))
        elif spec.origin:
            target = Path(spec.origin)
        else:
            continue
        target = target.resolve()
        links.append((target.name, str(target), dep))
        with contextlib.suppress(OSError):
            for entry in os.scandir(target.parent):
                dist = _normal(_DISTS.get(dep, dep))
                if entry.name.endswith(".dist-info") and _dist_name(entry.name) == dist:
                    links.append((entry.name, os.path.realpath(entry.path), dep))
    return tuple(links)


def _dist_name(folder: str) -> str:
    """``click-8.1.7.dist-info`` → ``click``."""
    return _normal(folder[: -len(".dist-info")].rsplit("-", 1)[0])


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
