"""Where environments are cached and where packages come from: the profile's
``[environments]`` table, then the environment variables.

=======================  =========================  ========================================
key                      environment                meaning
=======================  =========================  ========================================
``cache_dir``            ``GRANGE_ENV_CACHE``       locks, environments, uv's and rattler's
                                                    package caches (default: the grange
                                                    cache's ``environments`` folder)
``index_url``            ``GRANGE_PYPI_INDEX_URL``  the package index uv resolves from
                                                    (default: PyPI)
``extra_index_urls``                                more indexes, after it
``find_links``                                      folders or pages of wheels
``offline``              ``GRANGE_ENV_OFFLINE=1``   never reach an index: the cache only
``channels``                                        conda channels (default conda-forge)
``conda_tool``                                      "rattler" (default), "micromamba" or
                                                    "conda" (when on PATH)
``pod_platform``                                    what pods run on (default
                                                    ``x86_64-manylinux_2_28``)
``wheels_in_datastore``                             every package of a lock kept in the
                                                    datastore, for pods
``pod_offline``                                     pods use the datastore's packages only
=======================  =========================  ========================================

The environment wins over the profile; ``${VAR}`` in the table's strings is replaced
from the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grange.exceptions import ConfigError

DEFAULT_CHANNELS = ("conda-forge",)
POD_PLATFORM = "x86_64-manylinux_2_28"  # uv's name; conda: linux-64
CACHE_ENV = "GRANGE_ENV_CACHE"
INDEX_ENV = "GRANGE_PYPI_INDEX_URL"
OFFLINE_ENV = "GRANGE_ENV_OFFLINE"
CONDA_TOOLS = ("rattler", "micromamba", "conda")
TABLE = "environments"

KEYS: Mapping[str, str] = {
    "cache_dir": "where locks, environments and package caches live",
    "index_url": "the package index uv resolves @pypi from (default PyPI)",
    "extra_index_urls": "more package indexes, searched after index_url",
    "find_links": "folders or pages of wheels uv may install from",
    "offline": "never reach a package index: the cache only (default false)",
    "channels": "conda channels, names or URLs (default conda-forge)",
    "conda_tool": 'what installs @conda environments (rattler always solves): "rattler" '
    '(default), "micromamba" or "conda"',
    "pod_platform": "the platform pods run on (default x86_64-manylinux_2_28)",
    "wheels_in_datastore": "keep every package of a lock in the datastore, for pods",
    "pod_offline": "pods install from the datastore's packages only (no index)",
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
# uv's platform names (``--python-platform``): arch-os[-abi], no spaces.
_PLATFORM = re.compile(r"^[a-z0-9_]+(-[a-z0-9_.]+)*$")


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$GRANGE_ENV_CACHE``, else the ``environments`` folder of this machine's grange
    cache (``$GRANGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/grange``, else
    ``~/.cache/grange``)."""
    env = os.environ if env is None else env
    if env.get(CACHE_ENV):
        return Path(os.path.expanduser(env[CACHE_ENV])).absolute()
    from grange.datastore.location import cache_dir

    return cache_dir(env) / "environments"


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
        """The settings of a profile's ``[environments]`` ``table`` under ``env``
        (checked: an unknown key or a value of the wrong type is a ConfigError)."""
        from grange.config.tables import flag, read_table, string, strings

        env = os.environ if env is None else env
        values = read_table(TABLE, table, KEYS, env)
        for key in ("cache_dir", "index_url", "conda_tool", "pod_platform"):
            string(values, TABLE, key)
        if env.get(CACHE_ENV):
            cache = default_cache_dir(env)
        elif values.get("cache_dir"):
            cache = Path(os.path.expanduser(values["cache_dir"])).absolute()
        else:
            cache = default_cache_dir(env)
        index = env.get(INDEX_ENV, "").strip() or values.get("index_url") or None
        where = INDEX_ENV if env.get(INDEX_ENV, "").strip() else f"[{TABLE}] index_url"
        extra = strings(values, TABLE, "extra_index_urls", what="URLs", example='"https://..."')
        links = strings(values, TABLE, "find_links", what="folders or URLs", example='"/wheels"')
        urls = [(where, index)] if index else []
        urls += [(f"[{TABLE}] extra_index_urls", u) for u in extra]
        urls += [(f"[{TABLE}] find_links", u) for u in links]
        for origin, url in urls:
            _check_url(url, origin)
        index = _absolute(index) if index else None
        extra, links = [_absolute(u) for u in extra], [_absolute(u) for u in links]
        offline = flag(values, TABLE, "offline", False)
        if OFFLINE_ENV in env:
            offline = _env_flag(env[OFFLINE_ENV])
        channels = strings(values, TABLE, "channels", what="channels", example='"conda-forge"')
        for channel in channels:
            _check_url(channel, f"[{TABLE}] channels")
        tool = values.get("conda_tool") or "rattler"
        if tool not in CONDA_TOOLS:
            raise ConfigError(
                f"[{TABLE}] conda_tool: must be one of {', '.join(CONDA_TOOLS)}, not {tool!r}",
                fix='write conda_tool = "rattler" (the default; micromamba or conda when '
                "installed)",
            )
        pod = values.get("pod_platform") or POD_PLATFORM
        if not _PLATFORM.match(pod):
            raise ConfigError(
                f"[{TABLE}] pod_platform: {pod!r} is not a platform name",
                fix=f'write pod_platform = "{POD_PLATFORM}" (uv\'s --python-platform names)',
            )
        return cls(
            cache_dir=cache,
            index_url=index,
            extra_index_urls=tuple(extra),
            find_links=tuple(links),
            offline=offline,
            channels=tuple(channels) or DEFAULT_CHANNELS,
            conda_tool=tool,
            pod_platform=pod,
            wheels_in_datastore=flag(values, TABLE, "wheels_in_datastore", False),
            pod_offline=flag(values, TABLE, "pod_offline", False),
        )

    def index_settings(self) -> dict[str, Any]:
        """Where packages come from, as the environment key records it."""
        return {
            "index_url": self.index_url,
            "extra_index_urls": list(self.extra_index_urls),
            "find_links": list(self.find_links),
        }


def _absolute(value: str) -> str:
    """A folder as an absolute path (uv runs from the cache folder); a URL as it is."""
    if "://" in value:
        return value
    return str(Path(os.path.expanduser(value)).absolute())


def _check_url(value: str, where: str) -> None:
    """A URL, folder or channel name: one line, no spaces, not an option, and a URL
    with its ``scheme://`` (``file:/x`` would become a folder named ``file:``)."""
    if not value.strip() or value.startswith("-") or any(c.isspace() for c in value):
        raise ConfigError(
            f"{where}: {value!r} is not a URL, folder or name (it is empty, has spaces "
            "or starts with '-')",
            fix=f"write one URL (https://...) or folder per entry in [{TABLE}]",
        )
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]+):(?!//)", value)
    if scheme and not re.match(r"^[A-Za-z]:[\\/]", value):
        raise ConfigError(
            f"{where}: {value!r} is not a URL ({scheme[1]}: without //)",
            fix=f"write {scheme[1]}://... (file:///abs/path for a folder), or the folder itself",
        )


def _env_flag(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(
        f"{OFFLINE_ENV}={text!r} is neither true nor false",
        fix=f"set {OFFLINE_ENV}=1 to use the environment cache only, or 0",
    )
