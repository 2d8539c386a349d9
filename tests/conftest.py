"""Shared fixtures of the whole suite."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from s3server import MotoServer
from support import FLOWS, load_flow


@pytest.fixture
def valid_flow() -> Callable[[str], type]:
    """Load a flow from tests/flows/valid by file stem."""
    return lambda stem: load_flow(FLOWS / "valid" / f"{stem}.py")


@pytest.fixture(scope="session", autouse=True)
def grange_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """This machine's grange cache (indexes of S3 stores, downloaded blobs, push
    journals) in a temporary folder, never the user's ~/.cache."""
    before = os.environ.get("GRANGE_CACHE_DIR")
    os.environ["GRANGE_CACHE_DIR"] = str(tmp_path_factory.mktemp("grange-cache"))
    yield
    if before is None:
        os.environ.pop("GRANGE_CACHE_DIR", None)
    else:
        os.environ["GRANGE_CACHE_DIR"] = before


@pytest.fixture(scope="session", autouse=True)
def grange_env_cache(
    grange_cache: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """@pypi/@conda environments (locks, environments, uv's and rattler's package
    caches) in one temporary folder for the whole session, so that a package is
    downloaded once, never in the user's cache; the user's index and offline settings
    left out."""
    names = ("GRANGE_ENV_CACHE", "GRANGE_PYPI_INDEX_URL", "GRANGE_ENV_OFFLINE")
    before = {name: os.environ.pop(name, None) for name in names}
    os.environ["GRANGE_ENV_CACHE"] = str(tmp_path_factory.mktemp("grange-envs"))
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's S3 server on loopback, one for the whole session (skipped if moto is missing)."""
    pytest.importorskip("moto.server")
    pytest.importorskip("obstore")
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty bucket on the loopback server; the environment points at it."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return s3_server.make_bucket()


@pytest.fixture
def kube(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A fake Kubernetes API server on loopback (tests/kubefake), ``KUBECONFIG`` pointing at it."""
    pytest.importorskip("kubernetes")
    pytest.importorskip("kubernetes_validate")
    from kubefake import FakeKube

    workdir = tmp_path_factory.mktemp("kube")
    fake = FakeKube(workdir / "node").start()
    monkeypatch.setenv("KUBECONFIG", str(fake.write_kubeconfig(workdir / "kubeconfig")))
    yield fake
    fake.stop()
