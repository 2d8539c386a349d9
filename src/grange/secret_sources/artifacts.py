"""Refusing artifacts that hold a secret value.

A step with ``@secrets`` may not save an artifact that is, or holds, one of
its secret texts: a string or bytes value is searched directly; any other
value is searched in the bytes pickle writes for it, which hold every string
inside it (dict values, list items, attributes of objects, object columns of
a data frame) as UTF-8. Buffers pickled out of band (the memory of NumPy
arrays, Arrow columns) are not searched: they hold numbers, where a short
text would be found by chance.
"""

from __future__ import annotations

import pickle

from grange.exceptions import SecretError
from grange.secret_sources.redact import Redactor


class SecretInArtifactError(SecretError):
    """An artifact holds a secret value, and is not stored."""

    headline = "Secret value refused"


class _Scan:
    """A file for the pickler that searches what it is given, across frame borders."""

    def __init__(self, redactor: Redactor, overlap: int) -> None:
        self.redactor = redactor
        self.overlap = overlap
        self.tail = b""
        self.found: int | None = None

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data).cast("B")
        if self.found is None and self.overlap:
            border = self.tail + bytes(view[: self.overlap])
            self.found = self.redactor.first_in_data(border)
            if self.found is None:
                self.found = self.redactor.first_in_data(view)
            if len(view) >= self.overlap:
                self.tail = bytes(view[-self.overlap :])
            else:
                self.tail = (self.tail + bytes(view))[-self.overlap :]
        elif self.found is None:
            self.found = self.redactor.first_in_data(view)
        return view.nbytes


def secret_in(value: object, redactor: Redactor) -> str | None:
    """The secret text ``value`` holds (so that the caller can name its variable), or None.

    A value that cannot be pickled is not judged here: saving it fails anyway.
    """
    if not redactor:
        return None
    if isinstance(value, str):
        index = redactor.first_in(value)
        return None if index is None else redactor.texts[index]
    if isinstance(value, (bytes, bytearray, memoryview)):
        index = redactor.first_in_data(value)
        return None if index is None else redactor.texts[index]
    scan = _Scan(redactor, max(len(r) for r in redactor.raw) - 1)
    try:
        pickle.Pickler(scan, protocol=5, buffer_callback=lambda _buf: False).dump(value)
    except Exception:
        return None
    return None if scan.found is None else redactor.texts[scan.found]
