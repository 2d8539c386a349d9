"""``Config`` in real runs: ``--config``/``--config-value`` drive decorators, steps see
``self.cfg``, runs store the values, resume reuses them, and bad configs are named."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from grange import ConfigValue, Flow
from support import Runner

FLOW = """
import os
from grange import (Config, FlowSpec, Parameter, config_expr, current, environment, project,
                    resources, retry, step)

@project(name=config_expr("cfg").project)
class ConfigFlow(FlowSpec):
    cfg = Config("cfg", default="cfg.json")
    alpha = Parameter("alpha", default=cfg.alpha)

    @resources(cpu=cfg.cpu)
    @retry(**cfg.retry)
    @environment(vars={"GREETING": cfg.greeting, "CPU": config_expr("str(cfg.cpu)")})
    @step
    def start(self):
        if current.retry_count < self.cfg.fail_times or os.path.exists(self.cfg.fail_if):
            raise RuntimeError("failing on purpose")
        self.seen = {
            "greeting": os.environ["GREETING"],
            "cpu": os.environ["CPU"],
            "alpha": self.alpha,
            "project": current.project_name,
            "attempt": current.retry_count,
            "type": type(self.cfg).__name__,
        }
        self.next(self.end)

    @step
    def end(self):
        self.end_greeting = self.cfg.greeting

if __name__ == "__main__":
    ConfigFlow()
