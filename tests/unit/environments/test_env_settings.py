"""The profile's [environments] table and its environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grange.environments.settings import EnvSettings, default_cache_dir
from grange.exceptions import ConfigError

HOME = {"XDG_CACHE_HOME": "/home/u/.cache"}


def test_defaults() -> None:
    settings = EnvSettings.from_table({}, HOME)
    assert settings.cache_dir == Path("/home/u/.cache/grange/environments")
    assert settings.index_url is None
    assert settings.extra_index_urls == () and settings.find_links == ()
    assert settings.offline is False
    assert settings.channels == ("conda-forge",)
    assert settings.conda_tool == "rattler"
    assert settings.pod_platform == "x86_64-manylinux_2_28"
    assert settings.wheels_in_datastore is False and settings.pod_offline is False
    assert EnvSettings.from_table(None, HOME) == settings


def test_the_cache_follows_grange_s_cache() -> None:
    assert default_cache_dir({"GRANGE_CACHE_DIR": "/c"}) == Path("/c/environments")
    assert default_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/grange/environments")
    assert default_cache_dir({"GRANGE_ENV_CACHE": "/e", "GRANGE_CACHE_DIR": "/c"}) == Path("/e")


def test_every_key() -> None:
    table = {
        "cache_dir": "/data/envs",
        "index_url": "https://pypi.example.com/simple",
        "extra_index_urls": ["https://extra.example.com/simple"],
        "find_links": ["/wheels"],
        "offline": True,
        "channels": ["conda-forge", "bioconda"],
        "conda_tool": "micromamba",
        "pod_platform": "aarch64-manylinux_2_28",
        "wheels_in_datastore": True,
        "pod_offline": True,
    }
    settings = EnvSettings.from_table(table, HOME)
    assert settings == EnvSettings(
        cache_dir=Path("/data/envs"),
        index_url="https://pypi.example.com/simple",
        extra_index_urls=("https://extra.example.com/simple",),
        find_links=("/wheels",),
        offline=True,
        channels=("conda-forge", "bioconda"),
        conda_tool="micromamba",
        pod_platform="aarch64-manylinux_2_28",
        wheels_in_datastore=True,
        pod_offline=True,
    )


def test_the_environment_wins() -> None:
    table = {"cache_dir": "/t", "index_url": "https://t/simple", "offline": True}
    env = {
        **HOME,
        "GRANGE_ENV_CACHE": "/e",
        "GRANGE_PYPI_INDEX_URL": "https://e/simple",
        "GRANGE_ENV_OFFLINE": "0",
    }
    settings = EnvSettings.from_table(table, env)
    assert settings.cache_dir == Path("/e")
    assert settings.index_url == "https://e/simple"
    assert settings.offline is False
    assert EnvSettings.from_table({}, {**HOME, "GRANGE_ENV_OFFLINE": "1"}).offline is True


def test_variables_in_the_table() -> None:
    settings = EnvSettings.from_table({"index_url": "https://${HOST}/simple"}, {"HOST": "h"})
    assert settings.index_url == "https://h/simple"


@pytest.mark.parametrize(
    ("table", "env", "said"),
    [
        ({"index": "x"}, {}, "[environments] index: is not a known key"),
        ({"offline": "yes"}, {}, "[environments] offline: must be true or false"),
        ({"index_url": 3}, {}, "[environments] index_url: must be a string"),
        ({"channels": "conda-forge"}, {}, "[environments] channels: must be a list"),
        ({"extra_index_urls": [""]}, {}, "[environments] extra_index_urls: must be a list"),
        ({"index_url": "https://x/simple --trusted-host y"}, {}, "[environments] index_url"),
        ({"find_links": ["--no-index"]}, {}, "[environments] find_links"),
        ({"conda_tool": "pip"}, {}, "[environments] conda_tool: must be one of"),
        ({"pod_platform": "Linux 64"}, {}, "[environments] pod_platform"),
        ({}, {"GRANGE_ENV_OFFLINE": "maybe"}, "GRANGE_ENV_OFFLINE='maybe'"),
        ({}, {"GRANGE_PYPI_INDEX_URL": "-x"}, "GRANGE_PYPI_INDEX_URL"),
        ({"index_url": "${NOPE}"}, {}, "uses ${NOPE}"),
    ],
)
def test_bad_values_name_the_table_and_key(
    table: dict[str, Any], env: dict[str, str], said: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        EnvSettings.from_table(table, {**HOME, **env})
    assert said in caught.value.message
    assert caught.value.fix


def test_folders_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    table = {"find_links": ["wheels", "https://x/links"], "index_url": "idx"}
    settings = EnvSettings.from_table(table, HOME)
    assert settings.find_links == (str(tmp_path / "wheels"), "https://x/links")
    assert settings.index_url == str(tmp_path / "idx")


@pytest.mark.parametrize("key", ["index_url", "find_links"])
def test_a_url_without_its_slashes_is_refused(key: str) -> None:
    value: Any = "file:/srv/wheels" if key == "index_url" else ["file:/srv/wheels"]
    with pytest.raises(ConfigError, match="is not a URL \\(file: without //\\)"):
        EnvSettings.from_table({key: value}, {})
