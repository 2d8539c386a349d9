"""Profiles as a user types them: ``--profile``, ``GRANGE_PROFILE``, ``default_profile``,
``grange config show``, and policy refusing a run before anything is stored."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flow_runs import clean_env, python
from support import FLOWS, POSTGRES_ENV, postgres_schema

GRANGE = "import sys; from grange.cli.main import main; sys.argv[0] = 'grange'; main()"
PASSWORD = "hunter2-very-secret"


@dataclass(frozen=True)
class Project:
    folder: Path
    config: Path

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(GRANGE_USER="ada", GRANGE_CONFIG=str(self.config), **extra)

    def flow(self, name: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return python(self.folder / name, *args, cwd=self.folder, env=self.env(**env), check=False)

    def grange(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return python("-c", GRANGE, *args, cwd=self.folder, env=self.env(**env), check=False)

    def store(self, profile: str) -> Path:
        return self.folder / f"{profile}-store"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    for name in ("profile_flow.py", "big_flow.py", "secret_flow.py"):
        shutil.copy(FLOWS / "profiles" / name, tmp_path / name)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""\
default_profile = "dev"

[profiles.dev]
datastore_root = "{tmp_path}/dev-store"

[profiles.team]
datastore_root = "{tmp_path}/team-store"
metadata = "postgresql://grange:{PASSWORD}@db.invalid/grange"

[profiles.team.kubernetes]
namespace = "team"
api_token = "{PASSWORD}"

[profiles.prod]
datastore_root = "{tmp_path}/prod-store"

[profiles.prod.policy]
allowed_datastore_roots = ["{tmp_path}/prod-store"]
max_resources = {{ cpu = 16, memory = 64000 }}
required_tags = ["team:*"]
"""
    )
    return Project(tmp_path, config)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def stored_flows(store: Path) -> list[str]:
    return sorted(p.name for p in store.iterdir() if p.is_dir()) if store.exists() else []


def test_config_show_says_where_each_value_comes_from_and_masks_secrets(project: Project) -> None:
    shown = project.grange("config", "show", "--profile", "team")
    assert shown.returncode == 0, output(shown)
    text = shown.stdout
    assert PASSWORD not in output(shown)
    assert "profile       team  (flag: --profile)" in text
    assert "metadata        postgresql://grange:***@db.invalid/grange  (profile: " in text
    assert f"datastore_root  {project.folder}/team-store  (profile: {project.config}:7)" in text
    assert '  api_token = "***"' in text

    as_json = project.grange("--profile", "team", "config", "show", "--json")
    assert as_json.returncode == 0, output(as_json)
    assert PASSWORD not in output(as_json)
    report = json.loads(as_json.stdout)
    assert report["profile"] == {"value": "team", "source": "flag", "origin": "--profile"}
    assert report["settings"]["metadata"]["value"] == "postgresql://grange:***@db.invalid/grange"
    assert report["kubernetes"] == {"namespace": "team", "api_token": "***"}

    by_env = project.grange("config", "show", "--json", GRANGE_METADATA="local")
    settings = json.loads(by_env.stdout)["settings"]
    assert json.loads(by_env.stdout)["profile"]["value"] == "dev"  # default_profile
    assert settings["metadata"] == {"value": "local", "source": "env", "origin": "GRANGE_METADATA"}


def test_config_show_without_a_file_shows_the_defaults(project: Project) -> None:
    result = python(
        "-c",
        GRANGE,
        "config",
        "show",
        cwd=project.folder,
        env=clean_env(HOME=str(project.folder / "home")),
        check=False,
    )
    assert result.returncode == 0, output(result)
    assert "(none: defaults in use)" in result.stdout
    assert "profile       (none)" in result.stdout
    assert f"datastore_root  {project.folder}/.grange  (default: the nearest .grange/)" in (
        result.stdout
    )


def test_an_unknown_profile_lists_the_profiles(project: Project) -> None:
    for result in (
        project.grange("--profile", "prdo", "runs"),
        project.flow("profile_flow.py", "--profile", "prdo", "run"),
        project.flow("profile_flow.py", "run", GRANGE_PROFILE="prdo"),
    ):
        assert result.returncode == 2, output(result)
        assert f"no profile 'prdo' in {project.config}" in result.stderr
        assert "did you mean 'prod'? profiles defined: dev, prod, team" in result.stderr
        assert "Traceback" not in result.stderr


