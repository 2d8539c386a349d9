"""``@parallel``: the step runs as a gang of tasks started together.

``self.next(self.train, num_parallel=N)`` runs ``train`` as N tasks that the
runtime starts at the same time (gang scheduling), so that they can talk to
each other, e.g. for distributed training. Inside the step,
``current.parallel`` gives ``main_ip`` (the address of node 0, the *control*
task), ``num_nodes``, ``node_index`` and ``control_task_id``;
``current.is_parallel`` is True. The step after a gang is a join that gathers
all N tasks. When one task of the gang fails, the runtime stops the others;
``@retry`` retries the whole gang, as Metaflow does.
"""

from __future__ import annotations

from grange.decorators.base import StepDecorator, StepShape, make_step_decorator


class ParallelDecorator(StepDecorator):
    """Run the step as a gang of ``num_parallel`` tasks started together."""

    name = "parallel"
    defaults = {}

    def step_init(self, *, node: StepShape) -> str | None:
        if node.type == "split-switch":
            return (
                f"@parallel cannot go on step '{node.name}', which is a switch: the step "
                "after a gang must be its join"
            )
        return None


parallel = make_step_decorator(ParallelDecorator)
