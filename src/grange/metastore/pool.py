"""Connection pool settings for PostgreSQL, from the URL or the environment.

Every process keeps one pool per database URL (see :mod:`grange.metastore.engine`).
Each setting is read, first match wins, from the URL's query
(``postgresql://.../grange?pool_size=10``), then from the environment
(``GRANGE_METADATA_POOL_SIZE=10``), else the default below. grange removes
its own parameters from the URL before psycopg sees the rest (``sslmode``,
``options``, ...), which go to the server as they are.

- ``pool_size`` / ``GRANGE_METADATA_POOL_SIZE`` (5): connections kept open;
- ``max_overflow`` / ``GRANGE_METADATA_MAX_OVERFLOW`` (10): more under load;
- ``pool_timeout`` / ``GRANGE_METADATA_POOL_TIMEOUT`` (30 s): wait for a free one;
- ``pool_recycle`` / ``GRANGE_METADATA_POOL_RECYCLE`` (1800 s): reopen one that old;
- ``pool_pre_ping`` / ``GRANGE_METADATA_POOL_PRE_PING`` (true): test one before use;
- ``connect_timeout`` / ``GRANGE_METADATA_CONNECT_TIMEOUT`` (10 s): to connect.

``pool_pre_ping`` costs one round trip per transaction and makes a connection
that the server or a proxy closed (a restart, an idle timeout) be replaced
instead of failing the next statement; ``pool_recycle`` stays under the idle
timeouts of common proxies and load balancers. ``connect_timeout`` is
libpq's: an unreachable host fails after that long instead of the system's
TCP timeout (minutes). ``application_name`` defaults to ``grange``, so the
server's ``pg_stat_activity`` tells grange's connections apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL

from grange.exceptions import ConfigError

ENV_PREFIX = "GRANGE_METADATA_"


@dataclass(frozen=True)
class PoolSettings:
    """How one process's connections to a PostgreSQL database are pooled."""

    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout: float = 30.0
    pool_recycle: float = 1800.0
    pool_pre_ping: bool = True
    connect_timeout: int = 10

    def engine_options(self) -> dict[str, Any]:
        """Keyword arguments of ``sqlalchemy.create_engine``."""
        return {
            "pool_size": self.pool_size,
            "max_overflow": self.max_overflow,
            "pool_timeout": self.pool_timeout,
            "pool_recycle": self.pool_recycle,
            "pool_pre_ping": self.pool_pre_ping,
        }

    def describe(self) -> str:
        pre_ping = "on" if self.pool_pre_ping else "off"
        return (
            f"size {self.pool_size}, overflow {self.max_overflow}, "
            f"timeout {self.pool_timeout:g} s, recycle {self.pool_recycle:g} s, "
            f"pre-ping {pre_ping}, connect timeout {self.connect_timeout} s"
        )


_PARSERS: dict[str, Any] = {
    "pool_size": int,
    "max_overflow": int,
    "pool_timeout": float,
    "pool_recycle": float,
    "pool_pre_ping": bool,
    "connect_timeout": int,
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def pool_settings(
    url: URL, env: Mapping[str, str], *, shown: str = "the metadata URL"
) -> tuple[URL, PoolSettings]:
    """The URL without grange's parameters, and the pool settings it and ``env`` give.

    ``connect_timeout`` stays in the URL (libpq reads it) and
    ``application_name`` is added unless given; ``shown`` names the URL in errors.
    """
    query = dict(url.query)
    values: dict[str, Any] = {}
    for name, kind in _PARSERS.items():
        env_name = _env_name(name)
        given = query.pop(name, None) if name != "connect_timeout" else query.get(name)
        where = f"'{name}' in {shown}"
        if isinstance(given, tuple):
            given = given[-1]
        if given is None and env.get(env_name):
            given, where = env[env_name], env_name
        if given is not None:
            values[name] = _parse(str(given), kind, where)
    settings = PoolSettings(**values)
    query["connect_timeout"] = str(settings.connect_timeout)
    query.setdefault("application_name", "grange")
    return url.set(query=query), settings


def _env_name(name: str) -> str:
    """``pool_size`` -> ``GRANGE_METADATA_POOL_SIZE``."""
    return ENV_PREFIX + name.upper()


def _parse(text: str, kind: Any, where: str) -> Any:
    text = text.strip()
    if kind is bool:
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise ConfigError(f"{where} is {text!r}, not true or false", fix="use true or false")
    try:
        value = kind(text)
    except ValueError:
        value = -1
    if value < 0 or (kind is int and str(value) != text.lstrip("+")):
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{where} is {text!r}, not {what} >= 0", fix=f"set it to {what} >= 0")
    return value
