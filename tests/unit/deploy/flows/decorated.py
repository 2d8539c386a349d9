"""Every decorator the compiler maps: @retry, @catch, @timeout, @resources,
@environment and @kubernetes."""

from grange import FlowSpec, catch, environment, kubernetes, resources, retry, step, timeout


class DecoratedFlow(FlowSpec):
    @retry(times=2, minutes_between_retries=1)
    @step
    def start(self):
        self.next(self.train)

    @catch(var="failure")
    @timeout(minutes=5)
    @resources(cpu=2, memory=8000, gpu=1)
    @environment(vars={"MODE": "fast"})
    @step
    def train(self):
        self.next(self.evaluate)

    @kubernetes(node_selector={"pool": "big"}, tolerations=[{"key": "gpu", "operator": "Exists"}])
    @retry
    @step
    def evaluate(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DecoratedFlow()
