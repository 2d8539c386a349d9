"""The records of a step environment: the lock it was resolved to (:class:`EnvLock`) and
the environment built from it on this machine (:class:`PreparedEnv`).

A lock is what a run records and what ``resume``, a pod and a deploy rebuild from,
never resolving again. It is plain data, JSON-safe through :meth:`EnvLock.to_dict`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grange.exceptions import EnvError

LOCK_FORMAT = 1


@dataclass(frozen=True)
class EnvLock:
    """An environment resolved: exact versions (and hashes) for one Python and platform.

    ``kind``: "pypi" or "conda". ``key``: sha256 (hex) of the requirement set, the
    Python version and the platform (and index/channels): what the lock cache is keyed
    by. ``python``: the exact Python version resolved for (``"3.11.7"``). ``platform``:
    uv's ``--python-platform`` name (``"x86_64-manylinux_2_28"``) or a conda subdir
    (``"linux-64"``). ``text``: the lock file itself (uv's ``pylock.toml``, rattler's
    lock YAML). ``sha``: sha256 (hex) of ``text``; ``record_sha``: sha256 of
    everything but ``requested`` (both checked on load: an edited Python, platform,
    key or package list is a damaged lock). ``tool``: what
    resolved it (``"uv 0.13.9"``). ``packages``: one dict per package, at least
    ``name`` and ``version`` (and ``url``, ``sha256`` when known), sorted by name.
    ``requested``: what the decorators asked (``{"packages": {...}, "python": ...,
    "decorator": "@pypi", "channels": [...]}``).
    """

    kind: str
    key: str
    python: str
    platform: str
    text: str
    tool: str
    packages: tuple[dict[str, Any], ...] = ()
    requested: dict[str, Any] = field(default_factory=dict)

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def record_sha(self) -> str:
        """sha256 of the canonical JSON of everything but ``requested`` (what the step
        asked, as written: informative), the text's sha included."""
        return hashlib.sha256(_canonical(self._record()).encode()).hexdigest()

    def _record(self) -> dict[str, Any]:
        return {
            "format": LOCK_FORMAT,
            "type": self.kind,
            "key": self.key,
            "sha": self.sha,
            "python": self.python,
            "platform": self.platform,
            "tool": self.tool,
            "packages": [dict(p) for p in self.packages],
        }

    def summary(self) -> dict[str, Any]:
        """Everything but the lock file's text (what a run's claim records)."""
        return {
            "record_sha": self.record_sha,
            "format": LOCK_FORMAT,
            "type": self.kind,
            "key": self.key,
            "sha": self.sha,
            "python": self.python,
            "platform": self.platform,
            "tool": self.tool,
            "packages": [dict(p) for p in self.packages],
            "requested": dict(self.requested),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "text": self.text}

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "the lock") -> EnvLock:
        """The lock ``to_dict`` gave; damaged or foreign data is an :class:`EnvError`."""
        try:
            lock = cls(
                kind=str(data["type"]),
                key=str(data["key"]),
                python=str(data["python"]),
                platform=str(data["platform"]),
                text=str(data["text"]),
                tool=str(data.get("tool") or ""),
                packages=tuple(dict(p) for p in data.get("packages") or ()),
                requested=dict(data.get("requested") or {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise EnvError(
                f"{where} is not a grange environment lock ({type(err).__name__}: {err})",
                fix="run the flow again to resolve and record its environments",
            ) from None
        sha = data.get("sha")
        fix = "run the flow again to resolve and record its environments"
        if sha and sha != lock.sha:
            raise EnvError(
                f"{where} is damaged: its text's sha256 is {lock.sha}, it says {sha}",
                fix=fix,
            )
        if data.get("record_sha") != lock.record_sha:
            raise EnvError(
                f"{where} is damaged: its Python, platform, key or packages are not "
                "what was recorded (record_sha differs)",
                fix=fix,
            )
        return lock


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


@dataclass(frozen=True)
class PreparedEnv:
    """An environment built on this machine from ``lock``: ``prefix`` is its folder,
    ``python`` its interpreter, ``pythonpath`` what goes first on ``PYTHONPATH`` for a
    step to import grange (the running one, never downloaded) from inside it."""

    lock: EnvLock
    prefix: Path
    python: Path
    pythonpath: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolved:
    """What a backend (``pypi``/``conda``) returns from resolving: the lock file's
    ``text``, the ``tool`` that made it, the ``packages`` (name, version, url, sha256,
    sorted by name) and the exact ``python`` version the lock is for."""

    text: str
    tool: str
    packages: tuple[dict[str, Any], ...]
    python: str
