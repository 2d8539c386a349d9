"""A test-only local executor of the Argo Workflows subset grange's compiler emits.

Given a WorkflowTemplate (and the Workflow a trigger submits from it:
``workflowTemplateRef`` + ``arguments``), :func:`run_workflow` runs each
container's command on this host (``python`` -> the test's interpreter, the
container's env, emptyDir mounts mapped to temporary folders in the args, env
and output paths; ``fieldRef`` env values from the downward API: the pod's name,
namespace and uid, and ``status.podIP`` = 127.0.0.1) with Argo's semantics:

- DAG ``depends`` (``t.Succeeded/Failed/Errored/Skipped/Omitted/Completed``,
  ``AnySucceeded/AllFailed``, ``&& || !``, parentheses; a bare ``t`` as Argo
  reads it); ``when`` (the govaluate subset); ``failFast`` (default true);
- ``withParam`` (a JSON list; ``{{item}}``, ``{{item.key}}``), ``withItems``,
  ``withSequence`` (``start``/``end`` inclusive, or ``count``), each item a
  child node run concurrently; nested DAG templates;
- parameters: workflow arguments (the Workflow's override the template's),
  template inputs (value/default), task arguments, container outputs from
  ``valueFrom.path`` (missing file: the node errs unless a default is given),
  DAG outputs from ``valueFrom.parameter``;
- ``{{workflow.name|uid|namespace|creationTimestamp|parameters.X|status}}``,
  ``{{inputs.parameters.X}}``, ``{{tasks.X.outputs.parameters.Y}}``, ``{{tasks.X.status}}``,
  ``{{item}}``, ``{{retries}}``;
- ``retryStrategy`` (``limit``, ``retryPolicy``, ``backoff`` duration/factor/
  maxDuration, scaled by ``time_scale``) on container templates and, as Argo,
  on DAG templates (each attempt a child DAG node ``name(n)`` running every task
  again, ``{{retries}}`` = n in its tasks' arguments); template ``activeDeadlineSeconds``
  (the process group is killed), spec ``activeDeadlineSeconds``, spec
  ``parallelism`` (pods at once), ``templateDefaults`` (merged under each
  template), ``onExit``.

CronWorkflows (:func:`fire_cron`: one tick) and Argo Events Sensors
(:class:`SensorRunner`: filters, AND of dependencies, parameter mapping, reset)
are in :mod:`.events`; :class:`WebhookSource` (:mod:`.webhook`) is a webhook
EventSource on loopback feeding Sensors.

Anything else is refused (:class:`Refused`), never ignored; fields that only
place a pod on a cluster (image, resources, node selection, metadata) are
accepted as no-ops (see :mod:`.refuse`).
"""

from .engine import run_workflow
from .events import SensorRunner, cron_workflow_run, fire_cron
from .expressions import ExpressionError, eval_depends, eval_when, substitute
from .nodes import Node, WorkflowResult
from .refuse import Refused
from .webhook import WebhookSource

__all__ = [
    "ExpressionError",
    "Node",
    "Refused",
    "SensorRunner",
    "WebhookSource",
    "WorkflowResult",
    "cron_workflow_run",
    "eval_depends",
    "eval_when",
    "fire_cron",
    "run_workflow",
    "substitute",
]
