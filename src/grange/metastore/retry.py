"""Running a transaction again when PostgreSQL asks for it: serialization failures, deadlocks.

Under load PostgreSQL may abort a transaction that did nothing wrong: a
deadlock between two writers (``40P01``), or, on a server whose default
isolation is ``REPEATABLE READ`` or ``SERIALIZABLE``, a serialization failure
(``40001``). Nothing of it was committed and the server's advice is to run it
again. Each public method of :class:`~grange.metastore.store.MetadataStore`
is exactly one transaction, so :func:`retrying` runs the whole method again,
after a short random pause that grows with each try, at most
:data:`MAX_TRIES` times in all; then a :class:`~grange.exceptions.MetadataError`
says so. SQLite never asks (its writers queue on one lock).
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from grange.exceptions import MetadataError

MAX_TRIES = 8
F = TypeVar("F", bound=Callable[..., Any])


class RetryTransaction(Exception):
    """Raised by a store's transaction that the server aborted and asks to run again."""

    def __init__(self, reason: str, where: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where


def pause(tries: int) -> float:
    """Seconds to wait before try ``tries + 1``: random, up to 10 ms * 2^tries, at most 1 s."""
    return random.uniform(0, min(1.0, 0.01 * 2**tries))


def retrying(method: F) -> F:
    """Run ``method`` (one transaction) again while it raises :class:`RetryTransaction`."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        tries = 0
        while True:
            try:
                return method(*args, **kwargs)
            except RetryTransaction as err:
                tries += 1
                if tries >= MAX_TRIES:
                    raise MetadataError(
                        f"the metadata database {err.where} aborted the same transaction "
                        f"{tries} times ({err.reason})",
                        fix="too many grange processes write at once: run the command again, "
                        "or start fewer runs at the same time",
                    ) from None
                time.sleep(pause(tries))

    return cast(F, run)
