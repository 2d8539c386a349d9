"""The course's "Catch Exceptions Using @catch" example, as written on the slide
(the print's string literal, wrapped on the slide, is on one line here)."""

from grange import FlowSpec, catch, step


class CatchFlow(FlowSpec):
    @step
    def start(self):
        self.params = range(3)
        self.next(self.compute, foreach='params')

    @catch(var='compute_failed')
    @step
    def compute(self):
        self.div = self.input
        self.x = 5 / self.div
        self.next(self.join)

    @step
    def join(self, inputs):
        for input in inputs:
            if input.compute_failed:
                print('compute failed for parameter: %d' % input.div)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CatchFlow()
