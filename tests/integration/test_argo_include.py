"""IncludeFile parameters on Argo: the default file stored at deploy time, another
given at trigger time, read by the start pod from the datastore as a local run
reads the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.argo_schema import validate
from tests.integration.test_argo_e2e import deploy, trigger

from argo_executor import run_workflow
from grange import Flow
from grange.datastore import DatastoreLocation
from grange.deploy.argo.include import store_include_files
from grange.deploy.argo.trigger import trigger_workflow
from support import RUN_FLOWS, USER, Runner, load_flow

FLOW = RUN_FLOWS / "include" / "include_file.py"


def test_the_default_file_is_stored_at_deploy_time(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FLOW.parent)  # the default, notes.txt, is relative to here
    template = deploy(str(runner.root), FLOW)
    monkeypatch.chdir(runner.cwd)
    result, run_id = trigger(runner, template)
    assert result.phase == "Succeeded", result.explain()
    run = Flow("IncludeFileFlow")[run_id]
    assert run.data.notes == "alpha\nbeta é\n" and run.data.blob is None
    assert run.data.again == run.data.notes
    local = runner.run(FLOW, "--notes", str(FLOW.parent / "notes.txt"))
    assert Flow("IncludeFileFlow")[str(local.run_id)].data.seen == run.data.seen


def test_a_file_given_at_trigger_time(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(FLOW.parent)
    template = deploy(str(runner.root), FLOW)
    (tmp_path / "other.txt").write_text("other notes\n")
    (tmp_path / "data.bin").write_bytes(bytes(range(256)))
    blobs = DatastoreLocation.of(str(runner.root)).open()
    refs = store_include_files(
        load_flow(FLOW),
        blobs,
        {"notes": tmp_path / "other.txt", "blob": tmp_path / "data.bin"},
        defaults=False,
    )
    workflow = trigger_workflow(template, refs, USER)  # what `trigger --notes PATH` submits
    assert validate(workflow) == []
    result = run_workflow(template, workflow, env=runner.env(), cwd=runner.cwd, time_scale=0.001)
    assert result.phase == "Succeeded", result.explain()
    run = Flow("IncludeFileFlow")[f"argo-{result.name}"]
    assert run.data.seen == ("other notes\n", bytes(range(256)))