"""

DEFAULT = {
    "project": "cfgproj",
    "alpha": 0.5,
    "cpu": 1,
    "greeting": "hello",
    "retry": {"times": 0},
    "fail_times": 0,
    "fail_if": "no-such-file",
}
OTHER = {
    **DEFAULT,
    "project": "otherproj",
    "alpha": 1.5,
    "cpu": 2,
    "greeting": "other",
    "retry": {"times": 2, "minutes_between_retries": 0},
    "fail_times": 2,
}


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "config_flow.py").write_text(textwrap.dedent(FLOW))
    (folder / "cfg.json").write_text(json.dumps(DEFAULT))
    (folder / "other.json").write_text(json.dumps(OTHER))
    return folder / "config_flow.py"


def test_a_config_file_drives_decorators_parameters_and_steps(
    runner: Runner, flow: Path, fork: bool
) -> None:
    other = str(flow.parent / "other.json")
    result = runner.run(flow, fork=fork, top=("--config", "cfg", other))
    run = Flow("ConfigFlow")[str(result.run_id)]
    assert run.successful
    assert run["start"].task.data.seen == {
        "greeting": "other",  # @environment
        "cpu": "2",  # config_expr
        "alpha": 1.5,  # a Parameter's default
        "project": "otherproj",  # @project
        "attempt": 2,  # @retry(**cfg.retry): failed twice, retried twice
        "type": "ConfigValue",
    }
    assert run.data.end_greeting == "other"
    assert run.data.cfg == OTHER and type(run.data.cfg) is dict  # as Metaflow stores it
    assert run["_parameters"].task.data.cfg == OTHER
    assert isinstance(run.config["cfg"], ConfigValue) and run.config["cfg"].cpu == 2
    assert "project:otherproj" in run.system_tags


def test_show_prints_the_resolved_decorators(runner: Runner, flow: Path) -> None:
    default = runner(flow, "show").output
    assert "@resources(cpu=1," in default and "@retry(times=0," in default
    given = runner(flow, "show", top=("--config-value", "cfg", json.dumps(OTHER))).output
    assert "@resources(cpu=2," in given and "@retry(times=2, minutes_between_retries=0)" in given
    assert "@environment(vars={'GREETING': 'other', 'CPU': '2'})" in given
    assert "@project(name='otherproj'" in given
    assert "Parameter alpha (float, default 1.5)" in given


def test_config_value_and_the_environment(runner: Runner, flow: Path) -> None:
    value = json.dumps({**DEFAULT, "greeting": "from json"})
    result = runner.run(flow, top=("--config-value", "cfg", value))
    assert Flow("ConfigFlow")[str(result.run_id)].data.end_greeting == "from json"
    env = runner.env(GRANGE_FLOW_CONFIG_VALUE=json.dumps({"cfg": {**DEFAULT, "greeting": "env"}}))
    result = runner.run(flow, env=env)
    assert Flow("ConfigFlow")[str(result.run_id)].data.end_greeting == "env"
    env = runner.env(GRANGE_FLOW_CONFIG=json.dumps({"cfg": str(flow.parent / "other.json")}))
    result = runner.run(flow, env=env)
    assert Flow("ConfigFlow")[str(result.run_id)].data.end_greeting == "other"


def test_resume_reuses_the_origin_runs_configs(runner: Runner, flow: Path) -> None:
    marker = flow.parent / "fail-now"
    marker.touch()
    given = {**DEFAULT, "greeting": "origin", "fail_if": str(marker)}
    failed = runner.run(flow, top=("--config-value", "cfg", json.dumps(given)), ok=False)
    marker.unlink()
    refused = runner.resume(
        flow, top=("--config", "cfg", str(flow.parent / "other.json")), ok=False
    )
    assert refused.returncode == 2
    assert "Cannot specify --config or --config-value with 'resume'" in refused.output
    (flow.parent / "cfg.json").write_text(json.dumps({**DEFAULT, "greeting": "changed"}))
    resumed = runner.resume(flow)
    run = Flow("ConfigFlow")[str(resumed.run_id)]
    assert run.successful and run.origin_pathspec == f"ConfigFlow/{failed.run_id}"
    assert run.data.end_greeting == "origin" and run.data.cfg == given
    assert run.config["cfg"].greeting == "origin"


def test_a_huge_config_reaches_fresh_task_processes(
    runner: Runner, tmp_path: Path, fork: bool
) -> None:
    path = tmp_path / "huge_flow.py"
    path.write_text(
        textwrap.dedent(
            """
            from grange import Config, FlowSpec, step

            class HugeFlow(FlowSpec):
                cfg = Config("cfg", default_value={})

                @step
                def start(self):
                    self.size = len(self.cfg.blob)
                    self.next(self.end)

                @step
                def end(self):
                    pass

            if __name__ == "__main__":
                HugeFlow()
            """
        )
    )
    huge = tmp_path / "huge.json"  # more than one environment string (or argument) holds
    huge.write_text(json.dumps({"blob": "x" * 300_000}))
    result = runner.run(path, fork=fork, top=("--config", "cfg", str(huge)))
    assert Flow("HugeFlow")[str(result.run_id)].data.size == 300_000


def _error(runner: Runner, flow: Path, *top: str, command: str = "run") -> str:
    result = runner(flow, command, top=top, ok=False)
    assert result.returncode == 2, result.explain()
    assert "Traceback" not in result.output
    return result.output


def test_bad_configs_are_named(runner: Runner, flow: Path) -> None:
    out = _error(runner, flow, "--config-value", "cfg", "{bad")
    assert "config_flow.py:8: Invalid flow [config]: configuration value for 'cfg' is not " in out
    assert "valid JSON (the value given): Expecting property name" in out
    out = _error(runner, flow, "--config", "cfg", "nofile.json")
    assert "configuration file 'nofile.json' could not be read for 'cfg'" in out
    out = _error(runner, flow, "--config-value", "nope", "{}")
    assert "Invalid value for '--config-value'" in out and "'cfg'" in out
    missing = {k: v for k, v in DEFAULT.items() if k != "cpu"}
    out = _error(runner, flow, "--config-value", "cfg", json.dumps(missing), command="check")
    assert (
        "config_flow.py:11, step 'start': Invalid flow [config]: @resources on step 'start' "
        "reads cfg.cpu: the config has no key 'cpu'"
    ) in out
    assert "config_flow.py:13, step 'start'" in out  # config_expr("str(cfg.cpu)") too
    out = _error(runner, flow, "--config-value", "cfg", json.dumps({**DEFAULT, "cpu": "two"}))
    assert "@resources on step 'start', with its config values read: @resources(cpu='two')" in out
    (flow.parent / "cfg.json").unlink()
    out = _error(runner, flow, command="show")
    assert "default configuration file 'cfg.json' could not be read for 'cfg'" in out


def test_a_config_named_like_a_parameter_is_refused(runner: Runner, tmp_path: Path) -> None:
    path = tmp_path / "clash_flow.py"
    path.write_text(
        textwrap.dedent(
            """
            from grange import Config, FlowSpec, Parameter, step

            class ClashFlow(FlowSpec):
                alpha = Parameter("alpha", default=1)
                settings = Config("Alpha", default_value={})

                @step
                def start(self):
                    self.next(self.end)

                @step
                def end(self):
                    pass

            if __name__ == "__main__":
                ClashFlow()
            """
        )
    )
    out = _error(runner, path)
    assert "clash_flow.py:6: Invalid flow [config]: config 'Alpha' has the name of parameter" in out


KUBE_FLOW = """
import os
from grange import Config, FlowSpec, environment, kubernetes, step

