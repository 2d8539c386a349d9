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
=============  ===========================  =============================================

The environment wins over the profile; an explicit ``url``/``access_token``
given to :class:`~grange.events.publish.Event` wins over both. ``${VAR}`` in
the table's strings is replaced from the environment (keep tokens out of the file).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grange.exceptions import ConfigError

URL_ENV = "GRANGE_EVENTS_URL"
TOKEN_ENV = "GRANGE_EVENTS_TOKEN"
AUTO_EMIT_ENV = "GRANGE_EVENTS_AUTO_EMIT"

KEYS: Mapping[str, str] = {
    "url": "where events are POSTed (a grange scheduler or an Argo Events webhook)",
    "token": "the bearer token sent with them",
    "auto_emit": "whether runs that succeed emit metaflow.<flow>.end (default true)",
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

    @classmethod
    def read(
        cls, table: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> EventSettings:
        """The settings of a profile's ``[events]`` ``table`` under ``env``
        (checked: an unknown key or a value of the wrong type is a ConfigError)."""
        from grange.config.resolve import interpolate

        env = os.environ if env is None else env
        table = dict(table or {})
        check_settings(table)
        values = {k: interpolate(v, env, f"[events] {k}") for k, v in table.items()}
        for key in ("url", "token"):
            if values.get(key) is not None and not isinstance(values[key], str):
                raise ConfigError(
                    f"[events] {key}: must be a string, not {type(values[key]).__name__}",
                    fix=f'write {key} = "..." in the profile\'s [events] table',
                )
        auto = values.get("auto_emit", True)
        if not isinstance(auto, bool):
            raise ConfigError(
                f"[events] auto_emit: must be true or false, not {auto!r}",
                fix="write auto_emit = false (or true) in the profile's [events] table",
            )
        url, origin = values.get("url") or None, "[events] url"
        if env.get(URL_ENV, "").strip():
            url, origin = env[URL_ENV].strip(), URL_ENV
        token = env.get(TOKEN_ENV, "").strip() or values.get("token") or None
        if env.get(AUTO_EMIT_ENV, "").strip():
            auto = _flag(env[AUTO_EMIT_ENV])
        return cls(url=url, token=token, auto_emit=auto, url_origin=origin if url else "")

    @classmethod
    def of_profile(cls, env: Mapping[str, str] | None = None) -> EventSettings:
        """The settings of the profile in force (``GRANGE_PROFILE``, else the
        configuration file's default profile, else none)."""
        from grange.config import resolve

        env = os.environ if env is None else env
        return cls.read(resolve(None, env).events, env)


def check_settings(table: Mapping[str, Any]) -> None:
    """Refuse a key of ``[events]`` that grange does not know (naming the closest)."""
    for key in table:
        if key in KEYS:
            continue
        close = difflib.get_close_matches(key, list(KEYS), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"[events] {key}: is not a known key",
            fix=f"{hint}keys of [events]: {', '.join(sorted(KEYS))}",
        )


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
