"""What ``@secrets(sources=[...])`` names: a :class:`SecretSource` per item.

A source is written either as a string or as a dict, as in Metaflow:

- ``"db"``: the secret ``db`` from the default provider (``GRANGE_SECRETS_PROVIDER``
  or the profile's ``default_provider``);
- ``"aws-secrets-manager.prod/db"``: the provider, a dot, then the id. The part
  before the first dot must be a provider name, so an id holding a dot is
  written with its provider in front, or in the dict form;
- ``{"type": "aws-secrets-manager", "id": "prod/db", "options": {...}, "role": "..."}``:
  every key but ``id`` optional.

This module is pure: it parses and checks, it reads no environment and
imports no provider, so the decorators (which may not import boto3) use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Every provider grange has, by the name a source gives it.
PROVIDER_TYPES = ("aws-secrets-manager", "env", "inline", "kubernetes", "local-file")

#: Keys of a source written as a dict.
SOURCE_KEYS = ("id", "options", "role", "type")


class SourceSpecError(ValueError):
    """A source is written wrongly; ``fix`` says how to write it."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


class SecretSource:
    """One source of ``@secrets``: which provider (None: the default one), which secret.

    A plain class, not a dataclass: this module is imported by ``import grange``.
    """

    __slots__ = ("id", "options", "role", "type")

    def __init__(
        self,
        id: str,
        type: str | None = None,
        options: Mapping[str, Any] | None = None,
        role: str | None = None,
    ) -> None:
        self.id = id
        self.type = type
        self.options: Mapping[str, Any] = dict(options or {})
        self.role = role

    def _key(self) -> tuple[Any, ...]:
        return (self.id, self.type, self.options, self.role)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretSource) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.id, self.type, self.role))

    def __repr__(self) -> str:
        return f"SecretSource(id={self.id!r}, type={self.type!r}, role={self.role!r})"

    def label(self, provider: str | None = None) -> str:
        """How messages name the source: ``aws-secrets-manager.prod/db``."""
        kind = self.type or provider
        return f"{kind}.{self.id}" if kind else self.id

    def redacted(self) -> dict[str, Any]:
        """The source as it may be shown and recorded: no secret value in it.

        Only ``inline`` sources carry values (in ``options.env_vars``); their
        values are masked. Other options (a region, a file path) are not secret.
        """
        out: dict[str, Any] = {"id": self.id}
        if self.type:
            out["type"] = self.type
        if self.options:
            options = dict(self.options)
            if isinstance(options.get("env_vars"), Mapping):
                options["env_vars"] = {k: "****" for k in options["env_vars"]}
            out["options"] = options
        if self.role:
            out["role"] = self.role
        return out


def parse_source(item: object) -> SecretSource:
    """The :class:`SecretSource` an item of ``sources=`` names; :class:`SourceSpecError` if bad."""
    if isinstance(item, str):
        return _from_str(item)
    if isinstance(item, Mapping):
        return _from_dict(item)
    raise SourceSpecError(
        f"a source must be a string or a dict, not {type(item).__name__}",
        'write sources=["db"] or sources=[{"type": "aws-secrets-manager", "id": "prod/db"}]',
    )


def parse_sources(value: object) -> tuple[SecretSource, ...]:
    """Every source of ``sources=``: a list (or tuple) of sources, or one string."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise SourceSpecError(
            f"sources must be a list, not {type(value).__name__}",
            'write sources=["db", "aws-secrets-manager.prod/api"]',
        )
    return tuple(parse_source(item) for item in value)


def check_type(kind: str, written: str, secret_id: str | None = None) -> str:
    """``kind`` if it names a provider; else :class:`SourceSpecError` with a suggestion.

    ``written`` is the source as written; ``secret_id`` the id after the dot, if any.
    """
    if kind in PROVIDER_TYPES:
        return kind
    import difflib  # only for the message

    close = difflib.get_close_matches(kind, PROVIDER_TYPES, n=1)
    message = (
        f"'{kind}' in {written!r} is not a secrets provider "
        f"(providers: {', '.join(PROVIDER_TYPES)})"
    )
    if close:
        fix = (
            f"did you mean '{close[0]}.{secret_id}'?"
            if secret_id
            else f"did you mean '{close[0]}'?"
        )
        raise SourceSpecError(message, fix)
    raise SourceSpecError(
        message,
        "the part before the first dot names the provider: write an id that holds a dot "
        f"with its provider in front ('local-file.{written}') or as a dict "
        f"({{'id': {written!r}}})",
    )


def _from_str(text: str) -> SecretSource:
    if not text.strip():
        raise SourceSpecError("a source is an empty string", 'name a secret: sources=["db"]')
    kind, dot, rest = text.partition(".")
    if not dot:
        return SecretSource(id=text)
    check_type(kind, text, rest)
    _check_id(rest, text)
    return SecretSource(id=rest, type=kind)


def _from_dict(item: Mapping[Any, Any]) -> SecretSource:
    unknown = sorted(str(k) for k in item if k not in SOURCE_KEYS)
    if unknown:
        raise SourceSpecError(
            f"a source has unknown key(s) {', '.join(unknown)}",
            f"a source dict takes: {', '.join(SOURCE_KEYS)}",
        )
    secret_id = item.get("id")
    if not isinstance(secret_id, str) or not secret_id.strip():
        raise SourceSpecError(
            f"a source dict needs 'id', a non-empty string (got {secret_id!r})",
            '{"id": "prod/db"}',
        )
    kind = item.get("type")
    if kind is not None:
        if not isinstance(kind, str):
            raise SourceSpecError(
                f"'type' of source {secret_id!r} must be a string, not {type(kind).__name__}",
                f"write 'type' as one of: {', '.join(PROVIDER_TYPES)}",
            )
        check_type(kind, secret_id)
    options = item.get("options", {})
    if options is None:
        options = {}
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise SourceSpecError(
            f"'options' of source {secret_id!r} must be a dict with string keys",
            '{"id": "prod/db", "options": {"region": "eu-west-1"}}',
        )
    role = item.get("role")
    if role is not None and not isinstance(role, str):
        raise SourceSpecError(
            f"'role' of source {secret_id!r} must be a string, not {type(role).__name__}",
            '{"id": "prod/db", "role": "arn:aws:iam::123456789012:role/reader"}',
        )
    _check_id(secret_id, secret_id)
    return SecretSource(id=secret_id, type=kind, options=dict(options), role=role)


def _check_id(secret_id: str, written: str) -> None:
    if not secret_id.strip():
        raise SourceSpecError(
            f"source {written!r} names no secret after the provider",
            "write the id after the dot: 'aws-secrets-manager.prod/db'",
        )
    if "\x00" in secret_id:
        raise SourceSpecError(f"source {written!r} holds a NUL character", "remove it from the id")
