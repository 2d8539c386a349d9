"""The checks every free profile table (``[events]``, ``[ui]``, ``[kubernetes]``, ``[argo]``)
shares: unknown keys refused with the closest known one, ``${VAR}`` replaced from the
environment, and typed getters whose errors read ``[table] key: must be ..., not ...``.

Each table's owner (a layer above) keeps its own keys and meanings; this module
only holds the wording, so that every table says the same thing the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from grange.config.resolve import interpolate
from grange.exceptions import ConfigError


def check_keys(table_name: str, table: Mapping[str, Any], known: Mapping[str, str]) -> None:
    """Refuse a key of ``[table_name]`` that is not in ``known`` (naming the closest)."""
    for key in table:
        if key in known:
            continue
        close = difflib.get_close_matches(key, list(known), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"[{table_name}] {key}: is not a known key",
            fix=f"{hint}keys of [{table_name}]: {', '.join(sorted(known))}",
        )


def read_table(
    table_name: str,
    table: Mapping[str, Any] | None,
    known: Mapping[str, str],
    env: Mapping[str, str],
) -> dict[str, Any]:
    """``table``'s keys checked (:func:`check_keys`), each string's ``${VAR}`` replaced."""
    table = dict(table or {})
    check_keys(table_name, table, known)
    return {k: interpolate(v, env, f"[{table_name}] {k}") for k, v in table.items()}


def string(values: Mapping[str, Any], table: str, key: str) -> str | None:
    """``values[key]``: a string, or None when absent."""
    value = values.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(
            f"[{table}] {key}: must be a string, not {type(value).__name__}",
            fix=f'write {key} = "..." in the profile\'s [{table}] table',
        )
    return value


def flag(values: Mapping[str, Any], table: str, key: str, default: bool) -> bool:
    """``values[key]``: true or false (``default`` when absent)."""
    value = values.get(key, default)
    if not isinstance(value, bool):
        other, usual = str(not default).lower(), str(default).lower()
        raise ConfigError(
            f"[{table}] {key}: must be true or false, not {value!r}",
            fix=f"write {key} = {other} (or {usual}) in the profile's [{table}] table",
        )
    return value


def strings(
    values: Mapping[str, Any],
    table: str,
    key: str,
    *,
    what: str = "strings",
    example: str = '"..."',
) -> list[str]:
    """``values[key]``: a list of non-empty strings (empty when absent); ``what`` names
    them in the error, ``example`` is one written as TOML."""
    value = values.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(
            f"[{table}] {key}: must be a list of {what}, not {value!r}",
            fix=f"write {key} = [{example}] in the profile's [{table}] table",
        )
    return value
