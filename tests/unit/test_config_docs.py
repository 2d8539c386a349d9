"""docs/profiles.md and the README's team setup hold true: their files are valid
configurations, and every key grange accepts is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grange.config import parse_config
from grange.config.schema import POLICY, PROFILE, RESOURCES, S3, SECRETS

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "profiles.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOML_BLOCK = re.compile(r"```toml\n(.*?)```", re.S)


@pytest.mark.parametrize(
    ("source", "text"),
    [("docs/profiles.md", PAGE), ("README.md", README)],
)
def test_documented_files_are_valid(source: str, text: str) -> None:
    blocks = TOML_BLOCK.findall(text)
    assert blocks, f"{source} shows no configuration file"
    for block in blocks:
        config = parse_config(block, source)
        assert "prod" in config.profiles
        assert not config.profiles["prod"].policy.is_empty


def test_every_key_is_documented() -> None:
    for keys in (PROFILE, S3, POLICY, SECRETS, RESOURCES):
        for key in keys:
            documented = (f"`{key}`", f"{key} =", f"`[{key}]`")
            assert any(form in PAGE for form in documented), f"docs/profiles.md lacks {key}"
