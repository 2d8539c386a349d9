"""From what providers return to environment variables: names, values, conflicts.

- A key becomes a variable name with ``-``, ``.`` and ``/`` turned into ``_``
  (as Metaflow does); the result must be a valid name (``[A-Za-z_][A-Za-z0-9_]*``)
  and must not start with ``GRANGE_`` (grange's own settings).
- Two keys of one secret that become the same name, two sources that set one
  variable, and (unless ``allow_override=True``) a variable that the task's
  environment has already, are errors.
- A JSON value that is not a string becomes text: numbers and booleans as
  Python writes them (``5432``, ``True``), lists and objects as JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

RESERVED_PREFIX = "GRANGE_"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: Values shorter than this are not looked for in logs and artifacts (a
#: three-character "secret" would mask every occurrence of common words).
MIN_SECRET_LENGTH = 4

#: What JSON booleans and null become: settings, never secret text.
NOT_SECRET_TEXT = frozenset({"True", "False", "None"})


class ValuesError(ValueError):
    """A provider's answer cannot become environment variables; ``fix`` says why."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def sanitize_key(key: str) -> str:
    """The variable name of a key: ``db-password`` -> ``db_password``."""
    return key.replace("-", "_").replace(".", "_").replace("/", "_")


def as_text(value: object) -> str:
    """A JSON value as an environment variable's text."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@dataclass
class SecretEnv:
    """Variables collected from every source of a step, with where each came from."""

    values: dict[str, str] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # variable -> source label

    def add(self, label: str, pairs: Mapping[str, object]) -> None:
        """Add one source's ``key: value`` pairs (keys not yet sanitized)."""
        mine: dict[str, str] = {}
        for key, value in pairs.items():
            if not isinstance(key, str):
                raise ValuesError(
                    f"it holds a key that is not a string ({type(key).__name__})",
                    "give every key of the secret as a string",
                )
            name = sanitize_key(key)
            if not _NAME.fullmatch(name):
                raise ValuesError(
                    f"its key {key!r} does not make a valid environment variable name",
                    "use keys of letters, digits and _ (- . / become _), not starting with a digit",
                )
            if name.startswith(RESERVED_PREFIX):
                raise ValuesError(
                    f"its key {key!r} would set {name}: names starting with "
                    f"{RESERVED_PREFIX} are grange's own settings",
                    "rename the key in the secret",
                )
            if name in mine:
                raise ValuesError(
                    f"two of its keys become the variable {name}",
                    "rename one of them in the secret (- . / all become _)",
                )
            text = as_text(value)
            if "\x00" in text:
                raise ValuesError(
                    f"the value of {name} holds a NUL character, which no environment variable can",
                    "store binary values base64-encoded",
                )
            mine[name] = text
        for name in mine:
            if name in self.values:
                raise ValuesError(
                    f"it sets {name}, which source '{self.origin[name]}' sets too",
                    "remove the key from one of the secrets, or read it from one source only",
                )
        for name, text in mine.items():
            self.values[name] = text
            self.origin[name] = label

    def clashes(self, environ: Mapping[str, str]) -> list[str]:
        """Variables that ``environ`` has already."""
        return sorted(name for name in self.values if name in environ)


def secret_texts(values: Iterable[str]) -> list[str]:
    """The texts to hide in logs and refuse in artifacts, longest first.

    Each value, and for one with quotes, backslashes or control characters
    also the form ``repr()`` and JSON give it (a printed dict shows that form).
    """
    texts: set[str] = set()
    for value in values:
        if len(value) < MIN_SECRET_LENGTH or value in NOT_SECRET_TEXT:
            continue
        texts.add(value)
        for escaped in (json.dumps(value)[1:-1], repr(value)[1:-1]):
            if escaped != value and len(escaped) >= MIN_SECRET_LENGTH:
                texts.add(escaped)
    return sorted(texts, key=lambda t: (-len(t), t))
