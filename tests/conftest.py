"""Shared fixtures: real MNIST files and arrays from the local cache, a throwaway cache folder, the shipped model."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from digitlib import data, model_files


def quiet(_message: str) -> None:
    """A progress callback that prints nothing."""


@pytest.fixture(scope="session")
def mnist_files() -> dict[str, bytes]:
    """The four original IDX files as bytes, from the real cache (fetched once on a fresh machine)."""
    folder = data.fetch_mnist(progress=quiet)
    return {name: (folder / name).read_bytes() for name in data.MNIST_FILES}


@pytest.fixture(scope="session")
def mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)`` from the real cache; treat as read-only."""
    return data.load_mnist(progress=quiet)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder that `digitlib.data` uses through ``DIGITLIB_DATA_DIR``."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("DIGITLIB_DATA_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def shipped():
    """The shipped model, loaded once for the whole session (with ``safe_mode=True``); treat as read-only."""
    return model_files.load_model()
