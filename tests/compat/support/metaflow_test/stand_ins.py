"""Stand-ins for Metaflow exception classes that grange has no equivalent of."""

from __future__ import annotations


class ExternalCommandFailed(Exception):
    """An exception with its own constructor and state, like Metaflow's, to test pickling."""

    headline = "External command failed"

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.message = msg

    def __str__(self) -> str:
        return self.message
