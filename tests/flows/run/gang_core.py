"""Metaflow's core-suite checks on its 'small-parallel' graph (basic_parallel and
catch_retry): a gang of 4 after a split step that is retried, the gang retried
whole and caught in the end."""

from grange import FlowSpec, catch, current, parallel, retry, step


class GangCoreFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.parallel_split)

    @retry(times=2, minutes_between_retries=0)
    @step
    def parallel_split(self):
        self.my_node_index = None
        if current.retry_count < 2:
            raise ConnectionError("retry me")
        self.this_is_split = True
        self.next(self.parallel_inner, num_parallel=4)

    @parallel
    @step
    def parallel_inner(self):
        assert current.parallel.num_nodes == 4
        self.my_node_index = current.parallel.node_index
        assert self.my_node_index == self.input
        self.next(self.caught)

    @step
    def caught(self, inputs):
        self.got = sorted(i.my_node_index for i in inputs)
        self.next(self.again_split)

    @step
    def again_split(self):
        self.next(self.soft_death, num_parallel=3)

    @catch(var="ex", print_exception=False)
    @retry(times=2, minutes_between_retries=0)
    @parallel
    @step
    def soft_death(self):
        self.retry_with_catch = current.retry_count
        raise ValueError(f"node {current.parallel.node_index} dies softly")
        self.next(self.join)  # never reached: @catch goes on to 'join'

    @step
    def join(self, inputs):
        self.caught_in = [(i.retry_with_catch, i.ex.type) for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GangCoreFlow()
