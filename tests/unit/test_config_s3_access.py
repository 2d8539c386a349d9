"""grange.S3 asks the profile in force before any request: a URL outside the profile's
prefixes is refused without touching the network."""

from __future__ import annotations

from pathlib import Path

import pytest

from grange.exceptions import PolicyError


def test_grange_s3_refuses_urls_outside_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("obstore")
    from grange import S3

    config = tmp_path / "config.toml"
    config.write_text(
        '[profiles.p.policy]\ns3_read_prefixes = ["s3://ok-bucket/data"]\n'
        's3_write_prefixes = ["s3://ok-bucket/out"]\n'
    )
    monkeypatch.setenv("GRANGE_CONFIG", str(config))
    monkeypatch.setenv("GRANGE_PROFILE", "p")
    monkeypatch.setenv("GRANGE_S3_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens
    with S3() as s3:
        with pytest.raises(PolicyError, match="refuses reading 's3://other-bucket/x'"):
            s3.get("s3://other-bucket/x")
        with pytest.raises(PolicyError, match="refuses writing 's3://ok-bucket/data/x'"):
            s3.put("s3://ok-bucket/data/x", b"1")
