"""How a failure of uv reads to a user (split from :mod:`grange.environments.pypi`):
uv's ``error:``/``cause:``/``hint:`` lines kept and trimmed, a network failure or an
offline cache miss said in plain words, the step's decorator and place named."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError

if TYPE_CHECKING:
    from grange.decorators.options import EnvSpec

MAX_MESSAGE_LINES = 15

_NETWORK = (
    "could not resolve host",
    "failed to connect",
    "request failed",
    "dns error",
    "failed to lookup address",
    "tcp connect error",
    "connection refused",
    "connection reset",
    "timed out",
    "error sending request",
    "network is unreachable",
    "certificate",
)
_OFFLINE = ("network was disabled", "network connectivity is disabled")


def _failure(
    stderr: str,
    spec: EnvSpec | None,
    settings: EnvSettings,
    what: str,
    fix: str = "change the packages or versions asked for (uv's explanation above)",
) -> EnvError:
    """uv's failure as an :class:`EnvError`: its ``error:``/``cause:``/``hint:`` lines
    kept (trimmed), a network failure or an offline cache miss said in plain words, a
    password in an index URL masked."""
    from grange.config.mask import mask_text

    err = _explain(stderr, spec, settings, what, fix)
    err.message = mask_text(err.message)
    err.args = (err.message,)
    return err


def _explain(
    stderr: str,
    spec: EnvSpec | None,
    settings: EnvSettings,
    what: str,
    fix: str = "change the packages or versions asked for (uv's explanation above)",
) -> EnvError:
    detail = trimmed(stderr)
    lowered = stderr.lower()
    where: dict[str, Any] = {}
    label = "@pypi"
    if spec is not None:
        where = {"file": spec.file, "line": spec.line, "step": spec.step or None}
        label = spec.decorator or "@pypi"
    if "no interpreter found" in lowered:
        return EnvError(
            f"{label}: {what}: the Python it needs is not on this machine:\n{detail}",
            fix="install that Python or put it on PATH (grange never downloads one), "
            f"or drop python= from {label}",
            **where,
        )
    if any(word in lowered for word in _OFFLINE):
        return EnvError(
            f"{label}: {what}: offline ([environments] offline = true or "
            f"GRANGE_ENV_OFFLINE=1) and the package cache {settings.cache_dir / 'uv'} "
            f"does not hold everything needed:\n{detail}",
            fix="run once with the network on to fill the cache (offline = false), or "
            "point find_links in [environments] at a folder of wheels",
            **where,
        )
    if any(word in lowered for word in _NETWORK):
        index = settings.index_url or "https://pypi.org/simple"
        direct = _direct_failed(stderr, spec)
        from grange.environments.pypi import masked

        if direct:  # a direct URL or git repository, not the index
            return EnvError(
                f"{label}: {what}: cannot reach {masked(direct[0])}:\n{detail}",
                fix="check the network and that URL in the step's packages",
                **where,
            )
        return EnvError(
            f"{label}: {what}: no network to the package index {index}:\n{detail}",
            fix="check the network, or set index_url in the profile's [environments] "
            "table to an index you can reach, or use the environment cache only with "
            "offline = true there (once it holds the packages)",
            **where,
        )
    return EnvError(f"{label}: {what}:\n{detail}", fix=fix, **where)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _direct_failed(stderr: str, spec: EnvSpec | None) -> list[str]:
    """The direct URLs (``"@ https://..."``, ``git+...``) of ``spec`` that uv's
    ``stderr`` names: a network failure there is not the index's."""
    if spec is None:
        return []
    from grange.environments.pypi import URL  # imported late: pypi imports this module

    text = _ANSI.sub("", stderr)
    found = []
    for _, version in spec.packages:
        match = URL.match(str(version or "").strip())
        if match is None:
            continue
        url = match["url"]
        if url in text or url.removeprefix("git+") in text:
            found.append(url)
    return found


def trimmed(stderr: str, limit: int = MAX_MESSAGE_LINES) -> str:
    """uv's message: no colours, no progress, no blank lines, at most ``limit`` lines
    of at most 300 characters, indented under grange's."""
    lines = [
        _ANSI.sub("", line).rstrip()
        for line in stderr.splitlines()
        if line.strip() and not line.lstrip().startswith(("Resolved ", "Using ", "warning:"))
    ]
    if len(lines) > limit:
        lines = [*lines[: limit - 1], f"... ({len(lines) - limit + 1} more lines)"]
    cut = [line if len(line) <= 300 else line[:297] + "..." for line in lines]
    return "\n".join(f"  {line}" for line in cut) or "  (uv said nothing)"