def test_the_profile_chooses_the_stores_and_reaches_the_tasks(project: Project) -> None:
    by_default = project.flow("profile_flow.py", "run")
    assert by_default.returncode == 0, output(by_default)
    assert stored_flows(project.store("dev")) == ["ProfileFlow"]
    by_flag = project.flow("profile_flow.py", "--profile", "prod", "run", "--tag", "team:ml")
    assert by_flag.returncode == 0, output(by_flag)
    by_env = project.flow(
        "profile_flow.py", "run", "--no-fork", "--tag", "team:ml", GRANGE_PROFILE="prod"
    )
    assert by_env.returncode == 0, output(by_env)
    assert stored_flows(project.store("prod")) == ["ProfileFlow"]
    assert not (project.folder / ".grange").exists()

    runs = project.grange("--profile", "prod", "runs", "ProfileFlow")
    assert runs.returncode == 0, output(runs)
    assert [line.split()[0] for line in runs.stdout.splitlines()[1:]] == ["2", "1"]
    status = project.grange("--profile", "prod", "db", "status")
    assert status.returncode == 0, output(status)
    assert f"{project.store('prod')}/metadata.db" in status.stdout
    dev_runs = project.grange("runs", "ProfileFlow")
    assert [line.split()[0] for line in dev_runs.stdout.splitlines()[1:]] == ["1"]

    for run_id in ("1", "2"):  # forked, then fresh interpreters: both under 'prod'
        dump = project.flow("profile_flow.py", "--profile", "prod", "dump", f"{run_id}/start")
        assert dump.returncode == 0, output(dump)
        assert "profile [size:" in dump.stdout and "= 'prod'" in dump.stdout
    dev_dump = project.flow("profile_flow.py", "dump", "1/start")
    assert "= 'dev'" in dev_dump.stdout


def test_a_refused_run_leaves_nothing_behind(project: Project) -> None:
    untagged = project.flow("profile_flow.py", "--profile", "prod", "run")
    assert untagged.returncode == 2, output(untagged)
    assert f"{project.config.name}:20: Refused by policy: profile 'prod' refuses a run" in (
        untagged.stderr
    )
    assert 'required_tags = ["team:*"]' in untagged.stderr
    assert "Fix: add one: --tag team:NAME" in untagged.stderr

    elsewhere = project.flow(
        "profile_flow.py",
        "--profile",
        "prod",
        "--datastore-root",
        str(project.folder / "mine"),
        "run",
        "--tag",
        "team:ml",
    )
    assert elsewhere.returncode == 2, output(elsewhere)
    assert f"refuses the datastore root '{project.folder}/mine'" in elsewhere.stderr

    resumed = project.flow("profile_flow.py", "--profile", "prod", "resume")
    assert resumed.returncode == 2 and "required_tags" in resumed.stderr
    assert not project.store("prod").exists()
    assert not (project.folder / "mine").exists()


def test_resources_above_the_policy_name_the_step_and_line(project: Project) -> None:
    big = project.flow("big_flow.py", "--profile", "prod", "run", "--tag", "team:ml")
    assert big.returncode == 2, output(big)
    assert big.stderr.startswith(
        "big_flow.py:11, step 'train': Refused by policy: profile 'prod' refuses "
        "@resources(cpu=32) on step 'train': at most cpu=16: rule [profiles.prod.policy] "
        f"max_resources = {{ cpu = 16, memory = 64000 }} ({project.config}:19)"
    )
    added = project.flow(
        "profile_flow.py",
        "--profile",
        "prod",
        "run",
        "--tag",
        "team:ml",
        "--with",
        "resources:memory=100000",
    )
    assert added.returncode == 2, output(added)
    assert "step 'start': Refused by policy" in added.stderr
    assert "--with resources(memory=100000) on step 'start'" in added.stderr
    assert not project.store("prod").exists()
    # the same flow under a profile without the rule runs
    assert project.flow("profile_flow.py", "run", "--with", "resources:memory=100").returncode == 0


