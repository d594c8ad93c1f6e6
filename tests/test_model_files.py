"""digitlib.model_files: atomic saves with a card beside the model, and clear errors for bad model files."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from digitlib import model_files, recipes
from digitlib.model_files import ModelFileError

CARD = {"model": "tiny", "test_accuracy": 0.5, "recipe": {"epochs": 1}}


def tiny_model(input_shape=(28, 28, 1), classes: int = 10) -> keras.Model:
    """Two layers: enough to be a real model, quick to build and save."""
    return keras.Sequential(
        [keras.Input(shape=input_shape), layers.Flatten(), layers.Dense(classes, activation="softmax")]
    )


def images(count: int = 4) -> np.ndarray:
    return np.random.default_rng(0).random((count, 28, 28, 1), dtype=np.float32)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def saved(tmp_path) -> tuple[Path, keras.Model]:
    model = tiny_model()
    return model_files.save_model(model, tmp_path / "digits.keras", CARD), model


def test_save_writes_the_model_and_its_card_and_nothing_else(saved, tmp_path):
    path, model = saved
    assert path == tmp_path / "digits.keras"
    assert names(tmp_path) == ["digits.json", "digits.keras"]
    card = {**CARD, "model_sha256": model_files.file_sha256(path)}  # the card names the very file it describes
    assert json.loads((tmp_path / "digits.json").read_text()) == card
    assert model_files.load_card(path) == card


def test_a_saved_model_loads_in_safe_mode_and_predicts_the_same(saved):
    path, model = saved
    for loaded in (model_files.load_model(path), keras.saving.load_model(path, safe_mode=True)):
        np.testing.assert_allclose(loaded(images()), model(images()))


def test_saving_again_replaces_model_and_card(saved, tmp_path):
    path, _ = saved
    other = tiny_model()
    model_files.save_model(other, path, {**CARD, "test_accuracy": 0.9})
    np.testing.assert_allclose(model_files.load_model(path)(images()), other(images()))
    assert model_files.load_card(path)["test_accuracy"] == 0.9
    assert names(tmp_path) == ["digits.json", "digits.keras"]


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temp_file(saved, tmp_path, monkeypatch):
    path, _ = saved
    before = path.read_bytes(), (tmp_path / "digits.json").read_bytes()

    def crash_midway(self, filepath, *args, **kwargs):
        Path(filepath).write_bytes(b"PK\x03\x04 half a model")
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        model_files.save_model(tiny_model(), path, {"model": "new"})
    monkeypatch.undo()
    assert (path.read_bytes(), (tmp_path / "digits.json").read_bytes()) == before
    assert names(tmp_path) == ["digits.json", "digits.keras"]
    model_files.load_model(path)


def test_an_interrupted_rename_keeps_the_old_file(saved, tmp_path, monkeypatch):
    path, _ = saved
    before = path.read_bytes()

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model_files.save_model(tiny_model(), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert names(tmp_path) == ["digits.json", "digits.keras"]


def test_save_refuses_other_formats(tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.keras"):
        model_files.save_model(tiny_model(), tmp_path / "digits.h5")
    assert names(tmp_path) == []


def test_save_without_a_card_writes_no_card(tmp_path):
    model_files.save_model(tiny_model(), tmp_path / "m.keras")
    assert names(tmp_path) == ["m.keras"]
    with pytest.raises(ModelFileError, match="No model card"):
        model_files.load_card(tmp_path / "m.keras")


def _corrupt(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _zip_of_text(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not a model")
    return path


def _middle_flipped(path: Path, original: bytes) -> Path:
    changed = bytearray(original)
    middle = len(changed) // 2
    changed[middle : middle + 64] = bytes(64)
    return _corrupt(path, bytes(changed))


@pytest.mark.parametrize(
    ("make_bad_file", "message"),
    [
        (lambda folder, good: folder / "absent.keras", "No model file at"),
        (lambda folder, good: _corrupt(folder / "half.keras", good[: len(good) // 2]), "truncated"),
        (lambda folder, good: _corrupt(folder / "text.keras", b"hello"), "not a native .keras"),
        (lambda folder, good: _corrupt(folder / "model.h5", good), "not a native .keras"),
        (lambda folder, good: _zip_of_text(folder / "zip.keras"), "could not be loaded"),
        (lambda folder, good: _middle_flipped(folder / "flipped.keras", good), None),
    ],
    ids=["missing", "truncated", "not-zip", "wrong-suffix", "zip-not-model", "corrupt-middle"],
)
def test_a_bad_model_file_gives_an_error_that_says_how_to_get_a_model(saved, tmp_path, make_bad_file, message):
    good = saved[0].read_bytes()
    bad = make_bad_file(tmp_path, good)
    with pytest.raises(ModelFileError, match=message) as error:
        model_files.load_model(bad)
    assert str(bad) in str(error.value)
    assert "python -m digitlib.train" in str(error.value)


@pytest.mark.parametrize(("input_shape", "classes"), [((32, 32, 1), 10), ((28, 28, 3), 10), ((28, 28, 1), 5)])
def test_a_model_of_the_wrong_shape_is_refused(tmp_path, input_shape, classes):
    path = model_files.save_model(tiny_model(input_shape, classes), tmp_path / "other.keras")
    with pytest.raises(ModelFileError, match=r"takes \(N, 28, 28, 1\) images and returns 10") as error:
        model_files.load_model(path)
    assert "python -m digitlib.train" in str(error.value)


def test_the_card_path_sits_beside_the_model():
    assert model_files.card_path("runs/digitlib_cnn.keras") == Path("runs/digitlib_cnn.json")


def test_describe_names_the_shipped_model_from_its_card():
    card = model_files.load_card()
    line = model_files.describe()
    assert line.startswith(f"{card['model']}, shipped with digitlib: {card['epochs']} epochs on ")
    assert f"{card['train_sources']['mnist']:,} MNIST images" in line
    assert f"MNIST test {card['test_accuracy']:.2%}" in line
    assert line.endswith(f"'not sure' below {card['calibration']['threshold']:g}")


def test_describe_says_when_a_model_has_no_calibration(tmp_path):
    path = model_files.save_model(tiny_model(), tmp_path / "mine.keras", {"model": "mine", "epochs": 2})
    assert model_files.describe(path) == f"mine, from {path}: 2 epochs; no calibration ('not sure' below 0.8)"


def test_course_recipes_take_notebook_04s_from_its_card_once_it_has_run(cache_dir):
    shipped = model_files.load_card()["recipe"]
    assert recipes.course_recipes() == {"shipped": shipped, "notebook 04": recipes.notebook_04().to_dict()}
    ran = recipes.notebook_04(epochs=1).to_dict()
    model_files.save_model(tiny_model(), model_files.trained_model_path(), {"model": "digitlib_cnn", "recipe": ran})
    assert recipes.course_recipes()["notebook 04"] == json.loads(json.dumps(ran))


def test_differences_lists_only_the_settings_that_differ():
    base = recipes.notebook_04().to_dict()
    other = recipes.notebook_04(epochs=9).to_dict()
    other["augment"] = {**other["augment"], "rotation_deg": 3.0}
    table = recipes.differences({"a": base, "b": other}).splitlines()
    assert [line.split()[0] for line in table[1:]] == ["epochs", "augment.rotation_deg"]
    assert table[1].split() == ["epochs", "3", "9"]
    assert recipes.differences({"a": base, "b": json.loads(json.dumps(base))}).split() == ["a", "b"]  # no rows
    assert "none" in recipes.differences({"a": base, "c": recipes.get_recipe("classic").to_dict()})
