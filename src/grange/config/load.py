"""Finding and reading ``config.toml`` into a validated :class:`ConfigFile`.

The file is ``$GRANGE_CONFIG`` when that is set (it must then exist), else
``~/.grange/config.toml`` (which need not). It is read when a command asks
for it, never when a module is imported, and kept per process while it is
unchanged (same size and modification time).
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grange.config.model import ConfigFile, Policy, Profile, Rule, Secrets
from grange.config.schema import PROFILE, PROFILE_NAME, RESOURCES, SUBTABLES, TOP, Key
from grange.exceptions import ConfigError

CONFIG_ENV = "GRANGE_CONFIG"
# The file's text itself, for a pod or an Argo container, which has no file: one
# profile of the user's file (``grange.config.export.profile_text``), set by the
# compute layers. ``GRANGE_CONFIG`` wins when both are set.
CONFIG_TEXT_ENV = "GRANGE_CONFIG_TEXT"
DEFAULT_PATH = "~/.grange/config.toml"

_cache: dict[str, tuple[tuple[int, int], ConfigFile]] = {}


def config_path(env: Mapping[str, str]) -> tuple[Path, bool]:
    """The configuration file's path, and whether it was named by ``GRANGE_CONFIG``."""
    named = env.get(CONFIG_ENV, "").strip()
    if named:
        return Path(os.path.expanduser(named)).absolute(), True
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".grange" / "config.toml", False


def read_config(env: Mapping[str, str]) -> ConfigFile | None:
    """The configuration file in force, or ``None`` when there is none."""
    text = env.get(CONFIG_TEXT_ENV)
    if text and not env.get(CONFIG_ENV, "").strip():
        return _parse_cached(text, f"${CONFIG_TEXT_ENV}")
    path, named = config_path(env)
    try:
        stat = path.stat()
    except FileNotFoundError:
        if named:
            raise ConfigError(
                f"{CONFIG_ENV} names {path}, which does not exist",
                fix=f"create it (see docs/profiles.md) or unset {CONFIG_ENV}",
            ) from None
        return None
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror or err}", file=str(path)) from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(str(path))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    config = parse_config(_read_text(path), str(path))
    _cache[str(path)] = (stamp, config)
    return config


def _parse_cached(text: str, source: str) -> ConfigFile:
    key = f"{source}:{hash(text)}"
    cached = _cache.get(key)
    if cached is None:
        cached = ((0, 0), parse_config(text, source))
        _cache[key] = cached
    return cached[1]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read {path}: {err}", file=str(path)) from None


