"""digitlib.evaluation on real predictions: the shipped model on a slice of the MNIST test set."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digitlib import evaluation, model_files


@pytest.fixture(scope="module")
def predictions(shipped_probabilities):
    return evaluation.predicted_digits(shipped_probabilities)


def test_predicted_digits_are_the_most_probable(shipped_probabilities, predictions):
    assert predictions.shape == (len(shipped_probabilities),)
    rows = np.arange(len(shipped_probabilities))
    assert np.all(shipped_probabilities[rows, predictions] == shipped_probabilities.max(axis=1))


def test_accuracy_is_the_share_of_right_predictions(mnist_test_slice, predictions):
    labels = mnist_test_slice[1]
    right = sum(int(p == t) for p, t in zip(predictions, labels, strict=True))
    assert evaluation.accuracy(labels, predictions) == pytest.approx(right / len(labels))
    assert evaluation.accuracy(labels, labels) == 1.0


def test_confusion_matrix_counts_every_image_once(mnist_test_slice, predictions):
    labels = mnist_test_slice[1]
    confusion = evaluation.confusion_matrix(labels, predictions)
    assert confusion.shape == (10, 10)
    assert confusion.sum() == len(labels)
    assert np.array_equal(confusion.sum(axis=1), np.bincount(labels, minlength=10))
    assert np.array_equal(confusion.sum(axis=0), np.bincount(predictions, minlength=10))
    assert np.trace(confusion) == np.sum(predictions == labels)
    wrong = np.flatnonzero(predictions != labels)
    assert len(wrong) > 0, "the slice should hold a few mistakes to make the test meaningful"
    i = wrong[0]
    assert confusion[labels[i], predictions[i]] >= 1


def test_per_class_metrics_follow_their_definitions(mnist_test_slice, predictions):
    labels = mnist_test_slice[1]
    metrics = evaluation.per_class_metrics(labels, predictions)
    for digit in range(10):
        true_positive = np.sum((predictions == digit) & (labels == digit))
        assert metrics.precision[digit] == pytest.approx(true_positive / np.sum(predictions == digit))
        assert metrics.recall[digit] == pytest.approx(true_positive / np.sum(labels == digit))
        p, r = metrics.precision[digit], metrics.recall[digit]
        assert metrics.f1[digit] == pytest.approx(2 * p * r / (p + r))
        assert metrics.support[digit] == np.sum(labels == digit)


def test_a_digit_never_predicted_scores_zero_not_nan(mnist_test_slice, predictions):
    labels = mnist_test_slice[1]
    without_threes = np.where(predictions == 3, 5, predictions)
    metrics = evaluation.per_class_metrics(labels, without_threes)
    assert metrics.precision[3] == 0.0 and metrics.recall[3] == 0.0 and metrics.f1[3] == 0.0
    assert np.all(np.isfinite(metrics.precision))


def test_classification_report_has_a_row_per_digit_and_the_accuracy(mnist_test_slice, predictions):
    labels = mnist_test_slice[1]
    report = evaluation.classification_report(labels, predictions)
    metrics = evaluation.per_class_metrics(labels, predictions)
    rows = {line.split()[0]: line.split()[1:] for line in report.splitlines() if line.strip()}
    for digit in range(10):
        precision, recall, f1, support = rows[str(digit)]
        assert float(precision) == pytest.approx(metrics.precision[digit], abs=1e-4)
        assert float(recall) == pytest.approx(metrics.recall[digit], abs=1e-4)
        assert int(support) == metrics.support[digit]
    accuracy_value, total = rows["accuracy"]
    assert float(accuracy_value) == pytest.approx(evaluation.accuracy(labels, predictions), abs=1e-4)
    assert int(total) == len(labels)
    macro = report.splitlines()[-2].split()
    assert macro[:2] == ["macro", "avg"]
    assert float(macro[2]) == pytest.approx(metrics.precision.mean(), abs=1e-4)


@pytest.mark.parametrize(
    ("labels", "predictions", "message"),
    [
        (np.array([1, 2, 3]), np.array([1, 2]), "differ in length"),
        (np.array([1, 2, 12]), np.array([1, 2, 3]), "digits 0-9"),
        (np.zeros((3, 2), int), np.zeros((3, 2), int), "1-D array"),
    ],
)
def test_bad_inputs_get_clear_errors(labels, predictions, message):
    with pytest.raises(ValueError, match=message):
        evaluation.confusion_matrix(labels, predictions)


def test_most_confident_mistakes_are_wrong_and_sorted(mnist_test_slice, shipped_probabilities, predictions):
    labels = mnist_test_slice[1]
    ranked = evaluation.most_confident_mistakes(labels, shipped_probabilities)
    assert set(ranked) == set(np.flatnonzero(predictions != labels))
    confidence = shipped_probabilities[ranked, predictions[ranked]]
    assert np.all(np.diff(confidence) <= 0)
    top = evaluation.most_confident_mistakes(labels, shipped_probabilities, count=3)
    assert np.array_equal(top, ranked[:3])


def test_a_perfect_model_has_no_mistakes(mnist_test_slice):
    labels = mnist_test_slice[1]
    perfect = np.eye(10, dtype=np.float32)[labels]
    assert evaluation.most_confident_mistakes(labels, perfect).size == 0


def test_most_confident_mistakes_checks_shapes(shipped_probabilities, mnist_test_slice):
    with pytest.raises(ValueError, match="labels"):
        evaluation.most_confident_mistakes(mnist_test_slice[1][:10], shipped_probabilities)
    with pytest.raises(ValueError, match=r"\(N, 10\)"):
        evaluation.most_confident_mistakes(mnist_test_slice[1], shipped_probabilities[:, :5])


def test_training_history_from_the_shipped_model_card():
    card = model_files.load_card()
    from_card = evaluation.training_history(card)
    from_path = evaluation.training_history(model_files.SHIPPED_MODEL)
    assert from_card == from_path
    assert {"loss", "accuracy"} <= set(from_card)
    assert all(len(values) == card["epochs"] for values in from_card.values())


def test_training_history_accepts_a_keras_history_and_rejects_bad_ones(tmp_path):
    history = {"loss": [0.5, 0.3], "accuracy": [0.9, 0.95]}
    assert evaluation.training_history(history) == history
    with pytest.raises(ValueError, match="different lengths"):
        evaluation.training_history({"loss": [0.5, 0.3], "accuracy": [0.9]})
    with pytest.raises(FileNotFoundError, match="No model card"):
        evaluation.training_history(tmp_path / "missing.keras")


def test_saved_run_round_trip(tmp_path, shipped_probabilities, mnist_test_slice):
    info = {"epochs": 2, "wall_time_s": 12.5, "history": {"loss": [0.4, 0.2]}, "command": "python x.py"}
    run = evaluation.SavedRun("shipped_slice", shipped_probabilities, info)
    path = run.save(tmp_path)
    assert path == tmp_path / "shipped_slice.npz"
    assert evaluation.list_saved_runs(tmp_path) == ["shipped_slice"]
    loaded = evaluation.SavedRun.load("shipped_slice", tmp_path)
    assert loaded.info == info
    assert loaded.probabilities.dtype == np.float32
    np.testing.assert_allclose(loaded.probabilities, shipped_probabilities, atol=1e-3)
    labels = mnist_test_slice[1]
    assert evaluation.accuracy(labels, loaded.predictions) == pytest.approx(
        evaluation.accuracy(labels, run.predictions), abs=1e-3
    )
    assert "2 epoch(s), 12 s of training" in loaded.describe()
    assert not list(tmp_path.glob("*.tmp")), "atomic writes leave no temp files behind"
    assert (path.stat().st_mode & 0o777) == 0o644


def test_loading_a_missing_run_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="benchmarks/baselines.py"):
        evaluation.SavedRun.load("nothing_here", tmp_path)


def test_committed_baselines_match_what_they_claim(mnist):
    names = evaluation.list_saved_runs()
    assert names, f"no saved baseline runs in {evaluation.BASELINES_DIR}; run benchmarks/baselines.py"
    total_bytes = sum(p.stat().st_size for p in evaluation.BASELINES_DIR.iterdir())
    assert total_bytes < 1_000_000
    (_, _), (_, y_test) = mnist
    for name in names:
        run = evaluation.SavedRun.load(name)
        assert run.probabilities.shape == (10000, 10)
        np.testing.assert_allclose(run.probabilities.sum(axis=1), 1.0, atol=0.02)
        info = json.loads((evaluation.BASELINES_DIR / f"{name}.json").read_text())
        assert evaluation.accuracy(y_test, run.predictions) == pytest.approx(info["test_accuracy"], abs=1e-5)
        assert len(info["history"]["loss"]) == info["epochs"]


def test_comparison_table_has_a_line_per_model(mnist_test_slice, shipped_probabilities):
    labels = mnist_test_slice[1]
    always_one = np.eye(10)[np.ones_like(labels)]
    table = evaluation.comparison_table(labels, {"shipped": shipped_probabilities, "always_one": always_one})
    lines = table.splitlines()
    assert len(lines) == 4
    shipped = lines[2].split()
    assert shipped[0] == "shipped"
    assert shipped[1] == f"{evaluation.accuracy(labels, shipped_probabilities.argmax(1)):.2%}"
    ones = lines[3].split()
    assert int(ones[2]) == np.sum(labels != 1)
    assert ones[3] == "0"  # a model that only says 1 never recognises a 0
