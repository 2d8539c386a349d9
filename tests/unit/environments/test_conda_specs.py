"""What ``@conda`` hands the solver: match specs (Metaflow's meaning of a version),
channels, the target's virtual packages, and the checks that refuse anything else
before rattler sees it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from grange.decorators.options import EnvSpec
from grange.environments import conda, conda_specs
from grange.environments.envlock import EnvLock
from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError

rattler = pytest.importorskip("rattler")

SPEC = EnvSpec(kind="conda", step="train", decorator="@conda", file="/flows/flow.py", line=12)
HOST_XY = "{}.{}".format(*sys.version_info[:2])


def spec(*packages: tuple[str, str], python: str | None = None, **kw: object) -> EnvSpec:
    return EnvSpec(
        kind="conda",
        packages=tuple(sorted(packages)),
        python=python,
        step="train",
        decorator="@conda",
        file="/flows/flow.py",
        line=12,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.22.0", "pandas ==0.22.0"),  # Metaflow: a bare version is that version
        (">=1.2", "pandas >=1.2"),
        (">=1.2,<2", "pandas >=1.2,<2"),
        ("<2", "pandas <2"),
        ("!=1.3", "pandas !=1.3"),
        ("~=1.4", "pandas ~=1.4"),
        ("==1.5", "pandas ==1.5"),
        ("=1.6", "pandas =1.6"),  # conda's fuzzy 1.6.*
        ("1.7.*", "pandas 1.7.*"),
        ("1.0 py_0", "pandas ==1.0 py_0"),  # a build string after the version
        ("", "pandas"),
        ("  2.0 ", "pandas ==2.0"),
    ],
)
def test_version_specs_mean_what_metaflow_means(version: str, expected: str) -> None:
    assert conda_specs.package_spec("pandas", version, SPEC) == expected
    rattler.MatchSpec(expected, strict=True)  # and rattler takes it


@pytest.mark.parametrize(
    "version",
    [
        "1.0\nfoo",
        "1.0[url=http://evil/x.tar.bz2]",
        "conda-forge::1.0",
        "1.0; rm -rf /",
        "'1.0'",
        "1.0 $(id)",
        "1.0#md5",
        "1.0 a b",
    ],
)
def test_hostile_versions_are_refused_before_the_solver(version: str) -> None:
    with pytest.raises(EnvError) as err:
        conda_specs.package_spec("pandas", version, SPEC)
    assert "is not a conda version spec" in err.value.message
    assert "'pandas'" in err.value.message
    assert (err.value.step, err.value.file, err.value.line) == ("train", "/flows/flow.py", 12)
    assert err.value.fix


@pytest.mark.parametrize("name", ["", "a b", "pkg[url=http://x]", "../pkg", "-pkg", "pkg\n"])
def test_hostile_names_are_refused(name: str) -> None:
    with pytest.raises(EnvError, match="is not a conda package name"):
        conda_specs.package_spec(name, "1.0", SPEC)


def test_a_version_rattler_cannot_parse_names_the_package() -> None:
    with pytest.raises(EnvError) as err:
        conda_specs.match_specs(spec(("pandas", "1.0|1.2")), rattler)
    assert "'pandas ==1.0|1.2' is not a valid conda package spec" in err.value.message
    assert "@conda(packages=...)" in (err.value.fix or "")


@pytest.mark.parametrize(
    ("python", "expected"),
    [
        (None, f"python {HOST_XY}.*"),
        ("3.10", "python 3.10.*"),
        ("3.11.7", "python ==3.11.7"),
        (">=3.10", "python >=3.10"),
    ],
)
def test_python_spec(python: str | None, expected: str) -> None:
    assert conda_specs.python_spec(python) == expected


def test_match_specs_add_python_after_the_packages() -> None:
    specs = conda_specs.match_specs(spec(("numpy", "1.26.4"), ("pandas", "")), rattler)
    assert [str(s) for s in specs] == ["numpy ==1.26.4", "pandas", f"python {HOST_XY}.*"]


def test_python_in_packages_is_used_instead_of_the_default() -> None:
    specs = conda_specs.match_specs(spec(("python", "3.10.*")), rattler)
    assert [str(s) for s in specs] == ["python 3.10.*"]


def test_python_asked_twice_is_an_error() -> None:
    with pytest.raises(EnvError, match="Python is asked twice"):
        conda_specs.match_specs(spec(("python", "3.10"), python="3.11"), rattler)


def test_a_python_that_is_no_version_is_refused() -> None:
    with pytest.raises(EnvError, match="is not a Python version"):
        conda_specs.match_specs(spec(python="3.11; rm"), rattler)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("conda-forge", "https://conda.anaconda.org/conda-forge"),
        ("bioconda", "https://conda.anaconda.org/bioconda"),
        ("conda-forge/label/main", "https://conda.anaconda.org/conda-forge/label/main"),
        ("https://repo.example.com/chan/", "https://repo.example.com/chan"),
        ("http://127.0.0.1:9/x", "http://127.0.0.1:9/x"),
        ("file:///srv/chan", "file:///srv/chan"),
        ("/srv/chan", "file:///srv/chan"),
    ],
)
def test_channel_urls(raw: str, expected: str) -> None:
    assert conda_specs.channel_url(raw, SPEC) == expected


def test_relative_and_home_folders_become_file_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert conda_specs.channel_url("./chan", SPEC) == (tmp_path / "chan").resolve().as_uri()
    assert conda_specs.channel_url("~/chan", SPEC) == (tmp_path / "home/chan").resolve().as_uri()


@pytest.mark.parametrize(
    "raw", ["", "ftp://host/chan", "a b", "chan\n", "http://", "javascript:alert(1)", "x::y"]
)
def test_what_is_no_channel_is_refused(raw: str) -> None:
    with pytest.raises(EnvError, match="is not a conda channel") as err:
        conda_specs.channel_url(raw, SPEC)
    assert "[environments] channels" in (err.value.fix or "")


def test_profile_channels_come_first_then_the_decorators_once_each(tmp_path: Path) -> None:
    settings = EnvSettings(cache_dir=tmp_path, channels=("conda-forge", "/srv/chan"))
    urls = conda_specs.channel_urls(spec(channels=("bioconda", "conda-forge")), settings)
    assert urls == [
        "https://conda.anaconda.org/conda-forge",
        "file:///srv/chan",
        "https://conda.anaconda.org/bioconda",
    ]


def test_the_default_channel_is_conda_forge(tmp_path: Path) -> None:
    assert conda_specs.channel_urls(SPEC, EnvSettings(cache_dir=tmp_path)) == [
        "https://conda.anaconda.org/conda-forge"
    ]


def test_no_channel_at_all_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EnvError, match="no conda channel"):
        conda_specs.channel_urls(SPEC, EnvSettings(cache_dir=tmp_path, channels=()))


def test_an_unknown_platform_is_refused() -> None:
    with pytest.raises(EnvError, match="'linux-65' is not a conda platform"):
        conda_specs.subdir("linux-65", SPEC, rattler)


def names(packages: list[object]) -> dict[str, str]:
    out = {}
    for package in packages:
        generic = package.into_generic() if hasattr(package, "into_generic") else package
        out[generic.name.normalized] = str(generic.version)  # type: ignore[attr-defined]
    return out


def test_virtual_packages_of_this_machine_are_detected() -> None:
    here = str(rattler.Subdir.current())
    found = names(conda_specs.virtual_packages(here, rattler))
    if here.startswith("linux"):
        assert "__glibc" in found and "__linux" in found


def test_virtual_packages_of_another_platform_are_fixed() -> None:
    here = str(rattler.Subdir.current())
    other = "osx-arm64" if not here.startswith("osx") else "linux-64"
    found = names(conda_specs.virtual_packages(other, rattler))
    if other == "osx-arm64":
        assert found == {"__unix": "0", "__osx": "11.0"}
    else:
        assert found == {"__unix": "0", "__linux": "5.10", "__glibc": "2.28"}


def test_without_py_rattler_conda_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "rattler", None)  # import rattler -> ImportError
    settings = EnvSettings(cache_dir=tmp_path)
    with pytest.raises(EnvError) as err:
        conda.lock(SPEC, settings, python=None, platform="linux-64")
    assert err.value.message == "@conda needs py-rattler: pip install 'grange[conda]'"
    lock = EnvLock(kind="conda", key="k", python="3.11.7", platform="linux-64", text="", tool="")
    with pytest.raises(EnvError, match=r"pip install 'grange\[conda\]'"):
        conda.install(lock, settings, tmp_path / "env")


def test_a_lock_for_another_platform_is_not_installed_here(tmp_path: Path) -> None:
    here = str(rattler.Subdir.current())
    other = "osx-arm64" if not here.startswith("osx") else "linux-64"
    lock = EnvLock(kind="conda", key="k", python="3.11.7", platform=other, text="x", tool="")
    with pytest.raises(EnvError, match=f"locked for {other}; this machine is {here}"):
        conda.install(lock, EnvSettings(cache_dir=tmp_path), tmp_path / "env")


@pytest.mark.parametrize("text", ["", "not: [a lock", "version: 7\nplatforms: []\n"])
def test_a_damaged_lock_is_an_env_error(tmp_path: Path, text: str) -> None:
    here = str(rattler.Subdir.current())
    lock = EnvLock(kind="conda", key="k", python="3.11.7", platform=here, text=text, tool="")
    with pytest.raises(EnvError, match="is not a rattler lock file"):
        conda.install(lock, EnvSettings(cache_dir=tmp_path), tmp_path / "env")


@pytest.mark.parametrize(
    ("name", "final"),
    [
        (".0123abcd.tmp-4242-9f86d081", "0123abcd"),
        (".env.with.dots.tmp-1-ab", "env.with.dots"),
        ("env", None),
        (".env.tmp-x-ab", None),
        (".env.tmp-12-XY", None),
        ("env.tmp-12-ab", None),
    ],
)
def test_the_final_place_of_the_managers_build_folder(name: str, final: str | None) -> None:
    expected = Path("/cache/envs") / final if final else None
    assert conda.final_place(Path("/cache/envs") / name) == expected


def test_the_managers_build_folder_is_named_as_final_place_reads_it(tmp_path: Path) -> None:
    from grange.environments import cache

    final = tmp_path / "envs" / "0123abcd"
    assert conda.final_place(cache.temp_dir(final)) == final


def test_a_py_rattler_too_old_is_said_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delattr(rattler, "Subdir")
    with pytest.raises(EnvError, match=r"needs py-rattler 0\.28 or later"):
        conda.lock(SPEC, EnvSettings(cache_dir=tmp_path), python=None, platform="linux-64")


def test_a_lock_of_a_newer_format_says_so(tmp_path: Path) -> None:
    here = str(rattler.Subdir.current())
    text = f"version: 99\nplatforms:\n- name: {here}\nenvironments: {{}}\npackages: []\n"
    lock = EnvLock(kind="conda", key="k", python="3.11.7", platform=here, text=text, tool="")
    with pytest.raises(EnvError, match="newer lockfile format version 99"):
        conda.install(lock, EnvSettings(cache_dir=tmp_path), tmp_path / "env")


def test_a_lock_naming_a_relative_package_path_is_damaged(tmp_path: Path) -> None:
    here = str(rattler.Subdir.current())
    text = (
        f"version: 7\nplatforms:\n- name: {here}\nenvironments:\n  default:\n    channels: []\n"
        f"    packages:\n      {here}:\n      - conda: x/a-1-0.tar.bz2\npackages:\n"
        f"- conda: x/a-1-0.tar.bz2\n  subdir: {here}\n"
    )
    lock = EnvLock(kind="conda", key="k", python="3.11.7", platform=here, text=text, tool="")
    with pytest.raises(EnvError, match="is not a rattler lock file"):
        conda.install(lock, EnvSettings(cache_dir=tmp_path), tmp_path / "env")


def test_a_channel_in_the_package_name_says_where_channels_go() -> None:
    with pytest.raises(EnvError, match="names a channel \\('bioconda'\\)") as err:
        conda_specs.package_spec("bioconda::samtools", "1.19", SPEC)
    assert '"samtools"' in (err.value.fix or "") and "[environments]" in (err.value.fix or "")


@pytest.mark.parametrize("url", ["s3://bucket/chan", "gcs://bucket/chan", "oci://ghcr.io/chan"])
def test_a_channel_rattler_cannot_read_is_refused(url: str) -> None:
    with pytest.raises(EnvError, match="cannot read") as err:
        conda_specs.channel_url(url, SPEC)
    assert "https://" in (err.value.fix or "")
