"""The code the notebooks show is the code digitlib runs.

Notebooks 03, 04, 06, 07, 09, 10 and 11 write out, in cells tagged ``same-as-package``, what `digitlib` also defines
for the drawing pad and the command line: the three model architectures, the one-cycle schedule and ``compile``,
the saliency gradient and SmoothGrad, the tutorials' canvas resize, temperature scaling and its fit, the sequence
reader and its fusion, and the replay and frozen batch norm of a fine-tune. These tests run
those cells and check that they build and compute the same as the package, so the two cannot drift apart.
Notebook 07's cells tagged ``recipe-steps`` walk through the MNIST recipe in simpler code than
`digitlib.preprocess.to_mnist`; they must give an image the model reads the same way and that looks the same, up
to a pixel's worth of ink.

Tags are cell metadata (JupyterLab shows them in the property inspector), so the lessons carry no test code.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage, optimize, special

from digitlib import calibration, canvas_image, data, explain, models, plots, preprocess, recipes, training_data
from digitlib._tf import keras, tf
from digitlib.examples import example_strokes, fit_strokes
from digitlib.render import render_strokes

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SAME_AS_PACKAGE = "same-as-package"


def tagged_source(notebook: str, tag: str = SAME_AS_PACKAGE) -> str:
    """The code cells of ``notebook`` tagged ``tag``, in order, as one script."""
    cells = json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))["cells"]
    sources = [
        "".join(cell["source"])
        for cell in cells
        if cell["cell_type"] == "code" and tag in cell.get("metadata", {}).get("tags", [])
    ]
    assert sources, f"{notebook} has no code cell tagged {tag!r}"
    return "\n\n".join(sources)


def run_cells(notebook: str, namespace: dict[str, Any], tag: str = SAME_AS_PACKAGE) -> dict[str, Any]:
    """Run the tagged cells of ``notebook`` in ``namespace`` (what the notebook's earlier cells define)."""
    exec(compile(tagged_source(notebook, tag), f"{notebook} [{tag}]", "exec"), namespace)
    return namespace


def structure(model: keras.Model) -> dict[str, Any]:
    """``model.get_config()`` with the layers' generated names replaced by their positions.

    Keras numbers layer names per session (``conv2d_7``), so two builds of one architecture differ only there.
    The names a definition gives itself (the model's, ``image``, ``probabilities``) are compared as they are.
    """
    explicit = {"image", "probabilities"}
    names = {layer.name: f"layer {i}" for i, layer in enumerate(model.layers) if layer.name not in explicit}

    def rename(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: rename(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(rename(item) for item in value)
        return names.get(value, value) if isinstance(value, str) else value

    return rename(model.get_config())


@pytest.fixture(scope="module")
def notebook_03() -> dict[str, Any]:
    """What notebook 03's model cells define, run after its imports (``keras``, ``layers``)."""
    return run_cells("03_build_model.ipynb", {"keras": keras, "layers": keras.layers})


@pytest.mark.parametrize("name", sorted(models.ARCHITECTURES))
def test_notebook_03_builds_each_architecture_as_digitlib_models_does(notebook_03, name):
    ours, package = notebook_03[f"build_{name}"](), models.build_model(name)
    assert (ours.name, type(ours)) == (package.name, type(package))
    assert [type(layer) for layer in ours.layers] == [type(layer) for layer in package.layers]
    assert structure(ours) == structure(package)
    assert ours.count_params() == package.count_params()


def test_notebook_03_width_and_dropout_knobs_match_the_package(notebook_03):
    ours = notebook_03["build_digitlib_cnn"](width=16, dropout=0.5)
    package = models.build_digitlib_cnn(width=16, dropout=0.5)
    assert structure(ours) == structure(package)
    assert ours.count_params() == package.count_params() < models.build_digitlib_cnn().count_params()


def test_notebook_04_schedule_and_compile_are_recipes_compile_model():
    recipe, epochs, steps_per_epoch = recipes.get_recipe("digitlib"), 3, 211
    namespace = run_cells(
        "04_train.ipynb",
        {"keras": keras, "models": models, "recipe": recipe, "EPOCHS": epochs, "train_ds": range(steps_per_epoch)},
    )
    ours = namespace["model"].get_compile_config()
    package = recipes.compile_model(models.build_digitlib_cnn(), replace(recipe, epochs=epochs), steps_per_epoch)
    theirs = package.get_compile_config()
    for config in (ours, theirs):
        del config["optimizer"]["config"]["name"]  # numbered per session: adam, adam_1...
    assert ours == theirs
    assert ours["optimizer"]["config"]["learning_rate"]["class_name"] == "CosineDecay"
    assert namespace["schedule"].get_config() == package.optimizer.get_config()["learning_rate"]["config"]


def test_train_holds_out_the_validation_split_of_notebooks_02_and_04(mnist):
    (x_train, y_train), _ = mnist
    (_, _), (x_val, y_val) = data.split_validation(x_train, y_train, fraction=0.1, seed=0)  # as in 02 and 04
    mnist_only = recipes.get_recipe("digitlib", pen_copies=0, nonsense_share=0, calibration_images=0)
    sets = training_data.training_set(mnist_only, seed=0, validation_fraction=0.1, progress=lambda _: None)
    np.testing.assert_array_equal(sets.validation_images, x_val)
    np.testing.assert_array_equal(sets.validation_labels, y_val)


@pytest.fixture(scope="module")
def notebook_06(shipped, mnist_test_slice) -> dict[str, Any]:
    """Notebook 06's saliency and SmoothGrad cells, run on the shipped model and its second test image (a 2)."""
    images, _ = mnist_test_slice
    namespace = {"keras": keras, "tf": tf, "np": np, "plots": plots}
    return run_cells("06_visualise_predictions.ipynb", namespace | {"model": shipped, "two": images[1]})


@pytest.mark.parametrize(("index", "digit"), [(1, 2), (1, 7), (0, 7), (8, 5), (8, 6)])
def test_notebook_06_saliency_is_explain_saliency_map(notebook_06, shipped, mnist_test_slice, index, digit):
    image = mnist_test_slice[0][index]
    gradient = notebook_06["saliency"](image / 255, digit)
    assert gradient.shape == (28, 28)
    expected = explain.saliency_map(shipped, image, digit)
    np.testing.assert_allclose(gradient / np.abs(gradient).max(), expected, atol=1e-5)


def test_notebook_06_smoothgrad_is_explain_saliency_map_with_noise(notebook_06, shipped):
    smooth = notebook_06["smooth"]
    expected = explain.saliency_map(shipped, notebook_06["two"], digit=2, noise_samples=50)
    np.testing.assert_allclose(smooth / np.abs(smooth).max(), expected, atol=1e-4)


def canvases() -> list[tuple[str, np.ndarray]]:
    """Canvases as the pad's users make them: every digit, big and small, thin and thick pens, every look."""
    made = []
    for digit in range(10):
        strokes = example_strokes(str(digit))
        made.append((f"{digit}, pen 20", render_strokes(strokes, 280, pen_width=20)))
        small = fit_strokes(strokes, 280, height_fraction=0.3, centre=(80, 90))
        made.append((f"{digit} small, pen 6", render_strokes(small, 280, pen_width=6)))
        made.append((f"{digit}, pen 40, light on dark", render_strokes(strokes, 280, 40, look="light_on_dark")))
    return made


@pytest.mark.parametrize(("look"), ["dark_on_light", "light_on_dark", "transparent"])
def test_notebook_07_tutorial_resize_is_preprocess_tutorial_resize(look):
    namespace = run_cells("07_drawing_pad.ipynb", {"np": np, "Image": Image})
    for digit in "0478":
        canvas = render_strokes(example_strokes(digit), 280, pen_width=20, look=look)
        np.testing.assert_array_equal(namespace["tutorial_resize"](canvas), preprocess.tutorial_resize(canvas))


def test_notebook_07_recipe_steps_give_what_to_mnist_gives(recognizer):
    names, ours, package = [], [], []
    for name, canvas in canvases():
        namespace = {"np": np, "Image": Image, "ndimage": ndimage, "preprocess": preprocess, "plots": plots}
        namespace["canvas_image"] = canvas_image
        run_cells("07_drawing_pad.ipynb", namespace := namespace | {"canvas": canvas}, tag="recipe-steps")
        names.append(name)
        ours.append(namespace["mnist_like"])
        package.append(preprocess.to_mnist(canvas))
    ours, package = np.stack(ours), np.stack(package)
    assert ours.shape == package.shape == (len(names), 28, 28)
    read_ours = recognizer.predict_mnist(ours).argmax(axis=1)
    read_package = recognizer.predict_mnist(package).argmax(axis=1)
    differ = [name for name, a, b in zip(names, read_ours, read_package, strict=True) if a != b]
    assert not differ, f"the notebook's steps and to_mnist are read differently for: {differ}"
    # Alike up to where a pixel's worth of ink falls (our steps round differently): compared at a 1-px blur.
    for name, a, b in zip(names, ours, package, strict=True):
        a, b = ndimage.gaussian_filter(a, 1), ndimage.gaussian_filter(b, 1)
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.85, name


def overconfident_and_underconfident() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Probabilities whose best temperature is known: the softmax of random logits softened (factor < 1) or
    sharpened (> 1) by a factor, with labels drawn from the unchanged softmax (so T = factor is about right)."""
    rng = np.random.default_rng(0)
    made = []
    for factor in (0.3, 0.8, 2.5):
        logits = rng.normal(0, 3, (2000, 10))
        truth = special.softmax(logits, axis=1)
        labels = np.array([rng.choice(10, p=row) for row in truth])
        made.append((f"logits × {factor}", special.softmax(logits * factor, axis=1).astype(np.float32), labels))
    return made


def test_notebook_09_temperature_scaling_is_calibration_apply_and_fit_temperature(
    shipped_probabilities, mnist_test_slice
):
    namespace = run_cells("09_calibration.ipynb", {"np": np, "optimize": optimize, "special": special})
    scale, fit, nll = (namespace[n] for n in ("temperature_scale", "fit_temperature", "negative_log_likelihood"))
    sets = [("shipped model, MNIST", shipped_probabilities, mnist_test_slice[1]), *overconfident_and_underconfident()]
    certain = np.eye(10, dtype=np.float32)[[3, 1, 4]]  # exact zeros: both take the log of 1e-12 instead
    for temperature in (0.05, 0.3, 0.51, 1.0, 2.5, 20.0):
        np.testing.assert_allclose(
            scale(certain, temperature), calibration.apply_temperature(certain, temperature), atol=1e-12
        )
        for name, probabilities, _ in sets:
            ours, package = scale(probabilities, temperature), calibration.apply_temperature(probabilities, temperature)
            # The package computes in float64, the notebook in float32: alike up to float32's rounding (× 1/T).
            np.testing.assert_allclose(ours, package, rtol=1e-4, atol=1e-6, err_msg=f"{name}, T = {temperature}")
    for name, probabilities, labels in sets:
        assert nll(probabilities, labels) == pytest.approx(calibration.negative_log_likelihood(probabilities, labels))
        ours, package = fit(probabilities, labels), calibration.fit_temperature(probabilities, labels)
        assert ours == pytest.approx(package, rel=1e-4), name
    for factor, (name, probabilities, labels) in zip((0.3, 0.8, 2.5), sets[1:], strict=True):
        assert fit(probabilities, labels) == pytest.approx(factor, rel=0.1), name  # T undoes the factor


def test_notebook_10_builds_the_sequence_reader_as_pen_sequence_does():
    from digitlib.pen_sequence import CHANNELS, POINTS, build_sequence_model

    namespace = {"keras": keras, "layers": keras.layers, "POINTS": POINTS, "CHANNELS": CHANNELS}
    cells = tagged_source("10_follow_the_pen.ipynb").split("\n\nfusion = ")[0]  # the model cells, not the fusion
    exec(compile(cells, "10_follow_the_pen.ipynb [same-as-package]", "exec"), namespace)
    for knobs in ({}, {"width": 16, "heads": 2, "dropout": 0.1}):
        ours, package = namespace["build_sequence_model"](**knobs), build_sequence_model(**knobs)
        assert structure(ours) == structure(package)
        assert ours.count_params() == package.count_params()


def test_notebook_10_fuses_as_the_recogniser_does(recognizer):
    from digitlib.drawing import Drawing
    from digitlib.pen_digits import load_pen_digits

    rng = np.random.default_rng(3)
    drawings = [Drawing(*_placed(s.strokes, rng)).on_canvas for s in load_pen_digits("tune")[:40]]
    drawings = [d for d in drawings if preprocess.strokes_to_mnist(d) is not None]
    images = np.stack([preprocess.strokes_to_mnist(d) for d in drawings])
    strokes = [d.strokes for d in drawings]
    namespace = {
        "np": np,
        "rec": recognizer,
        "cnn_raw": recognizer.raw_probabilities(images),
        "seq_raw": recognizer.sequence.raw_probabilities(strokes),
        "fused": recognizer.readout(images, strokes).probabilities,
        "print": lambda *args: None,
    }
    fusion_cell = "fusion = " + tagged_source("10_follow_the_pen.ipynb").split("\n\nfusion = ")[1]
    exec(compile(fusion_cell, "10_follow_the_pen.ipynb [fusion]", "exec"), namespace)  # asserts the two agree
    np.testing.assert_allclose(namespace["ours"], namespace["fused"], atol=1e-5)


def _placed(strokes, rng):
    from digitlib.pen_augment import place_on_canvas

    placed, pen = place_on_canvas(strokes, rng)
    return placed, 280, pen


def test_notebook_11_replay_and_frozen_batch_norm_are_personalises(shipped):
    from digitlib.nonsense import NONSENSE
    from digitlib.personal import FineTuning, _fine_tuned_copy
    from digitlib.replay import ReplayPool

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) for n in (3000, 1500, 300)]
    pool = ReplayPool(images[0], rng.integers(0, 10, 3000), images[1], rng.integers(0, 10, 1500), images[2],
                      images[0][:10], np.zeros(10, np.int64), {})  # fmt: skip
    own_x, own_y = np.zeros((720, 28, 28), np.uint8), rng.integers(0, 10, 720)
    namespace = {"keras": keras, "np": np, "NONSENSE": NONSENSE, "replay_pool": lambda: pool}
    namespace |= {"own_x": own_x, "own_y": own_y}
    run_cells("11_your_handwriting.ipynb", namespace)

    # The replay mix: as many images of each source as personalise replays for 720 images of yours (its card's
    # train_images), each a different image of that source.
    settings = FineTuning()
    replayed = round(settings.replay * len(own_x))
    shares = {"mnist": settings.replay_mnist, "pen_digits": settings.replay_pen, "nonsense": settings.replay_nonsense}
    mix_x, mix_y = namespace["mix_x"], namespace["mix_y"]
    assert len(mix_x) == len(mix_y) == len(own_x) + replayed
    start = len(own_x)
    for (name, share), source in zip(shares.items(), images, strict=True):
        count = round(replayed * share / sum(shares.values()))
        part = mix_x[start : start + count]
        known = {image.tobytes() for image in source}
        assert len({image.tobytes() for image in part}) == count and all(image.tobytes() in known for image in part)
        assert np.all(mix_y[start : start + count] == NONSENSE) == (name == "nonsense"), name
        start += count
    assert start == len(mix_x)

    # Frozen batch norm: the same layers train, with the same weights, as in personalise's copy.
    ours = namespace["copy_of"](shipped, freeze_batch_norm=True)
    package = _fine_tuned_copy(shipped, settings, steps=10)
    assert [layer.trainable for layer in ours.layers] == [layer.trainable for layer in package.layers]
    assert not all(layer.trainable for layer in ours.layers)
    for a, b in zip(ours.get_weights(), package.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
