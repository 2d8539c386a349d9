"""Operating-system errors of the datastore, said in the user's terms.

A full disk and a read-only store are not bugs: they get a
:class:`~grange.exceptions.StoreFullError` or
:class:`~grange.exceptions.StoreReadOnlyError` that names what was being
written (an artifact and its step, a record, a log) and where.
"""

from __future__ import annotations

import errno

from grange.exceptions import DatastoreError, GrangeError, StoreFullError, StoreReadOnlyError

_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def write_error(err: OSError, what: str, where: str, *, step: str | None = None) -> GrangeError:
    """The error to raise when writing ``what`` (``artifact 'x'``) to ``where`` failed."""
    if err.errno in _FULL:
        return StoreFullError(
            f"{what} could not be saved: the disk holding {where} is full "
            f"({err.strerror}); nothing stored before was lost",
            step=step,
            fix="free some space there (or move the store with --datastore-root); "
            "then 'resume' re-runs only what did not finish",
        )
    if err.errno in _READ_ONLY:
        return StoreReadOnlyError(
            f"{what} could not be saved: {where} cannot be written ({err.strerror})",
            step=step,
            fix="run flows with a writable --datastore-root",
        )
    return DatastoreError(
        f"{what} could not be saved to {where}: {err.strerror or err}",
        step=step,
        fix="check the disk and the permissions of the datastore root",
    )
