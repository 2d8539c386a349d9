"""Which provider a source without one uses, and which sources may be read at all.

A :class:`SecretsPolicy` is plain data. A profile fills it in
(``[profiles.X.secrets] default_provider = "..."``, ``allowed_sources = [...]``);
without one it comes from the environment:

=========================  ===================================================
``GRANGE_SECRETS_PROVIDER``  provider of sources written without one
``GRANGE_SECRETS_ALLOWED``   comma-separated patterns of sources that may be read
``GRANGE_SECRETS_ROLE``      role of sources and decorators that give none
=========================  ===================================================

(set but empty, ``GRANGE_SECRETS_ALLOWED`` allows no source). A runtime passes a
profile's policy on to its tasks with :meth:`SecretsPolicy.as_env`.

A pattern is matched (``fnmatch``, ``*`` also crossing ``/``) against the
source's id and against ``provider.id``: ``prod/*`` allows every id under
``prod/`` from any provider, ``aws-secrets-manager.prod/*`` only from AWS.
No patterns (``None``) allow everything; an empty list allows nothing.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from grange.exceptions import PolicyError, SecretError
from grange.secret_sources.spec import PROVIDER_TYPES, SecretSource, SourceSpecError, check_type

PROVIDER_ENV = "GRANGE_SECRETS_PROVIDER"
ALLOWED_ENV = "GRANGE_SECRETS_ALLOWED"
ROLE_ENV = "GRANGE_SECRETS_ROLE"
ORIGIN_ENV = "GRANGE_SECRETS_POLICY_FROM"  # set by as_env(): who set the policy ("profile 'prod'")


#: Options that make a provider read somewhere other than its id says.
REDIRECTING_OPTIONS = frozenset({"path", "dir", "directory", "endpoint_url", "file"})


@dataclass(frozen=True)
class ResolvedSource:
    """A source with its provider and role decided: what is fetched."""

    type: str
    id: str
    options: Mapping[str, object]
    role: str | None

    @property
    def label(self) -> str:
        return f"{self.type}.{self.id}"


@dataclass(frozen=True)
class SecretsPolicy:
    """The default provider and role, and the patterns of sources that may be read."""

    default_provider: str | None = None
    allowed_sources: tuple[str, ...] | None = None
    default_role: str | None = None
    origin: str = "the environment"  # named in refusals: "profile 'prod'"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SecretsPolicy:
        """The policy the ``GRANGE_SECRETS_*`` variables set (``os.environ`` by default)."""
        env = os.environ if env is None else env
        allowed = env.get(ALLOWED_ENV)
        return cls(
            default_provider=env.get(PROVIDER_ENV) or None,
            allowed_sources=None
            if allowed is None
            else tuple(p.strip() for p in allowed.split(",") if p.strip()),
            default_role=env.get(ROLE_ENV) or None,
            origin=env.get(ORIGIN_ENV) or f"${ALLOWED_ENV}",
        )

    def as_env(self) -> dict[str, str]:
        """Environment variables that give a task process this same policy (what a
        runtime passes on to its tasks, a pod's spec to its container)."""
        out = {}
        if self.default_provider:
            out[PROVIDER_ENV] = self.default_provider
        if self.allowed_sources is not None:
            out[ALLOWED_ENV] = ",".join(self.allowed_sources)
        if self.default_role:
            out[ROLE_ENV] = self.default_role
        if out and not self.origin.startswith("$"):
            out[ORIGIN_ENV] = self.origin
        return out

    @classmethod
    def from_profile(
        cls,
        name: str,
        table: Mapping[str, object],
    ) -> SecretsPolicy:
        """From a profile's ``[secrets]`` table: ``default_provider``,
        ``allowed_sources``, ``default_role``."""
        provider = table.get("default_provider")
        allowed = table.get("allowed_sources")
        role = table.get("default_role")
        where = f"profile '{name}'"
        if provider is not None and (not isinstance(provider, str) or not provider):
            raise SecretError(
                f"{where}: secrets.default_provider must be a provider name",
                fix=f"one of: {', '.join(PROVIDER_TYPES)}",
            )
        if allowed is not None and (
            not isinstance(allowed, Sequence)
            or isinstance(allowed, str)
            or not all(isinstance(p, str) for p in allowed)
        ):
            raise SecretError(
                f"{where}: secrets.allowed_sources must be a list of patterns",
                fix='write allowed_sources = ["prod/*"]',
            )
        if role is not None and not isinstance(role, str):
            raise SecretError(f"{where}: secrets.default_role must be a string")
        return cls(
            default_provider=provider,
            allowed_sources=None if allowed is None else tuple(allowed),
            default_role=role,
            origin=where,
        )

    def resolve(
        self, source: SecretSource, *, role: str | None = None, step: str | None = None
    ) -> ResolvedSource:
        """``source`` with its provider (its own, else the default) and role
        (the source's, else the decorator's ``role``, else the default)."""
        kind = source.type or self.default_provider
        if kind is None:
            raise SecretError(
                f"@secrets source '{source.id}' names no provider, and no default provider is set",
                step=step,
                fix=f"write it with its provider ('local-file.{source.id}', "
                f"'aws-secrets-manager.{source.id}'), or set ${PROVIDER_ENV} "
                "(or default_provider in the profile's [secrets] table)",
            )
        try:
            check_type(kind, source.id)
        except SourceSpecError as err:
            raise SecretError(
                f"the default secrets provider '{kind}' (from {self.origin_of_provider()}) "
                "is not a provider",
                step=step,
                fix=f"set it to one of: {', '.join(PROVIDER_TYPES)}",
            ) from err
        return ResolvedSource(
            type=kind,
            id=source.id,
            options=source.options,
            role=source.role or role or self.default_role,
        )

    def origin_of_provider(self) -> str:
        return f"${PROVIDER_ENV}" if self.origin.startswith("$") else self.origin

    def allows(self, source: ResolvedSource) -> bool:
        if self.allowed_sources is None:
            return True
        return any(
            fnmatch.fnmatchcase(source.id, p) or fnmatch.fnmatchcase(source.label, p)
            for p in self.allowed_sources
        )

    def check(self, sources: Iterable[ResolvedSource], *, step: str | None = None) -> None:
        """:class:`PolicyError` naming the first source the patterns do not allow.

        Under patterns, a source may not point its provider elsewhere (a file path,
        a folder, another endpoint): its id is what the patterns judge, so the id
        must be what is read."""
        for source in sources:
            if not self.allows(source):
                patterns = ", ".join(self.allowed_sources or ()) or "none"
                raise PolicyError(
                    f"@secrets source '{source.label}' is not allowed by {self.origin} "
                    f"(allowed sources: {patterns})",
                    step=step,
                    fix="read a secret that the allowed patterns match, or run with a "
                    "profile that allows this one",
                )
            moved = sorted(set(source.options) & REDIRECTING_OPTIONS)
            if self.allowed_sources is not None and moved:
                raise PolicyError(
                    f"@secrets source '{source.label}' sets {', '.join(moved)}, which "
                    f"{self.origin} does not allow: its allowed sources are named by id "
                    f"({', '.join(self.allowed_sources) or 'none'})",
                    step=step,
                    fix=f"drop the option{'s' if len(moved) > 1 else ''} "
                    f"{', '.join(moved)}: the profile's provider settings decide where "
                    "secrets are read",
                )
