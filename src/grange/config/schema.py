"""What ``config.toml`` may hold: every table, every key, and how each value is checked.

A table is a mapping of key to :class:`Key`; a key's ``check`` converts a
value read from the file or raises ``ValueError`` with what is wrong, which
:mod:`grange.config.load` turns into a :class:`~grange.exceptions.ConfigError`
naming the file, the table and the key. A key no table knows is an error with
a "did you mean" (a misspelt policy must never pass silently as no policy).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Check = Callable[[Any], Any]

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DATASTORES = ("local", "s3")


@dataclass(frozen=True)
class Key:
    """One key of a table: how its value is checked, and what it means (for errors)."""

    check: Check
    about: str


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, not {value!r}")
    return value.strip()


def _choice(*choices: str) -> Check:
    def check(value: Any) -> str:
        text = _string(value)
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(repr(c) for c in choices)}, not {text!r}")
        return text

    return check


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError(f"must be a list of strings, not {value!r}")
    return tuple(_string(item) for item in value)


def _s3_prefixes(value: Any) -> tuple[str, ...]:
    prefixes = _strings(value)
    for prefix in prefixes:
        if not prefix.startswith("s3://") or len(prefix.rstrip("/")) <= len("s3://"):
            raise ValueError(f"must hold s3://BUCKET[/PREFIX] locations, not {prefix!r}")
    return prefixes


def _roots(value: Any) -> tuple[str, ...]:
    roots = _strings(value)
    for root in roots:
        _root(root)
    return roots


def _root(value: Any) -> str:
    text = _string(value)
    if text.startswith("s3://"):
        if len(text.rstrip("/")) <= len("s3://"):
            raise ValueError(f"must name a bucket: s3://BUCKET[/PREFIX], not {text!r}")
        return text
    if "://" in text:
        raise ValueError(f"must be an s3:// location or a folder, not {text!r}")
    if not (text.startswith(("/", "~")) or "${" in text):
        raise ValueError(f"a folder must be absolute (or start with ~), not {text!r}")
    return text


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"must be a whole number of at least 1, not {value!r}")
    return value


def _non_negative_number(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"must be a number of at least 0, not {value!r}")
    return value


def _positive_number(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"must be a number above 0, not {value!r}")
    return float(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


def _http_url(value: Any) -> str:
    text = _string(value)
    if not text.startswith(("http://", "https://", "${")):
        raise ValueError(f"must be an http(s) URL, not {text!r}")
    return text


def _metadata(value: Any) -> str:
    text = _string(value)
    if text != "local" and not text.startswith(("postgresql", "sqlite:///", "${")):
        raise ValueError(f"must be 'local' or a postgresql:// URL, not {text!r}")
    return text


def _profile_names(value: Any) -> tuple[str, ...]:
    names = _strings(value)
    for name in names:
        if not PROFILE_NAME.match(name):
            raise ValueError(f"{name!r} is not a profile name")
    return names


def _free_table(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"must be a table, not {value!r}")
    return dict(value)


TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
TOKEN_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")


def _token_hashes(value: Any) -> dict[str, str]:
    """``{ ci = "sha256:<64 hex digits>" }``: a name per machine token, and its hash."""
    if not isinstance(value, dict) or not value:
        raise ValueError(f'must be a table of name = "sha256:..." entries, not {value!r}')
    out = {}
    for name, digest in value.items():
        if not TOKEN_NAME.match(name):
            raise ValueError(f"{name!r} is not a token name (letters, digits, '_', '.', '-')")
        if not isinstance(digest, str) or not TOKEN_HASH.match(digest.strip()):
            raise ValueError(
                f"the hash of {name!r} must read sha256:<64 lowercase hex digits>, as "
                f"`grange config token --name {name}` prints it, not {digest!r}"
            )
        out[name] = digest.strip()
    return out


RESOURCES: Mapping[str, Key] = {
    "cpu": Key(_non_negative_number, "CPUs a task may ask for"),
    "gpu": Key(_non_negative_number, "GPUs a task may ask for"),
    "memory": Key(_non_negative_number, "memory (MiB) a task may ask for"),
    "disk": Key(_non_negative_number, "disk (MiB) a task may ask for"),
    "shared_memory": Key(_non_negative_number, "shared memory (MiB) a task may ask for"),
}

# The S3 connection settings a profile may set (S3Settings.from_env(overrides=...));
# a unit test keeps these names equal to grange.datastore.s3.settings.ENV's.
S3: Mapping[str, Key] = {
    "endpoint_url": Key(_http_url, "an S3-compatible store's URL"),
    "region": Key(_string, "the AWS region"),
    "max_concurrency": Key(_positive_int, "parallel requests of one transfer"),
    "part_size_mb": Key(_positive_int, "multipart part size (MiB)"),
    "retries": Key(_positive_int, "retries of throttled, timed-out and 5xx requests"),
    "timeout": Key(_positive_number, "seconds for one whole request"),
    "connect_timeout": Key(_positive_number, "seconds to connect"),
    "retry_timeout": Key(_positive_number, "seconds from a request's first try to its last"),
}

POLICY: Mapping[str, Key] = {
    "allowed_datastore_roots": Key(_roots, "datastore roots runs may use"),
    "s3_read_prefixes": Key(_s3_prefixes, "S3 prefixes steps may read through grange.S3"),
    "s3_write_prefixes": Key(_s3_prefixes, "S3 prefixes steps may write through grange.S3"),
    "max_resources": Key(_free_table, "the most @resources a step may ask for"),
    "allowed_registries": Key(_strings, "registries container images may come from"),
    "allow_production_deploy": Key(_boolean, "whether --production deploys are allowed"),
    "production_tokens": Key(
        _token_hashes, "the machine tokens (by name, as sha256 hashes) --production needs"
    ),
    "required_tags": Key(_strings, "tag patterns every run must match"),
    "readable_profiles": Key(_profile_names, "other profiles whose runs may be read"),
}

SECRETS: Mapping[str, Key] = {
    "default_provider": Key(_string, "the provider of @secrets sources without one"),
    "allowed_sources": Key(_strings, "patterns of the secret sources steps may read"),
    "default_role": Key(_string, "the role of sources and @secrets that name none"),
}

PROFILE: Mapping[str, Key] = {
    "description": Key(_string, "what the profile is for"),
    "datastore": Key(_choice(*DATASTORES), "'local' or 's3'"),
    "datastore_root": Key(_root, "where runs are stored: a folder or s3://BUCKET/PREFIX"),
    "metadata": Key(_metadata, "'local' or a postgresql:// URL"),
    "s3": Key(_free_table, "S3 connection settings"),
    "policy": Key(_free_table, "what runs and deploys under this profile may do"),
    "secrets": Key(_free_table, "where @secrets come from"),
    "kubernetes": Key(_free_table, "Kubernetes settings (kept as written)"),
    "argo": Key(_free_table, "Argo Workflows settings (kept as written)"),
    "events": Key(_free_table, "where events are published (kept as written)"),
    "scheduler": Key(_free_table, "the local scheduler's settings (kept as written)"),
    "ui": Key(_free_table, "grange ui's settings (kept as written)"),
    "environments": Key(_free_table, "@pypi/@conda: cache, index, channels (kept as written)"),
}

TOP: Mapping[str, Key] = {
    "default_profile": Key(_string, "the profile used when none is chosen"),
    "profiles": Key(_free_table, "the profiles, one table each"),
}

#: Tables checked key by key, by their name below a profile.
SUBTABLES: Mapping[str, Mapping[str, Key]] = {"s3": S3, "policy": POLICY, "secrets": SECRETS}
