"""Runs when TrainingFlow of the same project and branch succeeds, or its prod twin."""

from grange import FlowSpec, project, step, trigger_on_finish


@project(name="fraud")
@trigger_on_finish(flows=["TrainingFlow", {"name": "FeatureFlow", "project_branch": "prod"}])
class ScoringFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ScoringFlow()
