"""The sequence reader: pen-path features, training, safe loading, and its fusion with the CNN in `readout`."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from digitlib import pen_digits
from digitlib.drawing import Drawing
from digitlib.model_files import save_model
from digitlib.pen_sequence import CHANNELS, POINTS, build_sequence_model, pen_sequence
from digitlib.recognizer import Recognizer
from digitlib.sequence_reader import Fusion, FusionMismatchWarning, SequenceReader, product_of_experts
from digitlib.train_sequence import batches, train_sequence


@pytest.fixture(scope="module")
def samples():
    return pen_digits.load_pen_digits("train")[:40]


def _densify(strokes, factor):
    out = []
    for s in strokes:
        t = np.linspace(0, len(s) - 1, (len(s) - 1) * factor + 1)
        i = np.arange(len(s))
        out.append(np.stack([np.interp(t, i, s[:, 0]), np.interp(t, i, s[:, 1])], axis=1))
    return out


def test_features_ignore_scale_place_and_point_density(samples):
    strokes = [np.asarray(s, float) for s in samples[0].strokes]
    base = pen_sequence(strokes)
    assert base.shape == (POINTS, CHANNELS) and base.dtype == np.float32
    moved = pen_sequence([s * 0.137 + (55.0, -20.0) for s in strokes])
    np.testing.assert_allclose(moved, base, atol=1e-4)
    dense = pen_sequence(_densify(strokes, 5))
    np.testing.assert_allclose(dense[:, :2], base[:, :2], atol=0.02)
    assert pen_sequence([]).sum() == 0


def test_lift_marks_each_new_stroke():
    seq = pen_sequence([[(0, 0), (0, 10)], [(5, 0), (5, 10)], [(9, 9)]])
    assert seq[:, 2].sum() == 2 and seq[0, 2] == 0


def test_batches_are_real_pen_digits_and_nonsense(samples):
    x, y = next(batches(samples, seed=0, batch_size=64))
    assert x.shape == (64, POINTS, CHANNELS) and np.isfinite(x).all()
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-5)
    assert (y.max(axis=1) <= 0.1 + 1e-6).any()  # some nonsense, aimed at equal probabilities


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, samples):
    path = tmp_path_factory.mktemp("seq") / "seq.keras"
    result = train_sequence(path, epochs=1, steps_per_epoch=2, samples=samples, width=8)
    assert result.card["writers"]["train"] == pen_digits.writers(samples)
    assert set(result.card["writers"]["tune"]) == set(pen_digits.writers(pen_digits.load_pen_digits("tune")))
    return path


def _with_fusion(path, cnn_sha256):
    card_file = path.with_suffix(".json")
    card = json.loads(card_file.read_text())
    card["fusion"] = Fusion(1.0, 0.8, 0.9, cnn_sha256, "test").to_dict()
    card_file.write_text(json.dumps(card))


def test_saved_model_loads_in_safe_mode(tiny):
    from digitlib._tf import keras

    model = keras.saving.load_model(tiny, safe_mode=True)
    assert tuple(model.input_shape) == (None, POINTS, CHANNELS)
    reader = SequenceReader.load(tiny)
    p = reader.raw_probabilities([[np.array([[0.0, 0.0], [1.0, 5.0]])], [np.array([[3.0, 3.0], [9.0, 1.0]])]])
    assert p.shape == (2, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(reader.raw_probabilities([[np.array([[3.0, 3.0], [9.0, 1.0]])]])[0], p[1], atol=1e-5)


def test_fusion_falls_back_with_another_cnn(tiny, tmp_path):
    rec = Recognizer.load(sequence=False)
    _with_fusion(tiny, "0" * 64)
    with pytest.warns(FusionMismatchWarning):
        other = Recognizer.load(sequence=tiny)
    assert other.sequence is None
    _with_fusion(tiny, rec.card["model_sha256"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", FusionMismatchWarning)
        fused = Recognizer.load(sequence=tiny)
    assert fused.sequence is not None and fused.stroke_threshold == pytest.approx(0.9)


def test_readout_fuses_only_with_strokes(tiny):
    cnn = Recognizer.load(sequence=False)
    _with_fusion(tiny, cnn.card["model_sha256"])
    rec = Recognizer.load(sequence=tiny)
    drawing = Drawing([[(100, 60), (140, 60), (110, 220)]], 280, 16)  # a 7
    image = rec.predict_strokes(drawing).mnist_image
    strokes = drawing.on_canvas.strokes
    alone = cnn.readout(image[None]).probabilities
    np.testing.assert_allclose(rec.readout(image[None]).probabilities, alone, atol=1e-6)
    np.testing.assert_allclose(rec.readout(image[None], [None]).probabilities, alone, atol=1e-6)
    both = rec.readout(np.stack([image, image]), [strokes, None]).probabilities
    raw_cnn = cnn.raw_probabilities(image[None])
    expected = product_of_experts(raw_cnn, rec.sequence.raw_probabilities([strokes]), 1.0, 0.8)
    np.testing.assert_allclose(both[0], expected[0], atol=1e-5)
    np.testing.assert_allclose(both[1], alone[0], atol=1e-6)
    assert rec.predict_image(np.zeros((280, 280), np.uint8)).threshold == rec.threshold


def test_an_invalid_fusion_is_refused(tmp_path):
    with pytest.raises(ValueError):
        Fusion.from_dict({"cnn_weight": -1, "seq_weight": 1, "threshold": 0.9})
    path = save_model(build_sequence_model(width=8), tmp_path / "s.keras", {"fusion": {"cnn_weight": 1}})
    with pytest.raises(ValueError, match="invalid fusion"):
        SequenceReader.load(path)


def test_shipped_sequence_reader_is_fused_with_the_shipped_cnn():
    rec = Recognizer.load()
    assert rec.sequence is not None, (
        "refit: python -m digitlib.fusion --cnn ... --seq digitlib/assets/digitlib_seq.keras"
    )
    assert rec.predict_number_strokes([[(30, 90), (30, 200)], [(120, 90), (180, 90), (135, 200)]], 280, 14).text == "17"
