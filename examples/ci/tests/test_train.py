"""The flow's tests, run by CI on every pull request (grange.testing, docs/testing.md)."""

import pytest
from grange.testing import run_step

from train import TrainFlow


def test_train_picks_the_threshold_that_splits_the_labels():
    out = run_step(TrainFlow, "train", inputs={"scores": [0.2, 0.7], "labels": [False, True]})
    assert out.threshold == 0.7


def test_the_whole_flow_runs(grange_run):
    run = grange_run(TrainFlow, margin=0.05)
    assert run.successful
    assert run.data.threshold == pytest.approx(0.4)
