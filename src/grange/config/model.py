"""The configuration as read from the file: profiles, each with its policy and secrets.

Values are as written (after validation); ``${VAR}`` references are replaced
only when a profile is resolved (:mod:`grange.config.resolve`), so a file can
be loaded and shown without the variables it names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Rule:
    """Where a policy rule is written, to quote it in a refusal."""

    file: str
    table: str  # e.g. "profiles.prod.policy"
    key: str
    value: Any
    line: int | None = None

    def as_written(self) -> str:
        """``[profiles.prod.policy] max_resources = { cpu = 16 }``."""
        return f"[{self.table}] {self.key} = {toml_value(self.value)}"


@dataclass(frozen=True)
class Policy:
    """What runs and deploys under one profile may do. A rule left out allows anything.

    ``rules`` maps each rule that the profile writes to where it is written;
    the checks (:mod:`grange.config.policy`) quote it when they refuse.
    """

    profile: str | None = None
    allowed_datastore_roots: tuple[str, ...] | None = None
    s3_read_prefixes: tuple[str, ...] | None = None
    s3_write_prefixes: tuple[str, ...] | None = None
    max_resources: Mapping[str, float] | None = None
    allowed_registries: tuple[str, ...] | None = None
    allow_production_deploy: bool | None = None
    production_tokens: Mapping[str, str] | None = None  # name -> "sha256:<hex>"
    required_tags: tuple[str, ...] = ()
    readable_profiles: tuple[str, ...] = ()
    rules: Mapping[str, Rule] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.rules

    def as_dict(self) -> dict[str, Any]:
        """The rules the profile writes, by name (for ``grange config show``)."""
        return {name: rule.value for name, rule in self.rules.items()}


@dataclass(frozen=True)
class Secrets:
    """Where ``@secrets`` read from under one profile."""

    profile: str | None = None
    default_provider: str | None = None
    allowed_sources: tuple[str, ...] | None = None  # None: any source
    default_role: str | None = None
    rules: Mapping[str, Rule] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {name: rule.value for name, rule in self.rules.items()}


@dataclass(frozen=True)
class Profile:
    """One ``[profiles.NAME]`` table, validated; ``lines`` holds where each key is."""

    name: str
    file: str
    description: str | None = None
    datastore: str | None = None
    datastore_root: str | None = None
    metadata: str | None = None
    s3: Mapping[str, Any] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    secrets: Secrets = field(default_factory=Secrets)
    kubernetes: Mapping[str, Any] = field(default_factory=dict)
    argo: Mapping[str, Any] = field(default_factory=dict)
    events: Mapping[str, Any] = field(default_factory=dict)
    scheduler: Mapping[str, Any] = field(default_factory=dict)
    ui: Mapping[str, Any] = field(default_factory=dict)
    environments: Mapping[str, Any] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigFile:
    """A whole ``config.toml``: its path, default profile and profiles."""

    path: str
    default_profile: str | None = None
    profiles: Mapping[str, Profile] = field(default_factory=dict)


def toml_value(value: Any) -> str:
    """``value`` as it would be written in TOML (strings, numbers, booleans, lists, tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)