class KubeConfigFlow(FlowSpec):
    cfg = Config("cfg", default="cfg.json")

    @kubernetes(cpu=0.5, memory=256)
    @environment(vars={"GREETING": cfg.greeting})
    @step
    def start(self):
        self.greeting = os.environ["GREETING"]
        self.cpu = self.cfg.cpu
        self.pod = os.environ.get("HOSTNAME", "")
        self.had_file = os.path.exists("cfg.json") or os.path.exists("other.json")
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    KubeConfigFlow()
"""


def test_a_kubernetes_pod_sees_the_runs_configs_without_the_file(
    runner: Runner, tmp_path: Path, kube: object
) -> None:
    import os

    folder = tmp_path / "kproject"
    folder.mkdir()
    (folder / "kube_config_flow.py").write_text(textwrap.dedent(KUBE_FLOW))
    (folder / "cfg.json").write_text(json.dumps({"greeting": "default", "cpu": 1}))
    (tmp_path / "other.json").write_text(json.dumps({"greeting": "given", "cpu": 3}))
    profile = tmp_path / "config.toml"  # the fake runs pods on this machine's disk
    profile.write_text(
        'default_profile = "fake"\n[profiles.fake.kubernetes]\nshared_filesystem = true\n'
    )
    env = runner.env(GRANGE_CONFIG=str(profile), KUBECONFIG=os.environ["KUBECONFIG"])
    result = runner.run(
        folder / "kube_config_flow.py",
        env=env,
        top=("--config", "cfg", str(tmp_path / "other.json")),
    )
    start = Flow("KubeConfigFlow")[str(result.run_id)]["start"].task.data
    assert start.pod.startswith("kubeconfigflow-start-")  # it ran in a pod
    assert (start.greeting, start.cpu, start.had_file) == ("given", 3, False)


def test_the_runner_passes_configs(runner: Runner, flow: Path) -> None:
    import grange

    value = {**DEFAULT, "greeting": "from the runner"}
    with grange.Runner(
        str(flow), show_output=False, env=runner.env(), config_value=[("cfg", value)]
    ) as started:
        result = started.run()
    assert result.status == "successful", result.stdout + result.stderr
    assert result.run.data.end_greeting == "from the runner"
    with grange.Runner(
        str(flow),
        show_output=False,
        env=runner.env(),
        config={"cfg": str(flow.parent / "other.json")},
    ) as started:
        result = started.run()
    assert result.run.config["cfg"].greeting == "other"


def test_argo_create_bakes_the_given_config_into_the_template(
    runner: Runner, flow: Path, tmp_path: Path
) -> None:
    import yaml

    env = runner.env(KUBECONFIG=str(tmp_path / "missing"))
    other = str(flow.parent / "other.json")
    top = ("--config", "cfg", other)
    result = runner(flow, "argo-workflows", "create", "--only-yaml", env=env, top=top)
    template = next(d for d in yaml.safe_load_all(result.stdout) if d)
    assert template["metadata"]["name"].startswith("otherproj.")  # @project from the config
    start = next(t for t in template["spec"]["templates"] if t["name"] == "start")
    env_vars = {e["name"]: e.get("value") for e in start["container"]["env"]}
    assert env_vars["GREETING"] == "other" and env_vars["CPU"] == "2"
    baked = json.loads(env_vars["GRANGE_FLOW_CONFIG_BOUND"])
    assert baked == {"flow": "ConfigFlow", "configs": {"cfg": OTHER}}
    assert start["retryStrategy"]["limit"] == "2"  # @retry(**cfg.retry)
    params = {p["name"]: p.get("value") for p in template["spec"]["arguments"]["parameters"]}
    assert params["alpha"] == "1.5"


KEYS_FLOW = """
from grange import Config, FlowSpec, step

class KeysFlow(FlowSpec):
    cfg = Config("cfg", default_value={"stages": {1: 4}, "pair": (1, 2)})
    req = Config("req", required=True)

    @step
    def start(self):
        self.seen = (self.cfg.to_dict(), self.req.to_dict())
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    KeysFlow()
"""


def test_a_task_sees_the_value_every_other_place_sees(
    runner: Runner, tmp_path: Path, fork: bool
) -> None:
    path = tmp_path / "keys_flow.py"
    path.write_text(textwrap.dedent(KEYS_FLOW))
    result = runner.run(path, fork=fork, top=("--config-value", "req", "{}"))
    run = Flow("KeysFlow")[str(result.run_id)]
    as_json = {"stages": {"1": 4}, "pair": [1, 2]}
    assert run["start"].task.data.seen == (as_json, {})
    assert run.data.cfg == as_json and run.config["cfg"] == as_json


def test_a_missing_config_blocks_only_what_needs_it(runner: Runner, tmp_path: Path) -> None:
    path = tmp_path / "keys_flow.py"
    path.write_text(textwrap.dedent(KEYS_FLOW))
    assert "--max-workers" in runner(path, "run", "--help").output
    out = runner(path, "logs", "1/start", ok=False).output
    assert "missing configuration" not in out
    out = _error(runner, path)
    assert "missing configuration for 'req': it is required and has no value" in out
    twice = ("--config-value", "req", "{}", "--config-value", "req", '{"a": 1}')
    result = runner.run(path, top=twice, ok=False)
    assert "config 'req' is given twice with --config-value" in result.output


def test_resume_ignores_a_bad_config_variable(runner: Runner, flow: Path) -> None:
    marker = flow.parent / "fail-now"
    marker.touch()
    given = {**DEFAULT, "fail_if": str(marker)}
    runner.run(flow, top=("--config-value", "cfg", json.dumps(given)), ok=False)
    marker.unlink()
    resumed = runner.resume(flow, env=runner.env(GRANGE_FLOW_CONFIG_VALUE="{bad"))
    assert Flow("ConfigFlow")[str(resumed.run_id)].data.cfg == given
