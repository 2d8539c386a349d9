"""Where environments are cached and where packages come from: the profile's
``[environments]`` table, then the environment variables. GROUNDWORK STUB (fields are
the contract; the engine helper writes the reading and the checks)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CHANNELS = ("conda-forge",)
POD_PLATFORM = "x86_64-manylinux_2_28"  # uv's name; conda: linux-64
CACHE_ENV = "GRANGE_ENV_CACHE"


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV]).expanduser()
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "grange"


@dataclass(frozen=True)
class EnvSettings:
    """``cache_dir``: locks, environments and uv's/rattler's package caches under it.
    ``index_url`` / ``extra_index_urls`` / ``find_links``: where uv finds packages
    (None: PyPI). ``offline``: never reach the index (the cache only). ``channels``:
    conda channels (names or URLs). ``conda_tool``: "rattler" (default),
    "micromamba" or "conda" (on PATH). ``pod_platform``: what pods run on.
    ``wheels_in_datastore``: store every package of a lock in the datastore, so that
    a pod rebuilds with no index at all (``pod_offline``: and refuses to use one)."""

    cache_dir: Path
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    offline: bool = False
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    conda_tool: str = "rattler"
    pod_platform: str = POD_PLATFORM
    wheels_in_datastore: bool = False
    pod_offline: bool = False

    @classmethod
    def from_table(
        cls, table: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
    ) -> EnvSettings:
        return cls(cache_dir=default_cache_dir(env))
