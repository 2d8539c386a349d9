"""The client: read runs, their steps, tasks, artifacts and logs; tag runs.

The object model follows Metaflow's client, so existing notebooks work::

    from grange import Flow, namespace
    run = Flow("TrainFlow").latest_successful_run
    run.data.model                      # the end step's artifacts
    run["train"].task.stdout            # what a step printed
    run.add_tag("approved")

``Metaflow()`` > ``Flow("F")`` > ``Run("F/3")`` > ``Step("F/3/train")`` >
``Task("F/3/train/4")`` > ``DataArtifact("F/3/train/4/model")``: each is built
from its pathspec or reached from its parent (``run["train"]``), and lists its
children by iteration. Only runs in the current namespace (default
``user:<you>``) are visible; ``namespace(None)`` shows all.

This layer only reads the metadata index and the datastore (and writes run
tags); it knows nothing of the runtime. Modules: :mod:`~grange.client.config`
(which store, which namespace), :mod:`~grange.client.base` (what every object
shares), then one module per object.
"""

from grange.client.artifact import DataArtifact
from grange.client.config import (
    default_metadata,
    default_namespace,
    get_metadata,
    get_namespace,
    metadata,
    namespace,
)
from grange.client.data import Metadata, TaskData, TaskException
from grange.client.flow import Flow, Metaflow
from grange.client.run import Run
from grange.client.spin import inspect_spin
from grange.client.step import Step
from grange.client.task import Task
from grange.exceptions import InvalidPathspec, NamespaceMismatch, ObjectNotFound

__all__ = [
    "DataArtifact",
    "Flow",
    "InvalidPathspec",
    "Metadata",
    "Metaflow",
    "NamespaceMismatch",
    "ObjectNotFound",
    "Run",
    "Step",
    "Task",
    "TaskData",
    "TaskException",
    "default_metadata",
    "default_namespace",
    "get_metadata",
    "get_namespace",
    "inspect_spin",
    "metadata",
    "namespace",
]
