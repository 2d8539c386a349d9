"""Executing ONE task: load its inputs, run the step, persist what it set, record the attempt.

The same code runs in a forked local worker, in ``python flow.py step ...``,
in a Kubernetes pod and in an Argo container.
"""

from grange.task.spec import Frame, TaskSpec

__all__ = ["Frame", "TaskSpec"]
