"""What every secrets provider is: one method, :meth:`Provider.fetch`.

A provider turns a secret id (and the source's options and role) into the
secret's ``key: value`` pairs; names are sanitized and checked afterwards, by
the caller. It raises :class:`ProviderError` for what a user can fix (no such
secret, access denied, malformed content, unreachable service), with a message
that never holds a secret value.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar


class ProviderError(Exception):
    """A secret could not be read; ``fix`` says what to do."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


class Provider(ABC):
    """Reads secrets from one kind of store."""

    type: ClassVar[str] = ""
    #: The options a source of this provider may give.
    options: ClassVar[tuple[str, ...]] = ()

    def check_options(self, options: Mapping[str, Any]) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            accepted = ", ".join(self.options) or "none"
            raise ProviderError(
                f"unknown option(s) {', '.join(unknown)} for provider '{self.type}'",
                f"the options of '{self.type}' are: {accepted}",
            )

    @abstractmethod
    def fetch(
        self, secret_id: str, *, options: Mapping[str, Any], role: str | None
    ) -> Mapping[str, object]:
        """The secret's ``key: value`` pairs."""


def pairs_from_text(
    text: str,
    *,
    what: str,
    name: str,
    options: Mapping[str, Any],
) -> dict[str, object]:
    """The pairs of a secret held as text.

    With ``options["json"]`` true (the default) the text is a JSON object whose
    entries are the pairs; otherwise the whole text is one value, named
    ``options["env_var_name"]`` or ``name``.
    """
    if not options.get("json", True):
        return {str(options.get("env_var_name") or name): text}
    try:
        value = json.loads(text)
    except ValueError as err:
        # The position only: the message of a JSON error may quote the text.
        line, col = getattr(err, "lineno", "?"), getattr(err, "colno", "?")
        raise ProviderError(
            f"{what} is not valid JSON (line {line}, column {col})",
            'store a JSON object such as {"DB_PASSWORD": "..."}, or give the source '
            'options={"json": False, "env_var_name": "NAME"} to take the text as one value',
        ) from None
    if not isinstance(value, dict):
        raise ProviderError(
            f"{what} is JSON but not an object (it is a {type(value).__name__})",
            'store a JSON object such as {"DB_PASSWORD": "..."}, or give the source '
            'options={"json": False, "env_var_name": "NAME"} to take the text as one value',
        )
    return value
