"""``@secrets`` in the task's process: read the sources, set the variables, keep values hidden.

For a step without ``@secrets`` a :class:`TaskSecrets` stays inert: no thread,
no pipe, no scan, nothing read. With it, from :meth:`TaskSecrets.start` (after
the inputs are loaded, before the step runs) until :meth:`TaskSecrets.close`
(after the record is written):

- the variables are set in this process's ``os.environ`` only;
- what the process (and any subprocess) prints is masked (``****``);
- an artifact (or foreach list) holding a value is refused, naming it;
- the exception of a failed step is masked before it is recorded or caught.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from grange.decorators.base import StepDecorator, decorators_of
from grange.decorators.secrets import SecretsDecorator

if TYPE_CHECKING:  # the modules themselves are imported by steps with @secrets only
    from grange.secret_sources.output import OutputMask
    from grange.secret_sources.policy import SecretsPolicy
    from grange.secret_sources.redact import Redactor


def uses_secrets(flow_cls: type, steps: Sequence[str]) -> bool:
    """Whether a step of the flow has ``@secrets`` of its own."""
    return any(
        isinstance(d, SecretsDecorator)
        for name in steps
        for d in decorators_of(getattr(flow_cls, name))
    )


def preload_secrets() -> None:
    """Import what reading secrets needs, so that processes forked afterwards
    (the tasks of a flow that uses ``@secrets``) do not each import it."""
    import grange.secret_sources.artifacts
    import grange.secret_sources.load
    import grange.secret_sources.output  # noqa: F401


class TaskSecrets:
    """The secrets of one task attempt."""

    def __init__(self, policy: SecretsPolicy | None = None) -> None:
        self.policy = policy
        self.redactor: Redactor | None = None
        self.values: dict[str, str] = {}
        self._mask: OutputMask | None = None
        self._where: tuple[str | None, int | None] = (None, None)

    @property
    def active(self) -> bool:
        return self.redactor is not None

    def start(
        self,
        decorators: Sequence[StepDecorator],
        *,
        step: str,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        """Read the sources of the step's ``@secrets`` (if any) and set their variables."""
        deco = next((d for d in decorators if isinstance(d, SecretsDecorator)), None)
        if deco is None or not deco.sources:
            return
        from grange.secret_sources.load import load_secrets
        from grange.secret_sources.output import OutputMask
        from grange.secret_sources.policy import SecretsPolicy

        loaded = load_secrets(
            deco.sources,
            step=step,
            policy=self.policy or SecretsPolicy.from_env(),
            environ=os.environ,
            role=deco.role,
            allow_override=deco.allow_override,
            file=file,
            line=line,
        )
        self._where = (file, line)
        self.values = loaded.values
        self.redactor = loaded.redactor
        if loaded.redactor:
            self._mask = OutputMask(loaded.redactor).start()
        os.environ.update(loaded.values)

    def close(self) -> None:
        if self._mask is not None:
            self._mask.close()
            self._mask = None

    # -- keeping values out of what is stored ---------------------------------------------

    def check_artifact(self, name: str, value: Any, step: str) -> None:
        """:class:`SecretInArtifactError` if ``value`` holds a secret value."""
        if self.redactor is None:
            return
        from grange.secret_sources.artifacts import SecretInArtifactError, secret_in

        text = secret_in(value, self.redactor)
        if text is None:
            return
        variable = self._variable_of(text)
        raise SecretInArtifactError(
            f"artifact '{name}' holds the value of the secret variable {variable}; "
            "secret values are never stored",
            step=step,
            file=self._where[0],
            line=self._where[1],
            fix=f"keep it out of self.{name} (read os.environ['{variable}'] where it is "
            "needed, in each step that has @secrets)",
        )

    def mask_exception(self, exc: BaseException) -> None:
        """Mask secret values in the arguments of a failed step's exception, before
        ``@catch`` keeps it or the record stores its message."""
        if self.redactor is None:
            return
        # An exception class whose args cannot be set: the record is masked all the same.
        with contextlib.suppress(Exception):
            exc.args = tuple(self.redactor.text(a) if isinstance(a, str) else a for a in exc.args)

    def mask_record(self, exception: dict[str, Any]) -> dict[str, Any]:
        """The exception facts of a record, masked."""
        if self.redactor is None:
            return exception
        return {k: self.redactor.text(v) if isinstance(v, str) else v for k, v in exception.items()}

    def _variable_of(self, text: str) -> str:
        for name, value in self.values.items():
            if text in (value, json.dumps(value)[1:-1], repr(value)[1:-1]):
                return name
        return "?"


def check_sources(
    decorators: Sequence[StepDecorator],
    *,
    step: str,
    policy: SecretsPolicy | None = None,
    file: str | None = None,
    line: int | None = None,
) -> None:
    """Before a run starts or a flow is deployed: the step's ``@secrets`` sources each
    have a provider, and ``policy`` allows them. Reads no secret.

    Raises :class:`~grange.exceptions.SecretError` or :class:`~grange.exceptions.PolicyError`.
    """
    deco = next((d for d in decorators if isinstance(d, SecretsDecorator)), None)
    if deco is None or not deco.sources:
        return
    from grange.exceptions import GrangeError
    from grange.secret_sources.policy import SecretsPolicy

    policy = policy or SecretsPolicy.from_env()
    try:
        resolved = [policy.resolve(s, role=deco.role, step=step) for s in deco.sources]
        policy.check(resolved, step=step)
    except GrangeError as err:
        err.file, err.line = err.file or file, err.line or line
        raise
