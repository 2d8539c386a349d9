"""The task side of a ``@parallel`` gang: ``current.parallel`` and its environment.

The runtime puts ``{"control_task_id": ..., "main_ip": ...}`` in the spec's
``extra["parallel"]`` of every task of a gang; the task's position in the
gang is its last split frame (index = node index, count = number of nodes).
The same facts are exported as environment variables, under grange's names
and under Metaflow's (``MF_PARALLEL_*``), for code (or libraries) that read
them, e.g. to set up ``torch.distributed``.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from grange.datastore import ForeachRef, save_items
from grange.exceptions import TooManySplitsError
from grange.task.spec import TaskSpec
from grange.task.stores import TaskStores

MAIN_IP = "127.0.0.1"  # the local runtime: every node of a gang runs on this machine


class Parallel(NamedTuple):
    """``current.parallel``: where this task sits in its gang."""

    main_ip: str
    num_nodes: int
    node_index: int
    control_task_id: str | None


def gang_facts(spec: TaskSpec) -> dict[str, Any]:
    """The ``current`` facts of a gang task, after exporting them to the environment."""
    info = spec.extra["parallel"]
    frame = spec.frames[-1]
    facts = Parallel(
        main_ip=str(info.get("main_ip") or MAIN_IP),
        num_nodes=frame.count,
        node_index=frame.index,
        control_task_id=info.get("control_task_id"),
    )
    env = {
        "MAIN_IP": facts.main_ip,
        "NUM_NODES": str(facts.num_nodes),
        "NODE_INDEX": str(facts.node_index),
        "CONTROL_TASK_ID": str(facts.control_task_id),
    }
    for prefix in ("GRANGE_PARALLEL_", "MF_PARALLEL_"):
        os.environ.update({prefix + k: v for k, v in env.items()})
    return {"parallel": facts, "is_parallel": True}


def save_gang(
    num_parallel: int,
    spec: TaskSpec,
    stores: TaskStores,
    limit: int,
    *,
    where: tuple[str, int | None] = ("", None),
) -> ForeachRef:
    """The split of a gang, stored like a foreach over ``range(num_parallel)``, so that
    ``self.input == self.index == current.parallel.node_index``, as in Metaflow."""
    if num_parallel > limit:
        raise TooManySplitsError(
            f"self.next(..., num_parallel={num_parallel}) asks for a gang of {num_parallel:,} "
            f"tasks, more than the limit of {limit:,}",
            file=where[0] or None,
            line=where[1],
            step=spec.step,
            fix="raise the limit with --max-num-splits (e.g. run --max-num-splits N); every "
            "task of a gang runs on this machine at once",
        )
    return save_items(stores.blobs, spec.flow, range(num_parallel), max_items=limit)
