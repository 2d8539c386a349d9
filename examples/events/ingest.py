"""Data ingestion, started by a GitHub push (the seeds' "ML workflow with Argo").

A push to the data repository becomes the event ``github.push`` (a webhook
relay publishes it: ``grange events publish github.push --payload
repository=org/data --payload after=<sha>``, or ``POST /events`` to a
``grange scheduler``, or an Argo Events webhook on a cluster). Its payload's
``repository`` and ``after`` fields set the parameters. The flow checks whether
the data changed since the last successful ingestion and, through a switch,
either stops there or goes on to prepare it; ``train.py`` runs when it finishes.

    python examples/events/ingest.py run                     # by hand
    python examples/events/ingest.py --trigger-event github.push \\
        --trigger-payload after=abc123 run                   # as the event would
    python examples/events/ingest.py deploy                  # on the local scheduler
    python examples/events/ingest.py argo-workflows create --only-json   # on Argo
"""

import hashlib
from pathlib import Path

from grange import Flow, FlowSpec, Parameter, current, namespace, step, trigger
from grange.exceptions import ObjectNotFound

DATA = Path(__file__).resolve().parent / "data" / "measurements.csv"


@trigger(
    event={"name": "github.push", "parameters": {"repository": "repository", "commit": "after"}}
)
class IngestFlow(FlowSpec):
    """Ingest the measurements when the data repository changes."""

    repository = Parameter("repository", default="example/data", help="the repository pushed to")
    commit = Parameter("commit", default="", help="the commit pushed (the push's 'after')")
    source = Parameter("source", default=str(DATA), help="the file that holds the data")

    @step
    def start(self):
        """Fingerprint the data and compare it with the last successful ingestion's."""
        raw = Path(self.source).read_bytes()
        self.data_hash = hashlib.sha256(raw).hexdigest()
        self.previous_hash = _last_ingested_hash()
        self.changed = "yes" if self.data_hash != self.previous_hash else "no"
        print(f"{self.repository}@{self.commit or 'HEAD'}: data changed: {self.changed}")
        self.next({"yes": self.prepare, "no": self.end}, condition="changed")

    @step
    def prepare(self):
        """Parse the rows; only when the data changed."""
        lines = Path(self.source).read_text().splitlines()[1:]
        self.rows = [tuple(float(v) for v in line.split(",")) for line in lines if line]
        self.next(self.end)

    @step
    def end(self):
        print("ingested" if self.changed == "yes" else "nothing new: stopped")


def _last_ingested_hash():
    """The data fingerprint of this flow's last successful run that saw new data."""
    namespace(None)  # whoever ran it: the scheduler, a colleague, a CI job
    try:
        runs = Flow(current.flow_name).runs()
    except ObjectNotFound:  # the flow's first run is still being indexed
        return None
    for run in runs:
        if run.id != current.run_id and run.successful and run.data.changed == "yes":
            return run.data.data_hash
    return None


if __name__ == "__main__":
    IngestFlow()
