"""Reading every source of a step: policy first, then each provider, then the checks.

:func:`load_secrets` returns the variables to set and the texts to hide; it
sets nothing itself. Every failure is a :class:`~grange.exceptions.SecretError`
(or a :class:`~grange.exceptions.PolicyError`) naming the step and the source,
whose message holds no secret value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from grange.exceptions import SecretError
from grange.secret_sources.policy import SecretsPolicy
from grange.secret_sources.providers import PROVIDERS, ProviderError
from grange.secret_sources.redact import Redactor
from grange.secret_sources.spec import SecretSource
from grange.secret_sources.values import SecretEnv, ValuesError, secret_texts


@dataclass(frozen=True)
class LoadedSecrets:
    """What a step's sources gave: variables, where each came from, texts to hide."""

    values: dict[str, str]
    origin: dict[str, str]
    redactor: Redactor


def load_secrets(
    sources: Iterable[SecretSource],
    *,
    step: str,
    policy: SecretsPolicy,
    environ: Mapping[str, str],
    role: str | None = None,
    allow_override: bool = False,
    file: str | None = None,
    line: int | None = None,
) -> LoadedSecrets:
    """Resolve, check against ``policy``, fetch and check the variables of ``sources``."""
    resolved = [policy.resolve(s, role=role, step=step) for s in sources]
    policy.check(resolved, step=step)  # before anything is fetched
    env = SecretEnv()
    for source in resolved:
        provider = PROVIDERS[source.type]()
        try:
            pairs = provider.fetch(source.id, options=source.options, role=source.role)
        except ProviderError as err:
            hide = Redactor(secret_texts(env.values.values()))
            raise SecretError(
                f"@secrets source '{source.label}': {hide.text(err.message)}",
                fix=hide.text(err.fix) if err.fix else None,
                step=step,
                file=file,
                line=line,
            ) from None
        except Exception as err:  # a provider's bug or an unforeseen library error
            hide = Redactor(secret_texts(env.values.values()))
            raise SecretError(
                f"@secrets source '{source.label}' could not be read: "
                f"{type(err).__name__}: {hide.text(str(err))}",
                step=step,
                file=file,
                line=line,
            ) from None
        try:
            env.add(source.label, pairs)
        except ValuesError as err:
            raise SecretError(
                f"@secrets source '{source.label}' cannot be used: {err.message}",
                fix=err.fix,
                step=step,
                file=file,
                line=line,
            ) from None
    if not allow_override:
        clashes = env.clashes(environ)
        if clashes:
            name = clashes[0]
            also = f" (and {', '.join(clashes[1:])})" if clashes[1:] else ""
            raise SecretError(
                f"@secrets source '{env.origin[name]}' sets {name}{also}, which the task's "
                "environment has already",
                fix=f"unset {name} where the run starts (or remove it from @environment), "
                "or let the secret replace it with @secrets(..., allow_override=True)",
                step=step,
                file=file,
                line=line,
            )
    return LoadedSecrets(
        values=env.values, origin=env.origin, redactor=Redactor(secret_texts(env.values.values()))
    )
