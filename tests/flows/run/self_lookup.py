"""Steps that look themselves up with the client while they run (Metaflow's tag_mutation)."""

from grange import FlowSpec, Task, current, step


def look():
    task = Task(current.pathspec)
    run = task.parent.parent
    run.add_tag("seen-" + current.step_name)
    return {
        "pathspec": task.pathspec,
        "finished": task.finished,
        "attempt": task.current_attempt,
        "parents": sorted(task.parent_task_pathspecs),
        "in_step": current.task_id in [t.id for t in task.parent],
        "tagged": "seen-" + current.step_name in run.user_tags,
    }


class SelfLookupFlow(FlowSpec):
    @step
    def start(self):
        self.seen = look()
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.seen = look()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen = look()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SelfLookupFlow()
