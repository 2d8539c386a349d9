"""What a deployment is compiled with, besides the flow: :class:`ArgoSettings`.

The CLI (``argo-workflows create``) and the ``Deployer`` fill it from their
options and the profile's ``[kubernetes]`` / ``[argo]`` sections; defaults are
Metaflow's where it has them (``--max-workers 100``, ``--max-num-splits``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grange.decorators.triggers import Schedule, Triggers
from grange.environments.package import PackageRef

DEFAULT_FOREACH_BATCH_SIZE = 1000
DEFAULT_MAX_NUM_SPLITS = 100_000
# Finished pods are removed once they succeeded (failed ones stay for `kubectl logs`);
# finished Workflows a week after they end. Their records stay in the datastore.
DEFAULT_POD_GC = "OnPodSuccess"
DEFAULT_TTL_SECONDS = 7 * 24 * 3600
# A CronWorkflow's overlapping runs: Allow is what Metaflow's CronWorkflows do (they set
# no policy, and Argo's default is Allow): a slow run never makes a tick be skipped.
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
DEFAULT_CONCURRENCY_POLICY = "Allow"
# A tick the controller missed (down, restarting) still runs if it is at most this late
# (Metaflow's 3540 s: just under an hour, so a missed hourly tick runs late, not twice).
DEFAULT_STARTING_DEADLINE = 3540
# Finished Workflows of a CronWorkflow kept by Argo (older ones are deleted; their
# records stay in the datastore): enough to read the recent runs in Argo's UI.
DEFAULT_SUCCESSFUL_HISTORY = 10
DEFAULT_FAILED_HISTORY = 20
# The Argo Events convention (docs/argo.md): one webhook EventSource carries every event.
DEFAULT_EVENT_SOURCE = "grange-events"
DEFAULT_EVENT_NAME = "grange-event"
DEFAULT_EVENT_BUS = "default"


@dataclass
class ArgoSettings:
    """Everything but the flow that decides the compiled manifests."""

    name: str | None = None  # template name (else derived: naming.workflow_name)
    namespace: str = "default"
    image: str | None = None
    datastore_root: str = ""  # str(DatastoreLocation): a local directory or an s3:// URL
    metadata: str = "local"
    package: PackageRef | None = None
    top_level_args: list[str] = field(default_factory=list)  # e.g. --branch x, --with ...
    max_workers: int = 100  # spec.parallelism
    workflow_timeout: int | None = None  # seconds, spec.activeDeadlineSeconds
    workflow_priority: int | None = None  # spec.priority
    foreach_batch_size: int = DEFAULT_FOREACH_BATCH_SIZE
    max_num_splits: int = DEFAULT_MAX_NUM_SPLITS
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # every step's environment
    service_account: str | None = None
    kubernetes: dict[str, Any] = field(default_factory=dict)  # the profile's [kubernetes]
    # ProjectInfo fields (project_name, branch_name, project_flow_name, is_production,
    # is_user_branch) from @project, or None.
    project: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    auto_emit_events: bool = True
    production: bool = False
    user: str = ""
    pod_gc: str = DEFAULT_POD_GC
    ttl_seconds: int | None = DEFAULT_TTL_SECONDS
    # IncludeFile parameters: name -> reference to the file stored in the datastore
    # (grange.datastore.included.store), the workflow argument's default.
    include_files: dict[str, Any] = field(default_factory=dict)
    # Parameter values given to create (name -> converted value): the deployment's defaults.
    parameter_values: dict[str, Any] = field(default_factory=dict)
    # @schedule (grange.decorators.triggers.schedule_of): a CronWorkflow
    schedule: Schedule | None = None
    concurrency_policy: str = DEFAULT_CONCURRENCY_POLICY
    starting_deadline_seconds: int = DEFAULT_STARTING_DEADLINE
    successful_history: int = DEFAULT_SUCCESSFUL_HISTORY
    failed_history: int = DEFAULT_FAILED_HISTORY
    # @trigger / @trigger_on_finish (triggers_of): an Argo Events Sensor
    triggers: Triggers | None = None
    event_source: str = DEFAULT_EVENT_SOURCE
    event_name: str = DEFAULT_EVENT_NAME
    event_bus: str = DEFAULT_EVENT_BUS
    sensor_service_account: str | None = None
    # Where the pods publish the run's end event (the webhook EventSource's URL)
    events_webhook_url: str | None = None
    # @pypi/@conda: step -> (lock URL, lock sha) of its environment, resolved for the
    # pods' platform and stored in the datastore (podenv.store_for_pods); and the
    # GRANGE_ENV_* variables those steps' pods get (podenv.pod_env).
    environments: dict[str, tuple[str, str]] = field(default_factory=dict)
    environment_env: dict[str, str] = field(default_factory=dict)

    def pod_defaults(self) -> dict[str, Any]:
        """``plan_pod``'s ``defaults``: the profile's [kubernetes] section, with the
        deployment's own image, namespace and service account on top."""
        defaults = dict(self.kubernetes)
        if self.image:
            defaults["image"] = self.image
        defaults["namespace"] = self.namespace
        if self.service_account:
            defaults["service_account"] = self.service_account
        return defaults
