"""A first flow: a parameter, a foreach fan-out, a join and a switch.

python examples/hello.py run              # run it
python examples/hello.py run --scale 1.0  # with another parameter value
python examples/hello.py show             # the graph
"""

from grange import FlowSpec, Parameter, step


class HelloFlow(FlowSpec):
    """Train a tiny 'model' per learning rate and keep the best one."""

    scale = Parameter("scale", default=2.0, help="multiplier applied to every score")

    @step
    def start(self):
        """Pick the grid to sweep."""
        self.rates = [0.1, 0.2, 0.5]
        self.next(self.train, foreach="rates")

    @step
    def train(self):
        """One task per learning rate."""
        self.rate = self.input
        self.score = self.scale * (1 - abs(0.2 - self.rate))
        self.next(self.pick)

    @step
    def pick(self, inputs):
        """Join: keep the best rate."""
        best = max(inputs, key=lambda i: i.score)
        self.best_rate, self.best_score = best.rate, best.score
        self.next(self.decide)

    @step
    def decide(self):
        """A switch: publish only when the best score is good enough."""
        self.verdict = "good" if self.best_score > 1.5 else "poor"
        self.next({"good": self.publish, "poor": self.end}, condition="verdict")

    @step
    def publish(self):
        """Runs only in the 'good' case."""
        print(f"publishing rate {self.best_rate}")
        self.next(self.end)

    @step
    def end(self):
        print(f"best rate {self.best_rate} scored {self.best_score:.2f}")


if __name__ == "__main__":
    HelloFlow()
