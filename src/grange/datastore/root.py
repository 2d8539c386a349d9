"""Which directory is the datastore root.

The order, first match wins:

1. the ``--datastore-root`` flag (``explicit``);
2. the ``GRANGE_DATASTORE_ROOT`` environment variable;
3. the nearest existing ``.grange/`` directory in ``start`` or one of its
   parents, the way git finds ``.git``: running a flow from a subdirectory
   of a project uses the project's store;
4. ``start/.grange``, which the caller creates when it first writes.

This is a pure function: the environment is passed in and nothing is read
when the module is imported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "GRANGE_DATASTORE_ROOT"
DIRNAME = ".grange"


def find_datastore_root(start: Path, explicit: str | None, env: Mapping[str, str]) -> Path:
    """The absolute datastore root for a command started in ``start``.

    Relative ``explicit`` or environment paths are taken relative to
    ``start``; ``~`` is expanded. Empty strings count as not given.
    """
    start = Path(start).absolute()
    for given in (explicit, env.get(ENV_VAR)):
        if given:
            path = Path(os.path.expanduser(given))
            return path if path.is_absolute() else start / path
    for folder in (start, *start.parents):
        candidate = folder / DIRNAME
        if candidate.is_dir():
            return candidate
    return start / DIRNAME
