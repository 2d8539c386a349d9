"""A flow kept in a repository with CI/CD (docs/cicd.md): tested on every pull request,
deployed per pull request beside production, and to production on a merge to main.

python train.py run                                  # your own branch: user.<you>
python train.py --branch pr-12 run                   # a pull request's branch: test.pr-12
python train.py --profile staging --branch pr-12 argo-workflows create
"""

from grange import FlowSpec, Parameter, project, step, trigger


def best_threshold(scores, labels):
    """The score threshold that classifies the most examples right (ties: the lowest)."""
    candidates = sorted(set(scores))
    hits = [sum((s >= t) == y for s, y in zip(scores, labels)) for t in candidates]
    return candidates[hits.index(max(hits))]


@project(name="fraud")
@trigger(event="fraud_data_updated")  # production and every PR's branch run on new data
class TrainFlow(FlowSpec):
    """Pick the fraud score threshold; each deployment (branch) trains its own."""

    margin = Parameter("margin", default=0.0, type=float, help="added to the threshold")

    @step
    def start(self):
        self.scores = [0.1, 0.3, 0.35, 0.6, 0.8, 0.9]
        self.labels = [False, False, True, True, True, True]
        self.next(self.train)

    @step
    def train(self):
        self.threshold = best_threshold(self.scores, self.labels) + self.margin
        self.next(self.end)

    @step
    def end(self):
        print(f"threshold {self.threshold}")


if __name__ == "__main__":
    TrainFlow()
