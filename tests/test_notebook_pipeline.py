"""Notebook 04's `tf.data` pipeline is the one `digitlib.training_data.make_dataset` builds.

Notebook 04 writes the input pipeline out (``from_tensor_slices``, ``shuffle``, ``batch``, ``map``, ``prefetch``) in
the cells tagged ``same-as-make-dataset``, and then trains with `training_data.make_dataset`, which adds digitlib's
augmentation. These tests run the tagged cells on small arrays and check that, without augmentation, they give
exactly the batches the package gives, in the same order, shuffled or not, so the lesson's pipeline and the one
it trains with cannot drift apart. The notebook's pacing (cells, words per markdown cell) is checked here too.

Tags are cell metadata, so the lesson carries no test code. (The tag differs from tests/test_notebook_code.py's
``same-as-package``: those cells run there in a namespace of their own.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitlib import training_data
from digitlib._tf import tf

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_train.ipynb"
TAG = "same-as-make-dataset"
MAX_CELLS, MAX_MARKDOWN_WORDS = 45, 200


def cells() -> list[dict[str, Any]]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def tagged_source(tag: str = TAG) -> str:
    """The code cells of notebook 04 tagged ``tag``, in order, as one script."""
    sources = [
        "".join(cell["source"])
        for cell in cells()
        if cell["cell_type"] == "code" and tag in cell.get("metadata", {}).get("tags", [])
    ]
    assert sources, f"{NOTEBOOK.name} has no code cell tagged {tag!r}"
    return "\n\n".join(sources)


@pytest.fixture(scope="module")
def make_pipeline():
    """The notebook's ``make_pipeline``, its tagged cells run with nothing but ``tf`` (the notebook's import)."""
    namespace: dict[str, Any] = {"tf": tf}
    exec(compile(tagged_source(), f"{NOTEBOOK.name} [{TAG}]", "exec"), namespace)
    return namespace["make_pipeline"]


def small_arrays(source: str, mnist) -> tuple[np.ndarray, np.ndarray]:
    """300 images (N, 28, 28) uint8 and their digits as uint8, as `digitlib.data.load_mnist` gives them."""
    if source == "mnist":
        (x_train, y_train), _ = mnist
        return x_train[:300], y_train[:300]
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (300, 28, 28), dtype=np.uint8), rng.integers(0, 10, 300).astype(np.uint8)


def batches(dataset: tf.data.Dataset) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.numpy(), y.numpy()) for x, y in dataset]


def assert_same_batches(ours: list, package: list) -> None:
    assert len(ours) == len(package)
    for i, ((x, y), (px, py)) in enumerate(zip(ours, package, strict=True)):
        assert x.dtype == px.dtype == np.float32 and y.dtype == py.dtype == np.float32, f"batch {i}"
        assert x.shape == px.shape and y.shape == py.shape, f"batch {i}: {x.shape} {y.shape} / {px.shape} {py.shape}"
        np.testing.assert_array_equal(x, px, err_msg=f"images of batch {i}")
        np.testing.assert_array_equal(y, py, err_msg=f"targets of batch {i}")


@pytest.mark.parametrize("source", ["mnist", "random"])
def test_notebook_pipeline_gives_make_datasets_batches(make_pipeline, mnist, source):
    images, labels = small_arrays(source, mnist)
    ours = batches(make_pipeline(images, labels, 64))
    package = batches(training_data.make_dataset(images, labels, 64, shuffle=False, one_hot=True))
    assert [len(x) for x, _ in ours] == [64, 64, 64, 64, 44]  # the last batch is what is left
    assert ours[0][0].shape == (64, 28, 28, 1) and ours[0][1].shape == (64, 10)
    assert_same_batches(ours, package)
    np.testing.assert_array_equal(np.concatenate([y for _, y in ours]).argmax(axis=1), labels)
    assert min(x.min() for x, _ in ours) >= 0.0 and max(x.max() for x, _ in ours) <= 1.0


def test_notebook_pipeline_shuffles_as_make_dataset_does_every_epoch(make_pipeline, mnist):
    images, labels = small_arrays("mnist", mnist)
    ours = make_pipeline(images, labels, 64, shuffle=True)
    package = training_data.make_dataset(images, labels, 64, shuffle=True, seed=0, one_hot=True)
    first, second = batches(ours), batches(ours)  # two epochs: a new order each
    assert_same_batches(first, batches(package))
    assert_same_batches(second, batches(package))
    order = np.concatenate([y for _, y in first]).argmax(axis=1)
    assert not np.array_equal(order, labels) and sorted(order) == sorted(labels)
    assert not np.array_equal(order, np.concatenate([y for _, y in second]).argmax(axis=1))


def test_notebook_pipeline_augments_each_prepared_batch_in_training_mode(make_pipeline):
    seen = []

    def augment(x, training=False):
        seen.append(training)
        return 1.0 - x  # a change that is easy to see

    images, labels = np.zeros((10, 28, 28), np.uint8), np.arange(10, dtype=np.uint8)
    (x, y), *_ = batches(make_pipeline(images, labels, 10, augment=augment))
    assert seen == [True]  # traced once, with training=True
    np.testing.assert_array_equal(x, np.ones((10, 28, 28, 1), np.float32))
    np.testing.assert_array_equal(y, np.eye(10, dtype=np.float32))


def test_notebook_04_is_paced():
    notebook = cells()
    assert len(notebook) <= MAX_CELLS
    words = {i: len("".join(cell["source"]).split()) for i, cell in enumerate(notebook) if cell["cell_type"] != "code"}
    too_long = {i: n for i, n in words.items() if n > MAX_MARKDOWN_WORDS}
    assert not too_long, f"markdown cells over {MAX_MARKDOWN_WORDS} words (cell: words): {too_long}"
