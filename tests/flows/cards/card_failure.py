"""A step that fails: its card with save_errors (the default) shows the error; the one
with save_errors=False is not stored."""

from grange import FlowSpec, card, step


class CardFailureFlow(FlowSpec):
    @card(id="loud")
    @card(id="quiet", save_errors=False)
    @step
    def start(self):
        self.before = "set before the failure"
        raise ValueError("the model diverged <b>badly</b>")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardFailureFlow()
