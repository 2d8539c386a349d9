"""Ingestion, started by a push to the data repository (a GitHub push webhook).

The event is ``github_push``; its payload is the webhook's (``after`` is the
pushed commit, which becomes the ``commit`` parameter). The flow reads the
dataset, fingerprints it and compares the fingerprint with the last successful
ingestion's: through a switch it either stops there (the data did not change)
or validates the new data for training (TrainFlow, in train.py, starts when
this flow succeeds).

    python examples/ml_workflow/ingest.py deploy --dataset "$PWD/examples/ml_workflow/data.csv"
    python examples/ml_workflow/train.py deploy
    grange scheduler &
    grange events publish github_push --payload-file examples/ml_workflow/push.json

``--dataset`` is an absolute path here: a relative one is read next to the flow
file in its code package (runs start from the package, not from where you
deployed). Without it, the run reads the ``data.csv`` next to the flow file in
its code package: deploy with ``--package-suffixes .csv`` to include it
(``python examples/ml_workflow/ingest.py --package-suffixes .csv deploy``);
that copy is the one deployed and does not change.

or on Argo Workflows: ``python ingest.py argo-workflows create`` (a Sensor on
``github_push``). GitHub cannot post to the Argo Events webhook directly: the
Sensor matches grange's body, ``{"name": "github_push", "payload": {...}}``,
which GitHub's push body is not. Relay it: the event's payload is the push
body (or the part of it the flow needs; payloads stay under 32 KiB on Argo),
e.g. from a GitHub Actions job on ``push``, with ``GRANGE_EVENTS_URL`` (and
``GRANGE_EVENTS_TOKEN``) set::

    jq '{ref, after, repository}' "$GITHUB_EVENT_PATH" > push.json
    grange events publish github_push --payload-file push.json

or ``Event("github_push").publish(payload=github_body)`` in a few lines of
Python behind your own webhook (docs/events.md, "An example").
"""

import hashlib
import os

from grange import Flow, FlowSpec, Parameter, step, trigger


@trigger(event={"name": "github_push", "parameters": {"commit": "after"}})
class IngestFlow(FlowSpec):
    """Ingest the dataset when a push changed it."""

    commit = Parameter("commit", default="unknown", help="the pushed commit")
    dataset = Parameter(
        "dataset",
        default="data.csv",
        help="the dataset (CSV: x,y); a relative path is read next to this file",
    )

    @step
    def start(self):
        """Fingerprint the data; go on only if it changed since the last ingestion."""
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, self.dataset), "rb") as f:  # an absolute path stays
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
