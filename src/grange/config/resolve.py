"""The effective settings of a command: flags, then environment, then profile, then defaults.

:func:`resolve` picks the profile (``--profile``, else ``GRANGE_PROFILE``, else
the file's ``default_profile``, else none) and, for each setting, the first
source that gives it a value, remembering which (``grange config show``
prints both). ``${VAR}`` in a profile's ``datastore_root``, ``metadata`` and
``[s3]`` strings is replaced from the environment here.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from grange.config.load import CONFIG_ENV, config_path, read_config
from grange.config.model import ConfigFile, Policy, Profile, Secrets
from grange.config.schema import S3
from grange.exceptions import ConfigError

PROFILE_ENV = "GRANGE_PROFILE"
DATASTORE_ENV = "GRANGE_DATASTORE"
ROOT_ENV = "GRANGE_DATASTORE_ROOT"
METADATA_ENV = "GRANGE_METADATA"
S3_ROOT_ENV = "GRANGE_DATASTORE_SYSROOT_S3"
#: The environment variable of each S3 setting (the first of S3Settings' own list).
S3_ENV = {name: f"GRANGE_S3_{name.upper()}" for name in S3}

DEFAULT = "default"
_RANK = {"flag": 3, "env": 2, "profile": 1, DEFAULT: 0}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Sourced:
    """A setting's value and where it came from: ``flag``, ``env``, ``profile`` or ``default``.

    ``origin`` says exactly where: ``--datastore-root``, ``GRANGE_METADATA``,
    ``[profiles.prod] (config.toml:4)``.
    """

    value: Any
    source: str = DEFAULT
    origin: str = ""

    def __repr__(self) -> str:  # never a password in a log line or a traceback
        from grange.config.mask import mask

        return f"Sourced({mask(self.value)!r}, {self.source!r}, {self.origin!r})"

    def describe(self) -> str:
        """``env GRANGE_METADATA``, ``profile /home/ada/.grange/config.toml:4``, ``default``."""
        return f"{self.source} {self.origin}".strip()


@dataclass(frozen=True)
class Effective:
    """What a command runs with. ``profile`` is ``None`` when no profile is in force."""

    profile: Sourced
    config_file: str
    config_exists: bool
    datastore: Sourced
    datastore_root: Sourced  # value None: the default (the nearest .grange/)
    metadata: Sourced
    s3: Mapping[str, Sourced] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    secrets: Secrets = field(default_factory=Secrets)
    kubernetes: Mapping[str, Any] = field(default_factory=dict)
    argo: Mapping[str, Any] = field(default_factory=dict)
    events: Mapping[str, Any] = field(default_factory=dict)
    scheduler: Mapping[str, Any] = field(default_factory=dict)
    ui: Mapping[str, Any] = field(default_factory=dict)
    environments: Mapping[str, Any] = field(default_factory=dict)
    profiles: tuple[str, ...] = ()

    @property
    def profile_name(self) -> str | None:
        value = self.profile.value
        return value if isinstance(value, str) else None

    def s3_overrides(self) -> dict[str, Any]:
        """The profile's ``[s3]`` table (``${VAR}`` replaced), for
        ``S3Settings.from_env(env, overrides=...)``; the environment still wins there."""
        return {
            name: setting.value for name, setting in self.s3.items() if setting.source == "profile"
        }

    def child_env(self) -> dict[str, str]:
        """What processes started for this command need in their environment to work
        under the same profile: ``GRANGE_PROFILE``, ``GRANGE_CONFIG`` and the
        profile's S3 settings (so that a task needs not read the file for them)."""
        if self.profile_name is None:
            return {}
        env = {PROFILE_ENV: self.profile_name, CONFIG_ENV: self.config_file}
        for name, value in self.s3_overrides().items():
            env[S3_ENV[name]] = str(value)
        return env


def resolve_profile(name: str, env: Mapping[str, str] | None = None) -> Effective:
    """Profile ``name``'s own settings, for reaching another profile's stores (a push
    target, ``metadata("profile:NAME")``): the variables that name the stores in use
    here (``GRANGE_DATASTORE_ROOT``, ``GRANGE_METADATA``...) do not stand in for its."""
    return resolve(name, without_stores(os.environ if env is None else env))


