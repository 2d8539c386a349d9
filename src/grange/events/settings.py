"""Where events go: the profile's ``[events]`` table and its environment variables.

=============  ===========================  =============================================
key            environment                  meaning
=============  ===========================  =============================================
``url``        ``GRANGE_EVENTS_URL``        POST events there (a ``grange scheduler``'s
                                            ``http://host:port/events`` or an Argo Events
                                            webhook); unset: record them in the
                                            profile's metadata database
``token``      ``GRANGE_EVENTS_TOKEN``      sent as ``Authorization: Bearer TOKEN``
``auto_emit``  ``GRANGE_EVENTS_AUTO_EMIT``  a run that succeeds emits
                                            ``metaflow.<flow>.end`` (default true)
``timeout``    ``GRANGE_EVENTS_TIMEOUT``    seconds an HTTP publish may take in all,
                                            its retries included (default 30)
=============  ===========================  =============================================

The environment wins over the profile; an explicit ``url``/``access_token``
given to :class:`~grange.events.publish.Event` wins over both. ``${VAR}`` in
the table's strings is replaced from the environment (keep tokens out of the file).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grange.exceptions import ConfigError

URL_ENV = "GRANGE_EVENTS_URL"
TOKEN_ENV = "GRANGE_EVENTS_TOKEN"
AUTO_EMIT_ENV = "GRANGE_EVENTS_AUTO_EMIT"
TIMEOUT_ENV = "GRANGE_EVENTS_TIMEOUT"
DEFAULT_TIMEOUT = 30.0

KEYS: Mapping[str, str] = {
    "url": "where events are POSTed (a grange scheduler or an Argo Events webhook)",
    "token": "the bearer token sent with them",
    "auto_emit": "whether runs that succeed emit metaflow.<flow>.end (default true)",
    "timeout": "seconds an HTTP publish may take in all, retries included (default 30)",
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class EventSettings:
    """The ``[events]`` settings in force; ``url_origin`` says where ``url`` came from."""

    url: str | None = None
    token: str | None = None
    auto_emit: bool = True
    url_origin: str = ""
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def read(
        cls, table: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> EventSettings:
        """The settings of a profile's ``[events]`` ``table`` under ``env``
        (checked: an unknown key or a value of the wrong type is a ConfigError)."""
        from grange.config.tables import flag, read_table, string

        env = os.environ if env is None else env
        values = read_table("events", table, KEYS, env)
        for key in ("url", "token"):
            string(values, "events", key)
        auto = flag(values, "events", "auto_emit", True)
        url, origin = values.get("url") or None, "[events] url"
        if env.get(URL_ENV, "").strip():
            url, origin = env[URL_ENV].strip(), URL_ENV
        token = env.get(TOKEN_ENV, "").strip() or values.get("token") or None
        if env.get(AUTO_EMIT_ENV, "").strip():
            auto = _flag(env[AUTO_EMIT_ENV])
        timeout = _seconds(values.get("timeout", DEFAULT_TIMEOUT), "[events] timeout")
        if env.get(TIMEOUT_ENV, "").strip():
            timeout = _seconds(env[TIMEOUT_ENV].strip(), TIMEOUT_ENV)
        return cls(
            url=url,
            token=token,
            auto_emit=auto,
            url_origin=origin if url else "",
            timeout=timeout,
        )

    @classmethod
    def of_profile(cls, env: Mapping[str, str] | None = None) -> EventSettings:
        """The settings of the profile in force (``GRANGE_PROFILE``, else the
        configuration file's default profile, else none)."""
        from grange.config import resolve

        env = os.environ if env is None else env
        return cls.read(resolve(None, env).events, env)


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(
        f"{AUTO_EMIT_ENV}={text!r} is neither true nor false",
        fix=f"set {AUTO_EMIT_ENV}=0 to stop runs emitting end events, or 1 (the default)",
    )


def _seconds(value: Any, where: str) -> float:
    """A positive number of seconds (``value`` may be a string from the environment)."""
    try:
        seconds = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        seconds = float("nan")
    if not 0 < seconds <= 3600:
        raise ConfigError(
            f"{where}: must be a number of seconds from 0 to 3600 (not included: 0), not {value!r}",
            fix="give how long publishing an event over HTTP may take, its retries "
            "included, e.g. 30 (the default)",
        )
    return seconds
