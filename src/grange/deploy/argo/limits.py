"""Argo's size limits, budgeted when a flow is compiled (docs/argo.md derives them).

- etcd stores one object in at most ~1.5 MiB and the API server takes requests
  of at most 3 MiB, but Argo's controller refuses a Workflow past 1 MiB
  (``MAX_WORKFLOW_SIZE``) and every run copies the template's spec into its
  status (``storedWorkflowTemplateSpec``), next to the status of every node.
  So the template gets a quarter of that megabyte, :data:`MAX_TEMPLATE_BYTES`,
  and the rest is left to the run's node statuses.
- A foreach's width is data, not template: it is fanned out in batches of at
  most ``foreach_batch_size`` items (the split's ``batches`` output is one
  ``{"start": s, "end": e}`` object per batch), so even ``max_num_splits``
  items make a small output parameter (:data:`MAX_OUTPUT_PARAMETER_BYTES`).
"""

from __future__ import annotations

import json
import math

from grange.deploy.argo.settings import ArgoSettings
from grange.exceptions import CompileError
from grange.graph.model import FlowGraph

WORKFLOW_SIZE_LIMIT = 1024 * 1024  # Argo's MAX_WORKFLOW_SIZE (status included)
MAX_TEMPLATE_BYTES = WORKFLOW_SIZE_LIMIT // 4  # 256 KiB: 3/4 left for a run's status
# Argo keeps output parameters in the node status; 256 KiB is the size it documents
# as safe for one. A batches list stays far below it.
MAX_OUTPUT_PARAMETER_BYTES = 256 * 1024
MAX_BATCH_SIZE = 10_000  # withSequence nodes one batch DAG creates at once
_BATCH_ENTRY = len(json.dumps({"start": 99_999_999, "end": 99_999_999}, separators=(",", ":")))


def batches_bytes(width: int, batch_size: int) -> int:
    """Bytes of a split's ``batches`` output for ``width`` items (an upper bound)."""
    count = max(1, math.ceil(width / batch_size))
    return 2 + count * (_BATCH_ENTRY + 1)


def check_settings(settings: ArgoSettings, graph: FlowGraph) -> None:
    if not 1 <= settings.foreach_batch_size <= MAX_BATCH_SIZE:
        raise CompileError(
            f"--foreach-batch-size {settings.foreach_batch_size} is out of range: a batch "
            f"is 1 to {MAX_BATCH_SIZE} items",
            fix="use the default (1000) unless a cluster's limits need another size",
        )
    if settings.max_num_splits < 1:
        raise CompileError(
            f"--max-num-splits {settings.max_num_splits} must be at least 1",
            fix="use the default (100000) or a positive bound",
        )
    if settings.max_workers < 1:
        raise CompileError(
            f"--max-workers {settings.max_workers} must be at least 1",
            fix="give the number of pods that may run at once, e.g. --max-workers 100",
        )
    size = batches_bytes(settings.max_num_splits, settings.foreach_batch_size)
    if size > MAX_OUTPUT_PARAMETER_BYTES:
        raise CompileError(
            f"a foreach of --max-num-splits {settings.max_num_splits} items in batches of "
            f"{settings.foreach_batch_size} makes a {size}-byte batches list, more than "
            f"the {MAX_OUTPUT_PARAMETER_BYTES} bytes an Argo output parameter may hold",
            file=graph.file,
            line=graph.line,
            fix="raise --foreach-batch-size or lower --max-num-splits",
        )


def check_template_size(size: int, graph: FlowGraph) -> None:
    if size > MAX_TEMPLATE_BYTES:
        raise CompileError(
            f"the compiled WorkflowTemplate is {size} bytes, more than the "
            f"{MAX_TEMPLATE_BYTES} grange allows (a run copies it into its status, and "
            f"Argo refuses a Workflow past {WORKFLOW_SIZE_LIMIT} bytes)",
            file=graph.file,
            line=graph.line,
            fix="shorten large parameter defaults, labels, annotations or environment "
            "values, or split the flow into smaller flows",
        )
