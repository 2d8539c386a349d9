"""grange's own requirements on the packages a task imports from a step's environment
(``click``, ``pathspec``), read from grange's metadata, and a small version check
(``>=``, ``>``, ``<=``, ``<``, ``==``, ``!=`` on release numbers): enough for these
pins, without a dependency on ``packaging``."""

from __future__ import annotations

import functools
import re

_CLAUSE = re.compile(r"^\s*(===|==|!=|~=|<=|>=|<|>)\s*([0-9][0-9a-zA-Z.*+!-]*)\s*$")
_FALLBACK = {"click": ">=8.2", "pathspec": ">=0.12"}
CHECKED = tuple(_FALLBACK)  # tomli: only on Pythons before 3.11, ">=2" added anyway


@functools.lru_cache(maxsize=1)
def task_requirements() -> dict[str, str]:
    """``{name: specifier}`` of grange's task dependencies (``{"click": ">=8.2"}``)."""
    from importlib.metadata import PackageNotFoundError, requires

    found: dict[str, str] = {}
    try:
        lines = requires("grange") or []
    except PackageNotFoundError:
        lines = []
    for line in lines:
        text = line.split(";", 1)[0].strip()
        match = re.match(r"^([A-Za-z0-9._-]+)\s*(.*)$", text)
        if match is None or "extra ==" in line:
            continue
        name = match[1].lower().replace("_", "-")
        if name in CHECKED and match[2]:
            found[name] = match[2].replace(" ", "")
    return {**_FALLBACK, **found}


def satisfies(version: str, specifier: str) -> bool:
    """``version`` meets every clause of ``specifier`` (unknown clauses pass)."""
    have = _release(version)
    for clause in filter(None, specifier.split(",")):
        match = _CLAUSE.match(clause)
        if match is None or have is None:
            continue
        op, want_text = match[1], match[2]
        if "*" in want_text:
            continue
        want = _release(want_text)
        if want is None:
            continue
        width = max(len(have), len(want))
        a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        ok = {
            ">=": a >= b,
            ">": a > b,
            "<=": a <= b,
            "<": a < b,
            "==": a == b,
            "===": a == b,
            "!=": a != b,
            "~=": a >= b and a[: len(want) - 1] == b[: len(want) - 1],
        }[op]
        if not ok:
            return False
    return True


def _release(version: str) -> tuple[int, ...] | None:
    match = re.match(r"^\s*v?(\d+(?:\.\d+)*)", version)
    return tuple(int(p) for p in match[1].split(".")) if match else None
