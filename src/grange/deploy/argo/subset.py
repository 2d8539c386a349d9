"""The part of Argo's API the compiler emits, field by field.

A test holds every compiled manifest to this list, so a new field is a deliberate
change. The local executor in the tests (``tests/argo_executor``) implements this
subset and refuses anything else.
"""

from __future__ import annotations

WORKFLOW_SPEC = frozenset(
    {
        "activeDeadlineSeconds",
        "arguments",
        "entrypoint",
        "onExit",
        "parallelism",
        "podGC",
        "podMetadata",
        "priority",
        "serviceAccountName",
        "templateDefaults",
        "templates",
        "ttlStrategy",
        "volumes",
        "workflowMetadata",
        "workflowTemplateRef",  # a triggered Workflow
    }
)
TEMPLATE = frozenset(
    {
        "activeDeadlineSeconds",
        "container",
        "dag",
        "inputs",
        "metadata",
        "name",
        "nodeSelector",
        "outputs",
        "retryStrategy",
        "serviceAccountName",
        "tolerations",
        "volumes",
    }
)
DAG_TASK = frozenset(
    {"arguments", "depends", "name", "template", "when", "withParam", "withSequence"}
)
RETRY_STRATEGY = frozenset({"backoff", "limit", "retryPolicy"})
