"""A/B: a pull request's branch against production, through the client.

python compare.py pr-12      # the latest successful run of each, side by side
"""

import sys

from grange import Flow, namespace


def latest(branch):
    namespace(f"project_branch:{branch}")  # the runs of one branch, of every user
    return Flow("TrainFlow").latest_successful_run


if __name__ == "__main__":
    for branch in ("prod", f"test.{sys.argv[1]}"):
        run = latest(branch)
        if run is None:
            print(f"{branch:<12} no successful run yet")
        else:
            print(f"{branch:<12} {run.pathspec:<30} threshold {run.data.threshold}")
