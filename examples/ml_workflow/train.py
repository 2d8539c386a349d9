"""Training, started when an ingestion (ingest.py) succeeds.

It reads the ingestion run that started it through ``current.trigger.run``:
when that run found new data, it fits a line to it; otherwise it keeps the
model of the last training and says so.

    python examples/ml_workflow/train.py deploy
"""

from grange import Flow, FlowSpec, current, step, trigger_on_finish


@trigger_on_finish(flow="IngestFlow")
class TrainFlow(FlowSpec):
    """Fit y = a*x + b to the ingested rows."""

    @step
    def start(self):
        """Look at the ingestion that started this run."""
        ingest = current.trigger.run
        self.ingest = ingest.pathspec
        self.rows = ingest.data.rows
        self.decision = "fit" if ingest.data.changed else "keep"
        self.next({"fit": self.fit, "keep": self.keep}, condition="decision")

    @step
    def fit(self):
        """Least squares on the new rows."""
        n = len(self.rows)
        mean_x = sum(x for x, _ in self.rows) / n
        mean_y = sum(y for _, y in self.rows) / n
        var = sum((x - mean_x) ** 2 for x, _ in self.rows) or 1.0
        a = sum((x - mean_x) * (y - mean_y) for x, y in self.rows) / var
        self.model = {"a": a, "b": mean_y - a * mean_x, "trained_on": self.ingest}
        print(f"trained on {n} rows from {self.ingest}: {self.model}")
        self.next(self.end)

    @step
    def keep(self):
        """No new data: the last model stays."""
        last = Flow("TrainFlow").latest_successful_run
        self.model = None if last is None else last.data.model
        print(f"{self.ingest} brought no new data; keeping the last model")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TrainFlow()
