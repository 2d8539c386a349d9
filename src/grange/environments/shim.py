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


def shim_dir(cache_dir: Path, provided: Iterable[str] = ()) -> Path:
    """The shim folder under ``cache_dir`` for the running grange, created (atomically)
    if needed. ``provided``: normalised names of packages the environment has itself,
    left out."""
    left_out = tuple(sorted({_normal(n) for n in provided} & set(TASK_DEPS)))
    links = tuple((name, target) for name, target, dep in _links() if dep not in left_out)
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


@functools.lru_cache(maxsize=1)
def _links() -> tuple[tuple[str, str, str], ...]:
    """``(name in the shim, what it links to, the dependency it belongs to)``: grange's
    package folder, then each task dependency's package and ``.dist-info`` folders."""
    import grange

    links = [("grange", str(Path(grange.__file__).resolve().parent), "grange")]
    for dep in TASK_DEPS:
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
                if entry.name.endswith(".dist-info") and _dist_name(entry.name) == dep:
                    links.append((entry.name, os.path.realpath(entry.path), dep))
    return tuple(links)


def _dist_name(folder: str) -> str:
    """``click-8.1.7.dist-info`` → ``click``."""
    return _normal(folder[: -len(".dist-info")].rsplit("-", 1)[0])


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
