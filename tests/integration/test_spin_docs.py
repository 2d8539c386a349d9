"""docs/programmatic.md, section "spin: re-run one step": its flow, commands and code, run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from flow_runs import clean_env, python

PAGE = Path(__file__).parents[2] / "docs" / "programmatic.md"


def _section() -> tuple[str, str, str, str]:
    text = PAGE.read_text().split("## spin: re-run one step", 1)[1]
    flow, fake, reading = re.findall(r"```python\n(.*?)```", text, re.S)[:3]  # then Runner.spin
    shown = re.findall(r"```\n(\$ .*?)```", text, re.S)[0]
    return flow, fake, reading, shown


def test_the_spin_section_runs_as_written(tmp_path: Path) -> None:
    flow, fake, reading, shown = _section()
    (tmp_path / "train.py").write_text(flow)
    (tmp_path / "fake.py").write_text(fake)
    env = clean_env(GRANGE_USER="ada")
    python(tmp_path / "train.py", "run", "--alpha", "2", cwd=tmp_path, env=env)
    result = python(tmp_path / "train.py", "spin", "train", cwd=tmp_path, env=env)
    # Every line the page shows, but the timing and the folder.
    for line in shown.splitlines()[2:-1]:
        line = line.split("  #")[0]
        if "succeeded in" in line:
            line = line.split(" in ")[0]
        assert line.strip() in result.stdout + result.stderr, (line, result.stdout)
    given = python(
        tmp_path / "train.py", "spin", "train", "--artifacts-module", "fake.py",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert "model  float  30.0  (new)" in given.stdout
    code = reading.replace("print(", "print('VALUE', ")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "VALUE 30.0" in out.stdout  # the latest spin: spin-2, with fake.py
