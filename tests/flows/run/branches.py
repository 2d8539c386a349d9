"""A static split into two branches and their join, which starts empty."""

from grange import FlowSpec, Parameter, step


class BranchRunFlow(FlowSpec):
    weight = Parameter("weight", default=3)

    @step
    def start(self):
        self.base = "from start"
        self.next(self.one, self.two)

    @step
    def one(self):
        self.x = 1
        self.base_in_branch = self.base
        self.next(self.join)

    @step
    def two(self):
        self.x = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.join_has_base = hasattr(self, "base")
        self.join_has_x = hasattr(self, "x")
        self.weight_in_join = self.weight
        self.by_name = (inputs.one.x, inputs.two.x)
        self.in_order = [i.x for i in inputs]
        self.by_index = inputs[1].x
        self.branches = len(inputs)
        self.next(self.end)

    @step
    def end(self):
        self.end_has_x = hasattr(self, "x")


if __name__ == "__main__":
    BranchRunFlow()