def without_stores(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the variables that name the stores (and profile) in use."""
    here = (ROOT_ENV, DATASTORE_ENV, METADATA_ENV, S3_ROOT_ENV, PROFILE_ENV)
    return {k: v for k, v in env.items() if k not in here}


def resolve(
    profile_flag: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    flags: Mapping[str, str | None] | None = None,
) -> Effective:
    """The effective settings for ``--profile profile_flag`` (or none) in ``env``.

    ``flags`` holds the command line's ``datastore``, ``datastore_root`` and
    ``metadata`` (``None``: not given). A flag whose value is the one of its
    environment variable is reported as coming from the environment (click
    reads both into the same option).
    """
    env = os.environ if env is None else env
    flags = flags or {}
    path, _ = config_path(env)
    config = read_config(env)
    chosen = _choose_profile(profile_flag, env, config, str(path))
    profile = config.profiles[chosen.value] if config and chosen.value else None

    root = _first(
        _flag(flags, "datastore_root", env, ROOT_ENV, "--datastore-root"),
        _env(env, ROOT_ENV),
        _from_profile(profile, "datastore_root", env),
    )
    kind_given = _first(
        _flag(flags, "datastore", env, DATASTORE_ENV, "--datastore"),
        _env(env, DATASTORE_ENV),
        _from_profile(profile, "datastore", env),
    )
    if root is None and kind_given is not None and kind_given.value == "s3":
        root = _env(env, S3_ROOT_ENV)  # Metaflow's DATASTORE_SYSROOT_S3, for --datastore s3
    kind = _datastore_kind(kind_given, root)
    metadata = _first(
        _flag(flags, "metadata", env, METADATA_ENV, "--metadata"),
        _env(env, METADATA_ENV),
        _from_profile(profile, "metadata", env),
    )
    return Effective(
        profile=chosen,
        config_file=str(path),
        config_exists=config is not None,
        datastore=kind,
        datastore_root=root or Sourced(None),
        metadata=metadata or Sourced("local"),
        s3=_s3(profile, env),
        policy=profile.policy if profile else Policy(),
        secrets=profile.secrets if profile else Secrets(),
        kubernetes=dict(profile.kubernetes) if profile else {},
        argo=dict(profile.argo) if profile else {},
        events=dict(profile.events) if profile else {},
        scheduler=dict(profile.scheduler) if profile else {},
        ui=dict(profile.ui) if profile else {},
        environments=dict(profile.environments) if profile else {},
        profiles=tuple(config.profiles) if config else (),
    )


def _choose_profile(
    flag: str | None, env: Mapping[str, str], config: ConfigFile | None, path: str
) -> Sourced:
    if flag:
        chosen = Sourced(flag, "flag", "--profile")
    elif env.get(PROFILE_ENV, "").strip():
        chosen = Sourced(env[PROFILE_ENV].strip(), "env", PROFILE_ENV)
    elif config is not None and config.default_profile:
        chosen = Sourced(config.default_profile, "profile", f"default_profile in {path}")
    else:
        return Sourced(None)
    name = chosen.value
    if config is None:
        raise ConfigError(
            f"profile {name!r} was chosen ({chosen.describe()}) but there is no "
            f"configuration file at {path}",
            fix=f"create {path} with a [profiles.{name}] table (see docs/profiles.md), "
            f"or point {CONFIG_ENV} at yours",
        )
    if name not in config.profiles:
        close = difflib.get_close_matches(name, list(config.profiles), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = ", ".join(config.profiles) or "none"
        raise ConfigError(
            f"no profile {name!r} in {path} (chosen by {chosen.describe()})",
            file=path,
            fix=f"{hint}profiles defined: {known}",
        )
    return chosen


def _first(*candidates: Sourced | None) -> Sourced | None:
    return next((c for c in candidates if c is not None), None)


def _flag(
    flags: Mapping[str, str | None], name: str, env: Mapping[str, str], variable: str, option: str
) -> Sourced | None:
    value = flags.get(name)
    if not value:
        return None
    if env.get(variable) == value:
        return Sourced(value, "env", variable)
    return Sourced(value, "flag", option)


def _env(env: Mapping[str, str], variable: str) -> Sourced | None:
    value = env.get(variable, "").strip()
    return Sourced(value, "env", variable) if value else None


def _from_profile(profile: Profile | None, key: str, env: Mapping[str, str]) -> Sourced | None:
    if profile is None:
        return None
    value = getattr(profile, key)
    if value is None:
        return None
    origin = _profile_origin(profile, key)
    return Sourced(interpolate(value, env, origin), "profile", origin)


def _profile_origin(profile: Profile, key: str, table: str = "") -> str:
    """``/home/ada/.grange/config.toml:4``: where the profile sets ``key``."""
    line = profile.lines.get(f"{table}.{key}" if table else key)
    return f"{profile.file}:{line}" if line else profile.file


def _datastore_kind(kind: Sourced | None, root: Sourced | None) -> Sourced:
    if root is None:
        if kind is not None and kind.value == "s3":
            raise ConfigError(
                f"the s3 datastore (from {kind.describe()}) needs a datastore root",
                fix="give --datastore-root s3://BUCKET/PREFIX (or GRANGE_DATASTORE_ROOT, "
                f"{S3_ROOT_ENV}, or datastore_root in the profile)",
            )
        return kind or Sourced("local")
    root_kind = "s3" if str(root.value).startswith("s3://") else "local"
    if kind is None or kind.value == root_kind:
        return kind if kind is not None else Sourced(root_kind, root.source, root.origin)
    if kind.value not in ("local", "s3"):
        raise ConfigError(
            f"datastore {kind.value!r} (from {kind.describe()}) is not 'local' or 's3'",
            fix="choose --datastore local or --datastore s3",
        )
    if _RANK[kind.source] >= _RANK[root.source]:
        raise ConfigError(
            f"datastore {kind.value!r} (from {kind.describe()}) does not match the datastore "
            f"root {root.value!r} (from {root.describe()})",
            fix="an s3 datastore's root is s3://BUCKET/PREFIX, a local one's a folder: "
            "change one of them",
        )
    # A root given more directly than the kind decides it (--datastore-root /tmp/x
    # under an s3 profile means a local run).
    return Sourced(root_kind, root.source, root.origin)


def _s3(profile: Profile | None, env: Mapping[str, str]) -> dict[str, Sourced]:
    out = {}
    for name, variable in S3_ENV.items():
        if env.get(variable, "").strip():
            out[name] = Sourced(env[variable].strip(), "env", variable)
        elif profile is not None and name in profile.s3:
            origin = _profile_origin(profile, name, "s3")
            value = profile.s3[name]
            if isinstance(value, str):
                value = interpolate(value, env, origin)
            out[name] = Sourced(value, "profile", origin)
    return out


def interpolate(value: Any, env: Mapping[str, str], where: str) -> Any:
    """``value`` with each ``${VAR}`` replaced by the environment variable ``VAR``."""
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise ConfigError(
                f"{where} uses ${{{name}}}, but {name} is not set in the environment",
                fix=f"export {name}=... before running grange, or write the value in the file",
            )
        return env[name]

    return _VARIABLE.sub(replace, value)
