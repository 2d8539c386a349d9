"""The rule of each path parameter of ``grange ui``: a name that breaks it is a 404.

Flow, step and artifact names are Python identifiers (what a flow class and
its methods can be called); run and task ids are what the store allocates or
a scheduler may choose (letters, digits, ``_ . : -``, never starting with a
dot); card slots are ``INDEX-TYPE[-ID]``; streams and attempts come from
allow-lists. Nothing else reaches the client layer, so no request can name a
path outside the store (``..``, ``/``, NUL, an absolute path).
"""

from __future__ import annotations

import re

from grange.exceptions import GrangeError

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")
_SLOT = re.compile(r"[0-9]{1,4}-[a-z0-9_]{1,64}(-[A-Za-z0-9_]{1,128})?")
_TAG_MAX = 512
STREAMS = ("stdout", "stderr")
MAX_ATTEMPT = 1000


class BadName(GrangeError):
    """A path or query parameter that breaks its rule (answered 404 or 400)."""

    exit_code = 2


class BadQuery(BadName):
    """A query parameter that breaks its rule: answered 400 (the address exists)."""


def identifier(value: str, what: str) -> str:
    if not (value.isidentifier() and value.isascii() and len(value) <= 200):
        raise BadName(f"{what} {value[:80]!r} is not a valid name")
    return value


def flow(value: str) -> str:
    return identifier(value, "flow")


def step(value: str) -> str:
    return identifier(value, "step")


def artifact(value: str) -> str:
    return identifier(value, "artifact")


def run_id(value: str) -> str:
    if not _ID.fullmatch(value) or ".." in value:
        raise BadName(f"run id {value[:80]!r} is not a valid id")
    return value


def task_id(value: str) -> str:
    if not _ID.fullmatch(value) or ".." in value:
        raise BadName(f"task id {value[:80]!r} is not a valid id")
    return value


def slot(value: str) -> str:
    if not _SLOT.fullmatch(value):
        raise BadName(f"card {value[:80]!r} is not a card slot (INDEX-TYPE[-ID])")
    return value


def stream(value: str) -> str:
    if value not in STREAMS:
        raise BadName(f"log stream {value[:20]!r}: use stdout or stderr")
    return value


def attempt(value: str | None) -> int | None:
    """``None`` (the latest), else a whole number from 0 to :data:`MAX_ATTEMPT`."""
    if value is None or value == "":
        return None
    if not _digits(value) or int(value) > MAX_ATTEMPT:
        raise BadQuery(f"attempt {value[:20]!r} is not a whole number from 0 to {MAX_ATTEMPT}")
    return int(value)


def number(value: str | None, what: str, *, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    if not _digits(value) or not low <= int(value) <= high:
        raise BadQuery(f"{what} {value[:20]!r} is not a whole number from {low} to {high}")
    return int(value)


def _digits(value: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes ``²`` and other scripts' digits),
    and few enough that ``int`` is cheap."""
    return value.isascii() and value.isdigit() and len(value) <= 20


def tag(value: str) -> str:
    """A tag typed in a form or a filter: printable, not too long (the store checks
    the rest when it is written)."""
    if not value or len(value) > _TAG_MAX or not value.isprintable():
        raise BadName(f"{value[:80]!r} is not a tag (printable text, up to {_TAG_MAX} characters)")
    return value
