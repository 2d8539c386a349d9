"""Model training, started when an ingestion (``ingest.py``) succeeds.

``current.trigger.run`` is the ingestion run that started it: when that run
found no new data, training is skipped through a switch.

    python examples/events/train.py --trigger IngestFlow/<run id> run   # as its trigger would
    python examples/events/train.py deploy                               # on the local scheduler
"""

from grange import FlowSpec, current, step, trigger_on_finish


@trigger_on_finish(flow="IngestFlow")
class TrainFlow(FlowSpec):
    """Fit a line through the ingested measurements."""

    @step
    def start(self):
        """Read what the ingestion run found."""
        upstream = current.trigger.run if current.trigger else None
        if upstream is None:
            raise RuntimeError(
                "TrainFlow trains on an ingestion run: run it with --trigger IngestFlow/<run id>"
            )
        self.ingestion = upstream.pathspec
        self.changed = upstream.data.changed
        self.rows = upstream.data.rows if self.changed == "yes" else []
        self.next({"yes": self.train, "no": self.end}, condition="changed")

    @step
    def train(self):
        """Least squares through the origin: y = slope * x."""
        sxy = sum(x * y for x, y in self.rows)
        sxx = sum(x * x for x, _ in self.rows)
        self.model = {"slope": sxy / sxx}
        self.next(self.end)

    @step
    def end(self):
        if self.changed == "yes":
            print(f"trained on {self.ingestion}: slope {self.model['slope']:.3f}")
        else:
            print(f"{self.ingestion} found no new data: training skipped")


if __name__ == "__main__":
    TrainFlow()
