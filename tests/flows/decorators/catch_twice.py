"""Two steps with @catch(var="error"): the first fails, the second succeeds, so after
the second the variable is None again, although the second read the first's value."""

from grange import FlowSpec, catch, step


def fail(error):
    raise error


class CatchTwiceFlow(FlowSpec):
    @catch(var="error")
    @step
    def start(self):
        fail(ValueError("first"))
        self.next(self.again)

    @catch(var="error")
    @step
    def again(self):
        self.seen = str(self.error)
        self.next(self.end)

    @step
    def end(self):
        self.final = self.error


if __name__ == "__main__":
    CatchTwiceFlow()
