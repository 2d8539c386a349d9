"""``@secrets(sources=[...], role=None, allow_override=False)``: secrets as environment variables."""

from __future__ import annotations

from typing import Any

from grange.decorators.base import StepDecorator, make_step_decorator
from grange.decorators.options import TaskOptions
from grange.exceptions import DecoratorError
from grange.secret_sources.spec import SecretSource, SourceSpecError, parse_sources


class SecretsDecorator(StepDecorator):
    """Read each source before the step runs and set its keys as environment
    variables of the task's process (never of the runtime, never on a command line).

    A source is ``"id"`` (the default provider), ``"provider.id"`` or
    ``{"type": ..., "id": ..., "options": {...}, "role": ...}``. ``role`` applies to
    the sources that give none. Values are masked (``****``) in the task's
    logs, and an artifact holding one is refused. See docs/secrets.md.
    """

    name = "secrets"
    defaults = {"sources": [], "role": None, "allow_override": False}

    def __init__(
        self, attributes: dict[str, Any] | None = None, *, statically_defined: bool = True
    ) -> None:
        self.sources: tuple[SecretSource, ...] = ()
        super().__init__(attributes, statically_defined=statically_defined)

    def validate(self) -> None:
        try:
            self.sources = parse_sources(self.attributes["sources"])
        except SourceSpecError as err:
            raise DecoratorError(f"@secrets(sources=...): {err.message}", fix=err.fix) from None
        role = self.attributes["role"]
        if role is not None and not isinstance(role, str):
            raise DecoratorError(
                f"@secrets(role={role!r}): role must be a string",
                fix="write @secrets(sources=[...], role='arn:aws:iam::123456789012:role/reader')",
            )
        if not isinstance(self.attributes["allow_override"], bool):
            raise DecoratorError(
                f"@secrets(allow_override={self.attributes['allow_override']!r}): "
                "allow_override must be True or False",
                fix="write allow_override=True to let secrets replace existing variables",
            )
        # What is shown and recorded (graph, `show`, current.graph): ids, never values.
        self.attributes["sources"] = [s.redacted() for s in self.sources]

    def task_options(self, *, options: TaskOptions) -> None:
        options.secret_sources = tuple((s.type, s.id) for s in self.sources)

    @property
    def role(self) -> str | None:
        role = self.attributes["role"]
        return str(role) if role is not None else None

    @property
    def allow_override(self) -> bool:
        return bool(self.attributes["allow_override"])


secrets = make_step_decorator(SecretsDecorator)
