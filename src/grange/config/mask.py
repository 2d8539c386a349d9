"""Hiding secrets in settings that are printed: passwords in URLs, and any value
whose name says it is secret (``*password*``, ``*secret*``, ``*token*``, ``*key*``,
``*auth*``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
# Names that say "token" but hold no secret: production_tokens lists sha256 hashes.
_PUBLIC_NAMES = frozenset({"production_tokens"})
_SECRET_NAME = re.compile(r"password|passwd|secret|token|key|credential|auth", re.I)
# scheme://user:password@host -> scheme://user:***@host
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/@:\s]*):(?P<pw>\S*)@")
# ?password=...&sslkey=... in a query string
_QUERY_SECRET = re.compile(
    r"(?P<name>[?&;][^=&;#\s]*(?:password|passwd|secret|token|key)[^=&;#\s]*)=(?P<value>[^&;#\s]*)",
    re.I,
)


def is_secret_name(name: str) -> bool:
    """Whether a setting called ``name`` holds a secret."""
    return name not in _PUBLIC_NAMES and bool(_SECRET_NAME.search(name))


def mask_text(text: str) -> str:
    """``text`` with URL passwords and secret query parameters replaced by ``***``."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    return _QUERY_SECRET.sub(lambda m: f"{m.group('name')}={MASK}", text)


def mask(value: Any, name: str = "") -> Any:
    """``value`` (strings, lists and tables inside) safe to print under the setting ``name``."""
    if name and is_secret_name(name) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {str(k): mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value
