"""Broken: a step decorator is placed below @step instead of above it."""

from grange import FlowSpec, step
from grange.decorators.base import StepDecorator, make_step_decorator


class NoteDecorator(StepDecorator):
    """A do-nothing step decorator for this example."""

    name = "note"
    defaults = {"text": ""}


note = make_step_decorator(NoteDecorator)


class DecoratorBelowStepFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @step
    @note(text="fits the model")
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DecoratorBelowStepFlow()
