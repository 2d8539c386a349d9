"""Step environments: resolve a requirement set to a lock, build the lock into a cached
environment, store and load locks in the datastore. The one API the runtime, the pod
bootstrap and the compilers use (docs/environments.md).

- :func:`resolve`: an :class:`EnvSpec` to an :class:`EnvLock`, with uv (``pypi``) or
  py-rattler (``conda``); a lock already in the cache for the same key is returned
  without any network.
- :func:`build`: a lock to a :class:`PreparedEnv` under ``<cache>/envs/<lock sha>``,
  built once (atomically: a half-built environment is never used) and reused by every
  run and flow.
- :func:`prepare`: both (``lock=`` given: no resolution, as ``resume`` and pods do).
- :func:`store_lock` / :func:`load_lock`: a lock in the datastore, content-addressed.

Backends (one module each, called only from here): ``grange.environments.pypi`` and
``grange.environments.conda`` each provide
``lock(spec, settings, *, python: str | None, platform: str) -> Resolved`` and
``install(lock, settings, target: Path) -> Path`` (builds into the empty folder
``target``, returns its interpreter). The key, the lock and env caches, the atomic
rename and the shim for grange are this module's.

GROUNDWORK STUB: the helpers fill these in; signatures are the contract.
"""

from __future__ import annotations

from typing import Any

from grange.decorators.options import EnvSpec
from grange.environments.envlock import EnvLock, PreparedEnv
from grange.environments.settings import EnvSettings


def resolve(spec: EnvSpec, settings: EnvSettings, *, platform: str | None = None) -> EnvLock:
    """The lock of ``spec`` for ``platform`` (None: this machine's). Errors: EnvError naming
    the step and decorator (``spec.step``, ``spec.decorator``, ``spec.file``/``line``)."""
    raise NotImplementedError


def build(lock: EnvLock, settings: EnvSettings) -> PreparedEnv:
    """The environment of ``lock`` on this machine, built once and cached."""
    raise NotImplementedError


def prepare(spec: EnvSpec, settings: EnvSettings, *, lock: EnvLock | None = None) -> PreparedEnv:
    """``build(lock or resolve(spec, settings), settings)``."""
    raise NotImplementedError


def store_lock(blobs: Any, lock: EnvLock) -> str:
    """Store ``lock`` in the datastore (``blobs``: a BlobStore) at
    ``envs/locks/<sha>.json`` unless there already; return that key."""
    raise NotImplementedError


def load_lock(blobs: Any, key: str) -> EnvLock:
    """The lock stored at ``key``, checked against its sha; EnvError when missing/damaged."""
    raise NotImplementedError
