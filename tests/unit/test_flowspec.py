"""``FlowSpec`` itself: instantiating the base class is a clear error at the user's line."""

from __future__ import annotations

import sys

import pytest

from grange import FlowSpec


def test_instantiating_the_base_class_points_at_the_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = sys._getframe().f_lineno + 2
    with pytest.raises(SystemExit) as info:
        FlowSpec()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"test_flowspec.py:{line}: Invalid flow: FlowSpec() starts nothing" in err
    assert "instantiate your flow class" in err
    assert "grange/" not in err
