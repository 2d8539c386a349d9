"""``@project`` runs: ``--branch``/``--production`` reach every task (``current``), runs
carry their branch's system tags (a namespace of their own), resume stays on its
branch, and the profile's policy decides who may run ``--production``."""

from __future__ import annotations

from pathlib import Path

from grange import Flow, namespace
from support import USER, Runner

FLOW = "project_facts"


def facts(branch: str, *, production: bool = False, user_branch: bool = False) -> dict[str, object]:
    return {
        "project_name": "demo",
        "branch_name": branch,
        "project_flow_name": f"demo.{branch}.ProjectFactsFlow",
        "is_production": production,
        "is_user_branch": user_branch,
        "namespace": f"user:{USER}",  # as Metaflow's local runs, whatever the branch
    }


def test_every_task_knows_its_branch(runner: Runner, fork: bool) -> None:
    result = runner.run(FLOW, top=("--branch", "feature_1"), fork=fork)
    assert "Project: demo, branch: test.feature_1" in result.stderr
    run_id = result.run_id
    run = Flow("ProjectFactsFlow")[run_id]
    tasks = [run["start"].task, *run["work"], run["join"].task, run["end"].task]
    assert len(tasks) == 5
    for task in tasks:
        assert task.data.facts == facts("test.feature_1"), task.pathspec
    start = run["start"].task
    assert start.data.client_namespace == f"user:{USER}"
    assert start.data.task_obj.pathspec == start.pathspec
    namespace("no-such-namespace")  # objects looked up without the check pass that on
    assert start.data.run_obj["start"].task.pathspec == start.pathspec
    namespace(None)
    assert {"project:demo", "project_branch:test.feature_1", f"user:{USER}"} <= run.system_tags


def test_the_user_branch_production_and_options_after_the_command(runner: Runner) -> None:
    mine_id = runner.run(FLOW).run_id
    prod_id = runner.run(FLOW, "--production", "--branch", "v2").run_id
    mine, prod = Flow("ProjectFactsFlow")[mine_id], Flow("ProjectFactsFlow")[prod_id]
    assert mine["end"].task.data.facts == facts(f"user.{USER}", user_branch=True)
    assert prod["end"].task.data.facts == facts("prod.v2", production=True)
    assert "project_branch:prod.v2" in prod.system_tags


def test_branches_never_mix(runner: Runner) -> None:
    first_a = runner.run(FLOW, top=("--branch", "a")).run_id
    first_b = runner.run(FLOW, top=("--branch", "b")).run_id
    second_a = runner.run(FLOW, top=("--branch", "a")).run_id
    flow = Flow("ProjectFactsFlow")
    # A step reads the user's runs, as in Metaflow; a branch is a namespace of its own.
    assert flow[second_a]["start"].task.data.visible_runs == sorted([first_a, first_b, second_a])
    namespace("project_branch:test.b")
    assert [r.id for r in Flow("ProjectFactsFlow")] == [first_b]
    namespace(f"user:{USER}")
    assert {r.id for r in Flow("ProjectFactsFlow")} == {first_a, first_b, second_a}
    branch_a = Flow("ProjectFactsFlow").runs("project_branch:test.a")
    assert [r.id for r in branch_a] == [second_a, first_a]  # newest first
    namespace(None)

    # resume takes the user's latest run, which must be of the branch resumed on.
    latest = runner.resume(FLOW, "end", top=("--branch", "b"), ok=False)
    assert latest.returncode == 2 and "Traceback" not in latest.output
    assert (
        f"your latest run, ProjectFactsFlow/{second_a}, belongs to branch test.a, and this "
        "resume is on branch test.b" in latest.stderr
    )
    assert (
        "Fix: resume it on its own branch (--branch a); or resume your latest run of branch "
        f"test.b: --origin-run-id {first_b}" in latest.stderr
    )
    other = runner.resume(FLOW, "--origin-run-id", second_a, top=("--branch", "b"), ok=False)
    assert f"run ProjectFactsFlow/{second_a} belongs to branch test.a" in other.stderr
    resumed = runner.resume(FLOW, "end", "--origin-run-id", first_b, top=("--branch", "b"))
    run = flow[resumed.run_id or ""]
    assert run.origin_pathspec == f"ProjectFactsFlow/{first_b}"
    assert "project_branch:test.b" in run.system_tags
    assert run["end"].task.data.facts == facts("test.b")
    again = runner.resume(FLOW, "end", top=("--branch", "b"))  # its latest run is b's now
    assert flow[again.run_id or ""].origin_pathspec == f"ProjectFactsFlow/{resumed.run_id}"


def test_a_failed_run_says_how_to_resume_on_its_branch(runner: Runner, tmp_path: Path) -> None:
    flow = tmp_path / "failing.py"
    flow.write_text(
        "from grange import FlowSpec, project, step\n\n\n"
        "@project(name='demo')\n"
        "class FailingProjectFlow(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        raise ValueError('boom')\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n\n\n"
        "if __name__ == '__main__':\n"
        "    FailingProjectFlow()\n"
    )
    failed = runner.run(flow, top=("--branch", "x", "--production"), ok=False)
    assert "resume --origin-run-id" in failed.output
    hint = next(line for line in failed.output.splitlines() if "Resume with:" in line)
    assert "--branch x --production resume" in hint


def test_branch_and_production_from_the_environment(runner: Runner) -> None:
    env = runner.env(GRANGE_BRANCH="from_env", GRANGE_PRODUCTION="1")
    run_id = runner.run(FLOW, env=env).run_id
    assert Flow("ProjectFactsFlow")[run_id]["end"].task.data.facts == facts(
        "prod.from_env", production=True
    )
    runner.run("linear", env=env)  # a flow without @project ignores them, as Metaflow's


def test_branch_options_need_a_project(runner: Runner) -> None:
    for top in (("--branch", "x"), ("--production",)):
        result = runner.run("linear", top=top, ok=False)
        assert result.returncode == 2
        assert f"{top[0]} applies to flows in a project, and LinearRunFlow has no @project" in (
            result.stderr
        )
        assert "Fix: add @project(name='...') above 'class LinearRunFlow'" in result.stderr
        assert "Traceback" not in result.output
    bad = runner.run(FLOW, top=("--branch", "My-Branch"), ok=False)
    assert "--branch 'My-Branch': a branch name may contain only lowercase letters" in bad.stderr
    assert "Fix: pass e.g. --branch my-branch" in bad.stderr
    assert not (runner.root / "LinearRunFlow").exists()


def test_the_profile_decides_who_may_run_production(runner: Runner, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[profiles.dev]\n\n[profiles.dev.policy]\nallow_production_deploy = false\n")
    env = runner.env(GRANGE_CONFIG=str(config), GRANGE_PROFILE="dev")
    refused = runner.run(FLOW, top=("--production",), env=env, ok=False)
    assert refused.returncode == 2
    assert (
        "config.toml:4: Refused by policy: profile 'dev' refuses a --production run: rule "
        "[profiles.dev.policy] allow_production_deploy = false" in refused.stderr
    )
    assert (
        "Fix: run from a profile that allows it (--profile NAME), or run without --production"
        in (refused.stderr)
    )
    assert not (runner.root / "ProjectFactsFlow").exists()  # nothing was registered
    assert runner.run(FLOW, top=("--branch", "x"), env=env).run_id is not None
