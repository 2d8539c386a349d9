"""@retry and @catch together: the step always fails; after its retries @catch lets
the flow go on. A second step, without var, fails too and is caught silently."""

from grange import FlowSpec, catch, current, retry, step


def fail(error):
    raise error


class RetryCatchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.fragile)

    @catch(var="fragile_error")
    @retry(times=2, minutes_between_retries=0)
    @step
    def fragile(self):
        self.tried = current.retry_count
        print(f"fragile attempt {current.retry_count}")
        fail(KeyError(f"missing on attempt {current.retry_count}"))
        self.next(self.quiet)

    @catch(print_exception=False)
    @step
    def quiet(self):
        self.reached = True
        fail(RuntimeError("nobody hears this"))
        self.next(self.end)

    @step
    def end(self):
        self.error_type = self.fragile_error.type
        self.error_text = str(self.fragile_error)


if __name__ == "__main__":
    RetryCatchFlow()
