"""Shared fixtures: real MNIST files and arrays from the local cache, a throwaway cache folder, the shipped model."""

from __future__ import annotations

import os
import socket
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from digitlib import data
from digitlib.evaluation import predict_probabilities
from digitlib.recognizer import Recognizer


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
def recognizer() -> Recognizer:
    """The shipped model behind a `Recognizer`, loaded once for the whole session (``Recognizer.load()``)."""
    return Recognizer.load()


@pytest.fixture(scope="session")
def shipped(recognizer: Recognizer):
    """The shipped Keras model (loaded with ``safe_mode=True``), the recogniser's own; treat as read-only."""
    return recognizer.model


@pytest.fixture(scope="session")
def mnist_test_slice(mnist) -> tuple[np.ndarray, np.ndarray]:
    """The first 1,500 MNIST test images and their labels: enough for the shipped model to make a few mistakes."""
    (_, _), (x_test, y_test) = mnist
    return x_test[:1500], y_test[:1500]


@pytest.fixture(scope="session")
def shipped_probabilities(shipped, mnist_test_slice) -> np.ndarray:
    """The shipped model's class probabilities for ``mnist_test_slice``, computed once; treat as read-only."""
    return predict_probabilities(shipped, mnist_test_slice[0])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def free_port():
    """A function that returns a TCP port free on loopback, for tests that start a server."""
    return _free_port
