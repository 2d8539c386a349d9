"""The profile in force in this process, for checks made deep inside a task.

A run exports ``GRANGE_PROFILE`` and ``GRANGE_CONFIG`` to its tasks
(:meth:`Effective.child_env`), so a task finds the same profile without a
command line. It is resolved on first use and kept for the process (keyed by
process id and those variables: a forked task resolves again, once).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from grange.config.load import CONFIG_ENV, CONFIG_TEXT_ENV
from grange.config.policy import check_s3_policy
from grange.config.resolve import PROFILE_ENV, ROOT_ENV, Effective, resolve

_KEY_VARIABLES = (PROFILE_ENV, CONFIG_ENV, CONFIG_TEXT_ENV, ROOT_ENV, "HOME")
_cache: dict[tuple[object, ...], Effective] = {}


def active(env: Mapping[str, str] | None = None) -> Effective:
    """The effective settings of this process's profile (none: an empty policy)."""
    env = os.environ if env is None else env
    key = (os.getpid(), *(env.get(name) for name in _KEY_VARIABLES))
    found = _cache.get(key)
    if found is None:
        found = resolve(None, env)
        _cache.clear()
        _cache[key] = found
    return found


def check_s3_access(url: str, write: bool = False, *, env: Mapping[str, str] | None = None) -> None:
    """Raise :class:`~grange.exceptions.PolicyError` unless the profile in force lets
    steps read (``write=False``) or write ``url`` (``s3://bucket/key``) through
    ``grange.S3``. Cheap after the first call of a process."""
    effective = active(env)
    if effective.policy.is_empty:
        return
    root = effective.datastore_root.value
    check_s3_policy(
        effective.policy, url, write=write, datastore_root=root if isinstance(root, str) else None
    )
