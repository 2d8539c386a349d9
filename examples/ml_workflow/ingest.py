"""Ingestion, started by a push to the data repository (a GitHub push webhook).

The event is ``github_push``; its payload is the webhook's (``after`` is the
pushed commit, which becomes the ``commit`` parameter). The flow reads the
dataset, fingerprints it and compares the fingerprint with the last successful
ingestion's: through a switch it either stops there (the data did not change)
or validates the new data for training (TrainFlow, in train.py, starts when
this flow succeeds).

    python examples/ml_workflow/ingest.py deploy --dataset /data/rides.csv
    python examples/ml_workflow/train.py deploy
    grange scheduler &
    grange events publish github_push --payload-file push.json

or on Argo Workflows: ``python ingest.py argo-workflows create`` (a Sensor on
``github_push``; point GitHub's webhook at the Argo Events webhook).
"""

import hashlib

from grange import Flow, FlowSpec, Parameter, step, trigger


@trigger(event={"name": "github_push", "parameters": {"commit": "after"}})
class IngestFlow(FlowSpec):
    """Ingest the dataset when a push changed it."""

    commit = Parameter("commit", default="unknown", help="the pushed commit")
    dataset = Parameter("dataset", default="data.csv", help="the dataset (CSV: x,y)")

    @step
    def start(self):
        """Fingerprint the data; go on only if it changed since the last ingestion."""
        with open(self.dataset, "rb") as f:
            data = f.read()
        self.fingerprint = hashlib.sha256(data).hexdigest()
        self.previous = previous_fingerprint()
        self.changed = self.fingerprint != self.previous
        self.decision = "changed" if self.changed else "unchanged"
        self.text = data.decode()
        self.next({"changed": self.validate, "unchanged": self.unchanged}, condition="decision")

    @step
    def validate(self):
        """Parse and check the new data."""
        rows = [line.split(",") for line in self.text.splitlines()[1:] if line.strip()]
        self.rows = [(float(x), float(y)) for x, y in rows]
        if not self.rows:
            raise ValueError(f"{self.dataset} holds no rows")
        print(f"commit {self.commit}: {len(self.rows)} new rows")
        self.next(self.end)

    @step
    def unchanged(self):
        """Nothing new: stop here."""
        self.rows = []
        print(f"commit {self.commit}: the data did not change; nothing to ingest")
        self.next(self.end)

    @step
    def end(self):
        pass


def previous_fingerprint():
    """The fingerprint of the last successful ingestion (None before the first)."""
    run = Flow("IngestFlow").latest_successful_run
    return None if run is None else run.data.fingerprint


if __name__ == "__main__":
    IngestFlow()
