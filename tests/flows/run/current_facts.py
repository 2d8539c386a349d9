"""Every step records what `current` says, and what the client's namespace is."""

from grange import FlowSpec, Parameter, current, get_namespace, step

FIELDS = (
    "flow_name", "run_id", "step_name", "task_id", "retry_count", "origin_run_id",
    "pathspec", "username", "namespace", "tags", "parameter_names", "is_running_flow",
)  # fmt: skip


def facts():
    return {name: getattr(current, name) for name in FIELDS}


class CurrentRunFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)
    beta = Parameter("beta", default="b")

    @step
    def start(self):
        self.facts = facts()
        self.client_namespace = get_namespace()
        self.items = [0, 1]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.facts = facts()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.work_facts = [i.facts for i in inputs]
        self.facts = facts()
        self.next(self.end)

    @step
    def end(self):
        self.facts = facts()


if __name__ == "__main__":
    CurrentRunFlow()
