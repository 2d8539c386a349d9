from grange import FlowSpec, retry, step


class BadDecoratorArgsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @retry(times=3, minutes_betwen_retries=1)
    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadDecoratorArgsFlow()
