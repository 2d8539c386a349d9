"""The local runtime: scheduling, worker processes, run and resume."""

from grange.runtime.run import RunRequest, execute

__all__ = ["RunRequest", "execute"]
