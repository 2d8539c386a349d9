"""What ``grange ui`` serves with: address, token, writes. The profile's ``[ui]`` table.

==================  =====================  ==========================================
key                 environment            meaning
==================  =====================  ==========================================
``host``            ``GRANGE_UI_HOST``     the address to listen on (127.0.0.1)
``port``            ``GRANGE_UI_PORT``     the port (8323)
``token``           ``GRANGE_UI_TOKEN``    every request must carry it; required to
                                           listen on anything but loopback
``allow_writes``    --                     whether run tags may be added and removed
                                           from the browser (also needs a token)
``allowed_hosts``   --                     more ``Host`` names to accept (a reverse
                                           proxy's name, forwarded as it is)
``public_url``      --                     the address users open (behind a proxy):
                                           its origin may send writes, its host is
                                           accepted
==================  =====================  ==========================================

The command line wins over the environment, which wins over the profile.
``${VAR}`` in the table's strings is replaced from the environment (keep the
token out of the file).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grange.exceptions import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8323
TOKEN_ENV = "GRANGE_UI_TOKEN"
HOST_ENV = "GRANGE_UI_HOST"
PORT_ENV = "GRANGE_UI_PORT"
GENERATE = "generate"
MIN_TOKEN = 16

KEYS: Mapping[str, str] = {
    "host": "the address grange ui listens on (default 127.0.0.1)",
    "port": "the port grange ui listens on (default 8323)",
    "token": "the token every request must carry (required off loopback)",
    "allow_writes": "whether run tags may be edited from the browser (needs a token)",
    "allowed_hosts": "more Host header names to accept (a reverse proxy's name)",
    "public_url": "the address users open behind a reverse proxy (https://ui.example.com)",
}


@dataclass(frozen=True)
class UiSettings:
    """The server's settings; :meth:`check` refuses what would be unsafe."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    allow_writes: bool = False
    poll_interval: float = 1.0  # seconds between the live pages' reads of the index
    sync_every: float = 10.0  # seconds between comparisons of the datastore with the index
    allowed_hosts: tuple[str, ...] = ()  # more Host names accepted (host or host:port)
    public_url: str | None = None  # behind a proxy: its origin may write, its host is accepted

    @property
    def public_origin(self) -> str | None:
        """``scheme://host[:port]`` of :attr:`public_url`."""
        if self.public_url is None:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def writes(self) -> bool:
        """Whether the tag forms are served and accepted: allowed AND a token set."""
        return self.allow_writes and self.token is not None

    def url(self, path: str = "/") -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{path}"

    def check(self) -> UiSettings:
        """``self``, or a ConfigError: off loopback without a token, a short token."""
        if self.token is not None and len(self.token) < MIN_TOKEN:
            raise ConfigError(
                f"the grange ui token is {len(self.token)} characters long; it must have at "
                f"least {MIN_TOKEN}",
                fix="use --token generate to make one",
            )
        if not self.loopback and self.token is None:
            raise ConfigError(
                f"grange ui will not listen on {self.host} without a token: anyone who can "
                "reach that address could read every run",
                fix=f"pass --token generate (a new token, printed), --token TOKEN, set "
                f'{TOKEN_ENV}, or write token = "${{VAR}}" in the profile\'s [ui] table; '
                "or listen on 127.0.0.1",
            )
        return self


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


def read_settings(
    table: Mapping[str, Any] | None,
    env: Mapping[str, str] | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    token: str | None = None,
) -> tuple[UiSettings, bool]:
    """The settings from the command line (``host``, ``port``, ``token``), the
    environment and the profile's ``[ui]`` table; and whether the token was generated
    (``token == "generate"``: the caller prints it). Checked (:meth:`UiSettings.check`)."""
    from grange.config.tables import flag, read_table, string, strings

    env = os.environ if env is None else env
    values = read_table("ui", table, KEYS, env)
    for key in ("host", "token"):
        string(values, "ui", key)
    writes = flag(values, "ui", "allow_writes", False)
    hosts = strings(values, "ui", "allowed_hosts", what="host names", example='"ui.example.com"')
    public = values.get("public_url")
    if public is not None and not (
        isinstance(public, str) and public.startswith(("http://", "https://")) and "//" in public
    ):
        raise ConfigError(
            f"[ui] public_url: must be an http:// or https:// address, not {public!r}",
            fix='write public_url = "https://ui.example.com" in the profile\'s [ui] table',
        )
    chosen_port = port if port is not None else _port(env.get(PORT_ENV) or values.get("port"))
    chosen_token = token or env.get(TOKEN_ENV) or values.get("token") or None
    generated = chosen_token == GENERATE
    if generated:
        chosen_token = new_token()
    settings = UiSettings(
        host=host or env.get(HOST_ENV) or values.get("host") or DEFAULT_HOST,
        port=chosen_port,
        token=chosen_token,
        allow_writes=writes,
        allowed_hosts=tuple(h.lower() for h in hosts),
        public_url=public,
    )
    return settings.check(), generated


def _port(value: Any) -> int:
    if value is None:
        return DEFAULT_PORT
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if isinstance(value, bool) or not 0 <= port <= 65535:
        raise ConfigError(
            f"the grange ui port must be a number from 0 to 65535, not {value!r}",
            fix=f"set {PORT_ENV} or [ui] port to a free port (default {DEFAULT_PORT})",
        )
    return port
