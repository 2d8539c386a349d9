"""A step that fails: its cards with save_errors (the default) show the error, blank
ones too; the one with save_errors=False is not stored."""

from grange import FlowSpec, card, step


class CardFailureFlow(FlowSpec):
    @card(id="loud")
    @card(id="quiet", save_errors=False)
    @card(type="blank", id="plain")
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
