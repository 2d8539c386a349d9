"""What an S3 connection needs, read once from the environment (or a profile).

Credentials are deliberately not here: they come from the standard AWS chain
(environment, web identity, container and instance roles, and, when boto3 is
installed, ``~/.aws`` profiles and SSO) and are never copied into settings,
records, logs or the environment grange passes on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from grange.exceptions import ConfigError

DEFAULT_REGION = "us-east-1"

#: Environment variables, by setting; the first one set wins.
ENV = {
    "endpoint_url": ("GRANGE_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "region": ("GRANGE_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    "max_concurrency": ("GRANGE_S3_MAX_CONCURRENCY",),
    "part_size_mb": ("GRANGE_S3_PART_SIZE_MB",),
    "retries": ("GRANGE_S3_RETRIES",),
    "timeout": ("GRANGE_S3_TIMEOUT",),
    "connect_timeout": ("GRANGE_S3_CONNECT_TIMEOUT",),
    "retry_timeout": ("GRANGE_S3_RETRY_TIMEOUT",),
}


@dataclass(frozen=True)
class S3Settings:
    """How to reach S3. Hashable: one client per bucket and settings per process."""

    endpoint_url: str | None = None  # an S3-compatible store (MinIO, moto, Ceph...)
    region: str = DEFAULT_REGION
    max_concurrency: int = 32  # parallel requests of one transfer (or one batch)
    part_size_mb: int = 16  # multipart part size
    retries: int = 10  # of throttled (503 SlowDown), timed-out and 5xx requests
    timeout: float = 600.0  # seconds, one whole request
    connect_timeout: float = 10.0  # seconds
    retry_timeout: float = 120.0  # seconds from a request's first try to its last retry
    use_boto3_credentials: bool = False  # ~/.aws profiles / SSO through boto3

    @property
    def part_size(self) -> int:
        return self.part_size_mb * 1024 * 1024

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, overrides: Mapping[str, object] | None = None
    ) -> S3Settings:
        """Settings from ``env`` (``os.environ`` by default), then ``overrides``
        (a profile's ``[s3]`` table) where the environment says nothing."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for name, variables in ENV.items():
            for variable in variables:
                if env.get(variable):
                    values[name] = _convert(name, env[variable], variable)
                    break
        for name, value in (overrides or {}).items():
            if name not in ENV:
                known = ", ".join(sorted(ENV))
                raise ConfigError(f"unknown S3 setting {name!r}", fix=f"use one of: {known}")
            values.setdefault(name, _convert(name, value, f"s3.{name}"))
        values["use_boto3_credentials"] = _wants_boto3_credentials(env)
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> S3Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def as_env(self) -> dict[str, str]:
        """Environment variables that give a child process these same settings."""
        out = {}
        for f in fields(self):
            if f.name in ENV and getattr(self, f.name) is not None:
                out[ENV[f.name][0]] = str(getattr(self, f.name))
        return out


def _convert(name: str, value: object, source: str) -> object:
    kind = {f.name: f.type for f in fields(S3Settings)}[name]
    try:
        if kind == "int":
            number = int(str(value))
            if number < 1:
                raise ValueError
            if name == "part_size_mb" and number < 5:
                raise ConfigError(
                    f"{source}={value!r} is below S3's smallest multipart part, 5 MiB",
                    fix=f"set {source} to 5 or more (default 16)",
                )
            return number
        if kind == "float":
            seconds = float(str(value))
            if seconds <= 0:
                raise ValueError
            return seconds
    except ValueError:
        raise ConfigError(
            f"{source}={value!r} is not a positive number", fix=f"set {source} to e.g. 32"
        ) from None
    text = str(value).strip()
    if name == "endpoint_url" and not text.startswith(("http://", "https://")):
        raise ConfigError(
            f"{source}={value!r} is not an http(s) URL",
            fix=f"set {source} to the store's URL, e.g. http://127.0.0.1:9000",
        )
    return text


def _wants_boto3_credentials(env: Mapping[str, str]) -> bool:
    """Use boto3's credential chain when the environment names a profile, or has no
    keys of its own while ``~/.aws`` holds a configuration (SSO, profiles)."""
    if env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return False
    if env.get("AWS_PROFILE"):
        return True
    home = Path(env.get("HOME") or Path.home())
    aws = [env.get("AWS_SHARED_CREDENTIALS_FILE"), env.get("AWS_CONFIG_FILE")]
    candidates = [Path(p) for p in aws if p] or [home / ".aws/credentials", home / ".aws/config"]
    return any(p.is_file() for p in candidates)
