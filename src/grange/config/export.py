"""One profile of the configuration file as self-contained TOML text, for a pod.

A Kubernetes Job or an Argo container has no ``~/.grange/config.toml``, yet
checks made inside its task (``grange.S3``'s policy, ``@secrets``) must see the
same profile as the command that started it. The compute layers put
:func:`profile_text` into the pod's ``GRANGE_CONFIG_TEXT`` (read by
:func:`grange.config.load.read_config`) with ``GRANGE_PROFILE``.

Only the one profile goes, never the others, and a ``metadata`` URL holding a
password is left out (a manifest is not a place for it: give pods theirs
through a Kubernetes secret, e.g. ``GRANGE_METADATA`` from ``@kubernetes(secrets=...)``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from grange.config.load import config_path
from grange.config.mask import mask_text


def profile_text(name: str, env: Mapping[str, str]) -> str | None:
    """The TOML of profile ``name`` alone (``default_profile`` set to it), or None if
    the file has no such profile."""
    path, _ = config_path(env)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    body = tomllib.loads(text).get("profiles", {}).get(name)
    if not isinstance(body, dict):
        return None
    body = dict(body)
    metadata = body.get("metadata")
    if isinstance(metadata, str) and mask_text(metadata) != metadata:
        del body["metadata"]
    lines = [f"default_profile = {_value(name)}"]
    _table(lines, f"profiles.{_key(name)}", body)
    return "\n".join(lines) + "\n"


def _table(lines: list[str], header: str, body: Mapping[str, Any]) -> None:
    lines.append(f"\n[{header}]")
    nested = []
    for key, value in body.items():
        if isinstance(value, dict):
            nested.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in nested:
        _table(lines, f"{header}.{_key(key)}", value)


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _value(value: Any) -> str:
    """A TOML value: strings as JSON strings (a subset of TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def pod_env(profile_name: str | None, env: Mapping[str, str]) -> dict[str, str]:
    """``GRANGE_PROFILE`` and ``GRANGE_CONFIG_TEXT`` for a pod working under
    ``profile_name`` (nothing without a profile)."""
    if profile_name is None:
        return {}
    text = profile_text(profile_name, env)
    if text is None:
        return {}
    return {"GRANGE_PROFILE": profile_name, "GRANGE_CONFIG_TEXT": text}
