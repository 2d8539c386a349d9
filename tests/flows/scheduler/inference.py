"""The seed's inference flow: started when TrainingFlow succeeds, it reads the
upstream run's model through ``current.trigger``."""

from grange import FlowSpec, current, step, trigger_on_finish


@trigger_on_finish(flow="TrainingFlow")
class InferenceFlow(FlowSpec):
    @step
    def start(self):
        self.model = current.trigger.run.data.model
        self.upstream = current.trigger.run.pathspec
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InferenceFlow()
