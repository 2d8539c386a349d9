"""@pypi requirement lines: the version-spec rule, and what is refused before uv sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from env_support import pypi_spec
from grange.environments.pypi import requirement_line, requirement_lines
from grange.exceptions import EnvError


@pytest.mark.parametrize(
    ("name", "version", "line"),
    [
        ("tabulate", "0.9.0", "tabulate==0.9.0"),
        ("tabulate", "==0.9.0", "tabulate==0.9.0"),
        ("tabulate", " 0.9.0 ", "tabulate==0.9.0"),
        ("numpy", ">=1.2,<2", "numpy>=1.2,<2"),
        ("numpy", ">= 1.2 , < 2", "numpy>=1.2,<2"),
        ("numpy", "~=1.4", "numpy~=1.4"),
        ("numpy", "!=1.5", "numpy!=1.5"),
        ("numpy", "==1.*", "numpy==1.*"),
        ("numpy", "", "numpy"),
        ("Foo.Bar_baz", "1", "foo-bar-baz==1"),
        ("apache-beam[GCP, aws]", "2.0", "apache-beam[aws,gcp]==2.0"),
        (
            "pkg",
            "@ https://example.com/pkg-1.0-py3-none-any.whl",
            "pkg @ https://example.com/pkg-1.0-py3-none-any.whl",
        ),
        ("torch", "2.1.0+cpu", "torch==2.1.0+cpu"),
    ],
)
def test_the_version_spec_rule(name: str, version: str, line: str) -> None:
    assert requirement_lines(pypi_spec((name, version))) == [line]


def test_lines_are_sorted_and_deduplicated() -> None:
    spec = pypi_spec(("b", "1"), ("a", ""), ("A", ""))
    assert requirement_lines(spec) == ["a", "b==1"]


@pytest.mark.parametrize(
    ("name", "version", "said"),
    [
        ("x; rm -rf /", "1", "is not a valid name"),
        ("x y", "1", "is not a valid name"),
        ("-r", "1", "is not a valid name"),
        ("--index-url", "http://evil", "is not a valid name"),
        ("", "1", "is not a valid name"),
        ("ok[", "1", "is not a valid name"),
        ("tabulate", "0.9.0\n--index-url http://evil/simple", "is not a version spec"),
        ("tabulate", "0.9.0 --index-url=http://evil", "is not a version spec"),
        ("tabulate", "==0.9.0; os.system('x')", "is not a version spec"),
        ("tabulate", ">=1 \n evil", "is not a version spec"),
        ("tabulate", "@ http://x y", "is not a version spec"),
        ("tabulate", "@ ftp://x", "is not a version spec"),
        ("tabulate", "1 2", "is not a version spec"),
        ("tabulate", ">=", "is not a version spec"),
        ("tabulate", 1.5, "must be a string"),
    ],
)
def test_hostile_or_broken_requirements_are_refused(name: str, version: object, said: str) -> None:
    spec = pypi_spec((name, version))  # type: ignore[arg-type]
    with pytest.raises(EnvError) as caught:
        requirement_lines(spec)
    err = caught.value
    assert said in err.message
    assert err.message.startswith("@pypi: ")
    assert (err.step, err.file, err.line) == ("start", "flow.py", 12)
    assert err.fix


@pytest.mark.parametrize("url", ["file:///srv/mypkg", "file:///srv/mypkg-1.0-py3-none-any.whl"])
def test_a_local_path_is_refused_with_the_fix(url: str) -> None:
    with pytest.raises(EnvError, match="local path") as err:
        requirement_line("mypkg", f"@ {url}", pypi_spec())
    assert "find_links" in str(err.value.fix) and err.value.step == "start"


def test_credentials_in_a_url_are_masked_in_what_is_recorded(tmp_path: Path) -> None:
    from grange.environments import manager
    from grange.environments.settings import EnvSettings

    url = "@ https://me:s3cret@host.example/pkg-1.0-py3-none-any.whl"
    requested = manager._requested(pypi_spec(("pkg", url)), EnvSettings(cache_dir=tmp_path))
    assert requested["packages"]["pkg"] == "@ https://me:***@host.example/pkg-1.0-py3-none-any.whl"
    text = (
        '[[packages]]\nname = "pkg"\nversion = "1.0"\n'
        '[packages.archive]\nurl = "https://tok@h/p.whl"\n'
    )
    from grange.environments.pypi import parse_packages

    assert "tok" not in repr(parse_packages(text))
