"""Hiding secret texts: in strings, and in a byte stream that arrives in pieces."""

from __future__ import annotations

import re
from collections.abc import Sequence

MASK = "****"


class Redactor:
    """Replaces each of ``texts`` (longest first) with ``****``."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)
        self.raw = [t.encode("utf-8") for t in self.texts]
        self._str = re.compile("|".join(re.escape(t) for t in self.texts)) if texts else None
        self._bytes = re.compile(b"|".join(re.escape(t) for t in self.raw)) if texts else None

    def __bool__(self) -> bool:
        return bool(self.texts)

    def text(self, value: str) -> str:
        return self._str.sub(MASK, value) if self._str is not None else value

    def data(self, value: bytes) -> bytes:
        return self._bytes.sub(MASK.encode(), value) if self._bytes is not None else value

    def first_in(self, value: str) -> int | None:
        """Index (in ``texts``) of a text that ``value`` holds, or None."""
        if self._str is None:
            return None
        match = self._str.search(value)
        return None if match is None else self.texts.index(match.group(0))

    def first_in_data(self, value: bytes | bytearray | memoryview) -> int | None:
        """Index (in ``texts``) of a text that the bytes ``value`` hold, or None."""
        if self._bytes is None:
            return None
        match = self._bytes.search(value)
        return None if match is None else self.raw.index(match.group(0))

    def held(self, data: bytes) -> int:
        """How many bytes at the end of ``data`` could begin a text (to keep back)."""
        keep = 0
        for raw in self.raw:
            first = raw[:1]
            start = max(len(data) - len(raw) + 1, 0)
            pos = data.find(first, start)
            while pos != -1:
                if raw.startswith(data[pos:]):
                    keep = max(keep, len(data) - pos)
                    break
                pos = data.find(first, pos + 1)
        return keep


class StreamRedactor:
    """Redacts a stream fed in chunks: what it returns never shows a text,
    even one split across chunks (the start of a possible text is held back)."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self.redactor.data(self._pending + chunk)
        keep = self.redactor.held(data)
        self._pending = data[len(data) - keep :] if keep else b""
        return data[: len(data) - keep]

    def flush(self) -> bytes:
        out, self._pending = self._pending, b""
        return out
