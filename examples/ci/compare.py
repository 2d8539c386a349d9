"""A/B: a pull request's branch against production, through the client.

GRANGE_CONFIG=grange.toml python compare.py pr-12   # under the staging profile

Each profile keeps its runs in its own store; staging may read production's
(readable_profiles in grange.toml). On each, the branch's namespace selects
the runs of that deployment, of every user.
"""

import sys

from grange import Flow, metadata, namespace


def latest(profile, branch):
    metadata(f"profile:{profile}")  # that profile's stores
    namespace(f"project_branch:{branch}")  # that branch's runs
    return Flow("TrainFlow").latest_successful_run


if __name__ == "__main__":
    pr = sys.argv[1]
    for profile, branch in (("production", "prod"), ("staging", f"test.{pr}")):
        run = latest(profile, branch)
        if run is None:
            print(f"{branch:<12} no successful run yet")
        else:
            print(f"{branch:<12} {run.pathspec:<24} threshold {run.data.threshold}")
