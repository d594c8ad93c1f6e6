"""Exporting the shipped model to TensorFlow Lite (float32, float16, int8) and a SavedModel, and running it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitlib import export
from digitlib.evaluation import accuracy, predict_probabilities, predicted_digits
from digitlib.images import to_model_input
from digitlib.model_files import SHIPPED_MODEL

# The target for the int8 file: at most this share of the .keras file's size.
INT8_MAX_SIZE_SHARE = 0.35


@pytest.fixture(scope="module")
def exports(shipped, tmp_path_factory) -> dict[str, Path]:
    """The shipped model exported once for the whole module: three .tflite files and a SavedModel."""
    folder = tmp_path_factory.mktemp("exports")
    paths = {
        name: export.to_tflite(shipped, folder / f"digits_{name}.tflite", quantize=quantize)
        for name, quantize in (("float32", None), ("float16", "float16"), ("int8", "int8"))
    }
    paths["saved_model"] = export.to_saved_model(shipped, folder / "digits_saved_model")
    return paths


@pytest.fixture(scope="module")
def lite_models(exports) -> dict[str, export.TFLiteModel]:
    return {name: export.TFLiteModel(exports[name]) for name in ("float32", "float16", "int8")}


def test_float32_tflite_computes_what_keras_computes(lite_models, mnist_test_slice, shipped_probabilities):
    images, _ = mnist_test_slice
    lite = predict_probabilities(lite_models["float32"], images)
    assert lite.dtype == np.float32 and lite.shape == shipped_probabilities.shape
    np.testing.assert_allclose(lite, shipped_probabilities, atol=1e-4)
    assert np.mean(predicted_digits(lite) == predicted_digits(shipped_probabilities)) >= 0.999


def test_float16_tflite_is_half_the_size_and_agrees_with_keras(
    exports, lite_models, mnist_test_slice, shipped_probabilities
):
    assert exports["float16"].stat().st_size < 0.6 * exports["float32"].stat().st_size
    lite = predict_probabilities(lite_models["float16"], mnist_test_slice[0])
    np.testing.assert_allclose(lite, shipped_probabilities, atol=0.02)
    assert np.mean(predicted_digits(lite) == predicted_digits(shipped_probabilities)) >= 0.995


def test_int8_tflite_is_small_and_keeps_the_accuracy(exports, lite_models, mnist_test_slice, shipped_probabilities):
    assert exports["int8"].stat().st_size <= INT8_MAX_SIZE_SHARE * SHIPPED_MODEL.stat().st_size
    images, labels = mnist_test_slice
    lite = predict_probabilities(lite_models["int8"], images)
    keras_accuracy = accuracy(labels, predicted_digits(shipped_probabilities))
    assert accuracy(labels, predicted_digits(lite)) >= keras_accuracy - 0.005
    assert np.mean(predicted_digits(lite) == predicted_digits(shipped_probabilities)) >= 0.98
    # Probabilities come back from int8 in steps of the output scale, so they sum to 1 only roughly.
    np.testing.assert_allclose(lite.sum(axis=1), 1.0, atol=0.05)


def test_int8_file_takes_and_returns_integers(lite_models):
    assert lite_models["int8"].input_dtype is np.int8
    assert lite_models["float32"].input_dtype is np.float32
    assert lite_models["float16"].input_dtype is np.float32  # float16 weights only; float32 in and out


@pytest.mark.parametrize("name", ["float32", "int8"])
def test_runner_takes_uint8_float_and_any_batch_layout(lite_models, mnist_test_slice, name):
    model = lite_models[name]
    images = mnist_test_slice[0][:40]
    from_uint8 = model(images)
    np.testing.assert_allclose(model(images.astype(np.float32) / 255), from_uint8, atol=1e-5)
    np.testing.assert_array_equal(model(images[..., None]), from_uint8)
    np.testing.assert_allclose(model(images[7]), from_uint8[7:8], atol=1e-5)  # one image (28, 28)
    # More images than one interpreter call takes, then a single one again: the batches are stitched right.
    many = mnist_test_slice[0][: export.MAX_BATCH + 30]
    np.testing.assert_allclose(model(many)[:40], from_uint8, atol=1e-5)
    np.testing.assert_allclose(model(images[:1]), from_uint8[:1], atol=1e-5)


def test_runner_rejects_wrong_images_and_training(lite_models):
    model = lite_models["float32"]
    with pytest.raises(ValueError, match="28×28"):
        model(np.zeros((3, 28, 27), np.uint8))
    with pytest.raises(ValueError, match="28×28"):
        model(np.zeros((3, 28, 28, 3), np.uint8))
    with pytest.raises(ValueError, match="training=False"):
        model(np.zeros((1, 28, 28), np.uint8), training=True)


def test_runner_rejects_missing_and_broken_files(tmp_path):
    with pytest.raises(ValueError, match="to_tflite"):
        export.TFLiteModel(tmp_path / "missing.tflite")
    with pytest.raises(ValueError, match="to_tflite"):
        export.TFLiteModel(SHIPPED_MODEL)  # a .keras file
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(ValueError, match="not a valid TensorFlow Lite model"):
        export.TFLiteModel(broken)


def test_bad_path_quantize_or_model_are_refused(shipped, tmp_path):
    with pytest.raises(ValueError, match=r"\.tflite"):
        export.to_tflite(shipped, tmp_path / "model.keras")
    with pytest.raises(ValueError, match="'float16', 'int8'"):
        export.to_tflite(shipped, tmp_path / "model.tflite", quantize="int4")
    with pytest.raises(TypeError, match="load_model"):
        export.to_tflite(object(), tmp_path / "model.tflite")
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_saved_model_loads_back_and_gives_the_same_outputs(exports, mnist_test_slice, shipped_probabilities):
    from digitlib._tf import tf

    loaded = tf.saved_model.load(str(exports["saved_model"]))
    images = to_model_input(mnist_test_slice[0][:200])
    np.testing.assert_allclose(loaded.serve(images).numpy(), shipped_probabilities[:200], atol=1e-5)
    outputs = loaded.signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(next(iter(outputs.values())).numpy(), shipped_probabilities[:200], atol=1e-5)


def test_saved_model_export_never_replaces_a_folder_that_is_not_one(shipped, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a SavedModel"):
        export.to_saved_model(shipped, folder)
    assert (folder / "notes.txt").read_text() == "keep me"


def test_representative_images_are_seeded_float_images_of_both_sources():
    images = export.representative_images(mnist_count=20, pen_count=10, seed=3)
    assert images.shape == (30, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, export.representative_images(mnist_count=20, pen_count=10, seed=3))
    assert not np.array_equal(images, export.representative_images(mnist_count=20, pen_count=10, seed=4))
    with pytest.raises(ValueError, match="representative"):
        export.representative_images(mnist_count=0, pen_count=0)


def test_cli_writes_the_files_it_names(tmp_path, capsys):
    assert export.main(["--output", str(tmp_path), "--quantize", "float16", "--saved-model"]) == 0
    out = capsys.readouterr().out
    written = tmp_path / "digitlib_cnn_float16.tflite"
    saved_model = tmp_path / "digitlib_cnn_saved_model"
    assert f"wrote {written}" in out and f"wrote {saved_model}" in out
    assert export.TFLiteModel(written)(np.zeros((2, 28, 28), np.uint8)).shape == (2, 10)
    assert (saved_model / "saved_model.pb").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [written.name, saved_model.name]  # no temporary left


def test_cli_reports_errors_without_a_traceback(tmp_path, capsys):
    assert export.main(["--model", str(tmp_path / "missing.keras"), "--output", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: No model file at") and "Traceback" not in err


def test_cli_help_names_the_default_folder(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITLIB_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit):
        export.main(["--help"])
    help_text = "".join(capsys.readouterr().out.split())  # argparse wraps long paths at their hyphens
    assert str(tmp_path / "exports") in help_text
