from grange import FlowSpec, project, step


@project(name="Fraud-Detection")
class BadProjectNameFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadProjectNameFlow()