def parse_config(text: str, file: str) -> ConfigFile:
    """Parse and validate the text of a configuration file named ``file``."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line = _decode_error_line(str(err))
        raise ConfigError(
            f"not valid TOML: {err}",
            file=file,
            line=line,
            fix="see docs/profiles.md for the layout of the file",
        ) from None
    where = _Where(text, file)
    top = where.table(data, "", TOP)
    profiles_table = top.get("profiles", {})
    profiles = {name: _profile(where, name, body) for name, body in sorted(profiles_table.items())}
    default = top.get("default_profile")
    if default is not None and default not in profiles:
        raise where.error(
            "",
            "default_profile",
            f"names the profile {default!r}, which the file does not define",
            _known_profiles(default, profiles),
        )
    for profile in profiles.values():
        for other in profile.policy.readable_profiles:
            if other not in profiles:
                raise where.error(
                    f"profiles.{profile.name}.policy",
                    "readable_profiles",
                    f"names the profile {other!r}, which the file does not define",
                    _known_profiles(other, profiles),
                )
    return ConfigFile(path=file, default_profile=default, profiles=profiles)


def _known_profiles(name: str, profiles: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(profiles), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return hint + ("profiles: " + ", ".join(profiles) if profiles else "define it under [profiles]")


def _profile(where: _Where, name: str, body: Any) -> Profile:
    table = f"profiles.{name}"
    if not PROFILE_NAME.match(name):
        raise where.error(
            "profiles",
            name,
            "is not a profile name",
            "use letters, digits, '-', '_' and '.': [profiles.staging]",
        )
    if not isinstance(body, dict):
        raise where.error("profiles", name, "must be a table", f"write it as [{table}]")
    values = where.table(body, table, PROFILE)
    sub = {
        key: where.table(values.get(key, {}), f"{table}.{key}", SUBTABLES[key]) for key in SUBTABLES
    }
    kind, root = values.get("datastore"), values.get("datastore_root")
    if kind == "s3" and root is None:
        raise where.error(
            table,
            "datastore",
            "is 's3' but the profile has no datastore_root",
            'add datastore_root = "s3://BUCKET/PREFIX"',
        )
    if (
        kind is not None
        and root is not None
        and "${" not in root
        and (kind == "s3") != root.startswith("s3://")
    ):
        raise where.error(
            table,
            "datastore_root",
            f"{root!r} is not a location for datastore = {kind!r}",
            "an s3 datastore's root is s3://BUCKET/PREFIX, a local one's a folder",
        )
    return Profile(
        name=name,
        file=where.file,
        description=values.get("description"),
        datastore=kind,
        datastore_root=root,
        metadata=values.get("metadata"),
        s3=sub["s3"],
        policy=_policy(where, name, sub["policy"]),
        secrets=_secrets(where, name, sub["secrets"]),
        kubernetes=values.get("kubernetes", {}),
        argo=values.get("argo", {}),
        events=values.get("events", {}),
        scheduler=values.get("scheduler", {}),
        ui=values.get("ui", {}),
        environments=values.get("environments", {}),
        lines=where.lines_of(table, values, sub["s3"]),
    )


def _policy(where: _Where, profile: str, values: dict[str, Any]) -> Policy:
    table = f"profiles.{profile}.policy"
    if "max_resources" in values:
        values["max_resources"] = where.table(
            values["max_resources"], f"{table}.max_resources", RESOURCES, line_key="max_resources"
        )
    rules = {key: where.rule(table, key, value) for key, value in values.items()}
    return Policy(profile=profile, rules=rules, **values)


def _secrets(where: _Where, profile: str, values: dict[str, Any]) -> Secrets:
    table = f"profiles.{profile}.secrets"
    rules = {key: where.rule(table, key, value) for key, value in values.items()}
    return Secrets(profile=profile, rules=rules, **values)


class _Where:
    """Validation with errors that name the file, the table, the key and its line."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.lines = text.splitlines()

    def table(
        self, data: Any, name: str, keys: Mapping[str, Key], *, line_key: str | None = None
    ) -> dict[str, Any]:
        if not isinstance(data, dict):
            parent, _, key = name.rpartition(".")
            raise self.error(parent, key, f"must be a table, not {data!r}", f"write it as [{name}]")
        out = {}
        for key, value in data.items():
            if key not in keys:
                close = difflib.get_close_matches(key, list(keys), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                where = f"[{name}]" if name else "the top level"
                raise self.error(
                    name,
                    key,
                    "is not a known key",
                    f"{hint}keys of {where}: {', '.join(keys)}",
                    line_key=line_key,
                )
            try:
                out[key] = keys[key].check(value)
            except ValueError as err:
                raise self.error(
                    name, key, str(err), f"{key} is {keys[key].about}", line_key=line_key
                ) from None
        return out

    def lines_of(
        self, table: str, values: Mapping[str, Any], s3: Mapping[str, Any]
    ) -> dict[str, int]:
        """Where each key of a profile (and of its ``[s3]`` table, as ``s3.KEY``) is."""
        found = {key: self.line(table, key) for key in values}
        found.update({f"s3.{key}": self.line(f"{table}.s3", key) for key in s3})
        return {key: line for key, line in found.items() if line is not None}

    def rule(self, table: str, key: str, value: Any) -> Rule:
        return Rule(self.file, table, key, value, self.line(table, key))

    def error(
        self, table: str, key: str, what: str, fix: str, *, line_key: str | None = None
    ) -> ConfigError:
        if line_key is not None:  # a key inside an inline table: the line of the table
            parent = table.rpartition(".")[0]
            line = self.line(parent, line_key)
        else:
            line = self.line(table, key)
        where = f"[{table}] {key}" if table else key
        return ConfigError(f"{where}: {what}", file=self.file, line=line, fix=fix)

    def line(self, table: str, key: str) -> int | None:
        """The line of ``key`` in ``[table]`` (best effort: plain tables and keys)."""
        current = ""
        header_line = None
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number, text in enumerate(self.lines, start=1):
            stripped = text.strip()
            if stripped.startswith("["):
                current = re.sub(r"[\s\"'\[\]]", "", stripped.split("#", 1)[0])
                subtable = f"{table}.{key}" if table else key
                if current == subtable and header_line is None:
                    header_line = number
                continue
            if current == table and pattern.match(text):
                return number
        return header_line


def _decode_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None
