"""``run_step``/``run_flow`` with a flow's ``Config``: defaults, or ``configs=`` given."""

from __future__ import annotations

import os

import pytest

from grange import Config, FlowSpec, Parameter, config_expr, environment, retry, step
from grange.testing import HarnessError, run_step


class ConfiguredFlow(FlowSpec):
    cfg = Config("cfg", default_value={"scale": 2, "greeting": "hi", "retries": 0})
    alpha = Parameter("alpha", default=config_expr("cfg.scale"))

    @step
    def start(self):
        self.next(self.train)

    @retry(times=cfg.retries)
    @environment(vars={"GREETING": cfg.greeting})
    @step
    def train(self):
        self.model = self.cfg.scale * 10
        self.greeting = os.environ["GREETING"]
        self.seen_alpha = self.alpha
        self.next(self.end)

    @step
    def end(self):
        pass


class PlainFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_run_step_binds_the_defaults() -> None:
    result = run_step(ConfiguredFlow, "train")
    assert (result.model, result.greeting, result.seen_alpha) == (20, "hi", 2)
    assert result.cfg == {"scale": 2, "greeting": "hi", "retries": 0}


def test_run_step_takes_configs_and_binds_them_into_decorators_and_defaults() -> None:
    given = {"cfg": {"scale": 5, "greeting": "hello", "retries": 1}}
    result = run_step(ConfiguredFlow, "train", configs=given)
    assert (result.model, result.greeting, result.seen_alpha) == (50, "hello", 5)
    # a later call without configs= is back to the defaults, not the previous values
    assert run_step(ConfiguredFlow, "train", fork=False).model == 20


def test_run_step_ignores_config_variables_of_the_test_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRANGE_FLOW_CONFIG_VALUE", '{"cfg": {"scale": 9}}')
    assert run_step(ConfiguredFlow, "train").model == 20


def test_bad_configs_are_refused_clearly() -> None:
    with pytest.raises(HarnessError, match="no Config"):
        run_step(PlainFlow, "start", configs={"cfg": {}})
    with pytest.raises(HarnessError, match="dict of config values"):
        run_step(ConfiguredFlow, "train", configs=[("cfg", {})])  # type: ignore[arg-type]
