"""A @project flow: every step records the project facts of `current` and the
client's namespace; `start` also reads the latest run of ProjectFactsFlow it can see."""

from grange import Flow, FlowSpec, current, get_namespace, project, step

FIELDS = (
    "project_name", "branch_name", "project_flow_name", "is_production", "is_user_branch",
    "namespace",
)  # fmt: skip


def facts():
    return {name: getattr(current, name) for name in FIELDS}


@project(name="demo")
class ProjectFactsFlow(FlowSpec):
    @step
    def start(self):
        self.facts = facts()
        self.client_namespace = get_namespace()
        self.task_obj, self.run_obj = current.task, current.run  # client objects, pickled
        # The runs this task can see in its namespace (its own included).
        self.visible_runs = sorted(r.id for r in Flow("ProjectFactsFlow"))
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
    ProjectFactsFlow()
