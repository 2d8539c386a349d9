"""The datastore's key index, for real (uv, tabulate==0.9.0 from PyPI): a lock a run or
a deployment stored is what every later run and deployment on that datastore reuses,
whatever its machine's local lock cache holds (empty here: another GRANGE_ENV_CACHE)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from grange import Flow
from grange.environments.settings import default_cache_dir
from support import Runner

FLOWS = Path(__file__).parents[1] / "flows"
PYPI_STEP = FLOWS / "envpods" / "pypi_step.py"


def _run(runner: Runner, cache: Path, flow: Path) -> tuple[str, str]:
    """Run ``flow`` with the environment cache ``cache``: (its output, the run id)."""
    argv, id_file = runner.argv(flow, "run")
    env = runner.env(GRANGE_ENV_CACHE=str(cache))
    proc = subprocess.run(argv, cwd=runner.cwd, env=env, capture_output=True, text=True)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 0, said
    assert id_file is not None
    return said, id_file.read_text().strip()


def _index(runner: Runner) -> dict[str, str]:
    return {
        p.stem: json.loads(p.read_text())["sha"]
        for p in (runner.root / "envs" / "keys").glob("*.json")
    }


@pytest.mark.slow
def test_a_second_machine_reuses_the_lock_of_the_first(runner: Runner, tmp_path: Path) -> None:
    """(a) The second run has an empty local cache: it resolves nothing, says whose
    environment it reuses, and records the first run's lock."""
    said, first = _run(runner, default_cache_dir(), PYPI_STEP)
    assert "Reusing the team's" not in said
    said, second = _run(runner, tmp_path / "other-machine", PYPI_STEP)
    assert "Resolved" not in said, said
    before = Flow("PypiStepFlow")[first].environment["table"]
    after = Flow("PypiStepFlow")[second].environment["table"]
    assert f"Reusing the team's @pypi environment {before['sha'][:12]} for table " in said
    assert "(resolved by an earlier run)" in said
    assert after["sha"] == before["sha"] and after["lock_key"] == before["lock_key"]
    assert _index(runner) == {before["key"]: before["sha"]}
    # ... and it is now in that machine's local lock cache
    assert (tmp_path / "other-machine" / "locks" / f"{before['key']}.json").is_file()


def _deploy(runner: Runner, cache: Path) -> tuple[str, str]:
    """``argo-workflows create`` with the environment cache ``cache``: (stderr, lock sha)."""
    import yaml

    env = runner.env(GRANGE_ENV_CACHE=str(cache), KUBECONFIG=str(runner.cwd / "missing"))
    result = runner(PYPI_STEP, "argo-workflows", "create", "--only-yaml", env=env)
    template = next(d for d in yaml.safe_load_all(result.stdout) if d)
    steps = {t["name"]: t for t in template["spec"]["templates"]}
    command = steps["table"]["container"]["command"]
    return result.stderr, command[command.index("--env-lock-sha") + 1]


@pytest.mark.slow
def test_a_deploy_reuses_the_lock_of_a_run(runner: Runner, tmp_path: Path) -> None:
    """(b) On Linux x86_64 the pods' platform (x86_64-manylinux_2_28) is this machine's
    and a local datastore adds no runtime package: a run's lock has the pods' key, so
    a deploy from an empty local cache gives the pods exactly the run's lock; a second
    deploy from another empty cache the same again."""
    _said, run_id = _run(runner, default_cache_dir(), PYPI_STEP)
    recorded = Flow("PypiStepFlow")[run_id].environment["table"]
    if recorded["platform"] != "x86_64-manylinux_2_28":
        pytest.skip(f"this machine's platform is {recorded['platform']}, not the pods'")
    _said, deployed = _deploy(runner, tmp_path / "deploy-machine")
    assert deployed == recorded["sha"]
    _said, again = _deploy(runner, tmp_path / "another-deploy-machine")
    assert again == recorded["sha"]
    assert _index(runner) == {recorded["key"]: recorded["sha"]}


@pytest.mark.slow
def test_a_tampered_index_entry_stops_the_run_with_the_fix(runner: Runner, tmp_path: Path) -> None:
    """(c) An index entry pointing to another lock: the run stops before its claim,
    naming the step, the entry and the fix (delete it)."""
    _said, run_id = _run(runner, default_cache_dir(), PYPI_STEP)
    key = Flow("PypiStepFlow")[run_id].environment["table"]["key"]
    entry = runner.root / "envs" / "keys" / f"{key}.json"
    entry.write_text(json.dumps({**json.loads(entry.read_text()), "sha": "0" * 64}))
    argv, _id_file = runner.argv(PYPI_STEP, "run")
    env = runner.env(GRANGE_ENV_CACHE=str(tmp_path / "other-machine"))
    proc = subprocess.run(argv, cwd=runner.cwd, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    said = proc.stdout + proc.stderr
    assert "pypi_step.py:21, step 'table': Environment error:" in said, said
    assert f"envs/keys/{key}.json" in said and "is damaged" in said
    assert f"Fix: delete envs/keys/{key}.json from the datastore" in said
    assert "Traceback" not in said