def test_a_broken_file_is_named_with_its_line_and_a_suggestion(project: Project) -> None:
    project.config.write_text('[profiles.dev]\ndatastore_rot = "/srv"\n')
    for result in (project.grange("config", "show"), project.flow("profile_flow.py", "run")):
        assert result.returncode == 2, output(result)
        assert result.stderr.startswith(
            f"{project.config.name}:2: Invalid configuration: [profiles.dev] datastore_rot: "
            "is not a known key\n  Fix: did you mean 'datastore_root'?"
        ), result.stderr
    assert not (project.folder / ".grange").exists()


@pytest.fixture
def schema_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (dropped afterwards); the test is skipped without a server."""
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set")
    yield from postgres_schema(os.environ[POSTGRES_ENV])


def test_a_postgresql_profile_with_its_password_from_the_environment(
    project: Project, schema_url: str
) -> None:
    scheme, _, rest = schema_url.partition("://")
    user, _, host = rest.partition("@")
    url = f"{scheme}://{user}:${{PG_TEST_PASSWORD}}@{host}"  # the server trusts loopback
    project.config.write_text(
        f'[profiles.team]\ndatastore_root = "{project.folder}/team-store"\nmetadata = "{url}"\n'
    )
    secret = {"PG_TEST_PASSWORD": PASSWORD}
    for args in (("run",), ("run", "--no-fork")):
        ran = project.flow("profile_flow.py", "--profile", "team", *args, **secret)
        assert ran.returncode == 0, output(ran)
        assert PASSWORD not in output(ran)
    runs = project.grange("--profile", "team", "runs", "ProfileFlow", **secret)
    assert runs.returncode == 0, output(runs)
    assert [line.split()[0] for line in runs.stdout.splitlines()[1:]] == ["2", "1"]
    assert not (project.store("team") / "metadata.db").exists()  # the index is PostgreSQL's
    shown = project.grange("--profile", "team", "config", "show", "--json", **secret)
    assert json.loads(shown.stdout)["settings"]["metadata"]["value"].startswith(
        f"{scheme}://{user}:***@"
    )
    for path in project.store("team").rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    missing = project.grange("--profile", "team", "runs")
    assert missing.returncode == 2
    assert "uses ${PG_TEST_PASSWORD}, but PG_TEST_PASSWORD is not set" in missing.stderr


def test_a_failed_run_under_a_profile_says_how_to_resume_under_it(project: Project) -> None:
    (project.folder / "fails.py").write_text(
        "from grange import FlowSpec, step\n\n\n"
        "class FailsFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        int('no')\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n\n\n"
        "if __name__ == '__main__':\n    FailsFlow()\n"
    )
    failed = project.flow("fails.py", "--profile", "prod", "run", "--tag", "team:ml")
    assert failed.returncode == 1, output(failed)
    assert "Resume with: python fails.py --profile prod resume --origin-run-id 1" in failed.stdout
    resumed = project.flow("fails.py", "--profile", "prod", "resume", "--origin-run-id", "1")
    assert "required_tags" in resumed.stderr  # the same policy applies to the resume


def test_the_profile_sets_the_secrets_provider_and_which_sources_may_be_read(
    project: Project,
) -> None:
    with project.config.open("a") as fh:
        fh.write(
            "\n[profiles.dev.secrets]\n"
            'default_provider = "env"\nallowed_sources = ["PROD_*"]\n'
            "\n[profiles.team.secrets]\n"
            'default_provider = "env"\nallowed_sources = ["TEAM_*"]\n'
        )
    secret = {"PROD_DB": json.dumps({"DB_PASSWORD": PASSWORD})}
    ran = project.flow("secret_flow.py", "run", **secret)  # dev: default_profile
    assert ran.returncode == 0, output(ran)
    assert PASSWORD not in output(ran)
    dump = project.flow("secret_flow.py", "dump", "1/start")
    assert "got_password [size:" in dump.stdout and "= True" in dump.stdout

    refused = project.flow("secret_flow.py", "--profile", "team", "run", **secret)
    assert refused.returncode == 2, output(refused)
    assert refused.stderr.startswith("secret_flow.py:9, step 'start': Refused by policy:")
    assert "profile 'team'" in refused.stderr and "TEAM_*" in refused.stderr
    assert not project.store("team").exists()
