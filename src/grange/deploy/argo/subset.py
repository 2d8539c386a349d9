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

# @schedule: a CronWorkflow running the template
CRON_SPEC = frozenset(
    {
        "concurrencyPolicy",
        "failedJobsHistoryLimit",
        "schedules",
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "timezone",
        "workflowSpec",
    }
)
# @trigger / @trigger_on_finish: an Argo Events Sensor creating a Workflow
SENSOR_SPEC = frozenset({"dependencies", "eventBusName", "replicas", "template", "triggers"})
SENSOR_DEPENDENCY = frozenset({"eventName", "eventSourceName", "filters", "name"})
SENSOR_FILTERS = frozenset({"exprs"})
SENSOR_TRIGGER_TEMPLATE = frozenset({"conditionsReset", "k8s", "name"})
K8S_TRIGGER = frozenset({"operation", "parameters", "source"})
TRIGGER_PARAMETER_SOURCE = frozenset({"dataKey", "dataTemplate", "dependencyName", "value"})
