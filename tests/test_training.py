"""digitlib.training: recipes, tiny real training runs, reproducibility and resuming an interrupted run.

Each run trains on a few hundred MNIST images for one or two epochs: seconds, not minutes.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from digitlib import training

SUBSET = 256  # one batch of the digitlib recipe: one step per epoch

CARD_KEYS = {
    "model",
    "parameters",
    "input",
    "output",
    "test_accuracy",
    "test_images",
    "train_images",
    "epochs",
    "wall_time_s",
    "seed",
    "recipe",
    "command",
    "history",
    "data_sha256",
    "versions",
    "machine",
    "created",
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> training.TrainResult:
    output = tmp_path_factory.mktemp("run") / "tiny.keras"
    return training.train("digitlib", epochs=1, subset=SUBSET, output=output, seed=0, verbose=0)


def test_get_recipe_applies_overrides_and_ignores_none():
    recipe = training.get_recipe("digitlib", epochs=2, batch_size=None)
    assert recipe.epochs == 2
    assert recipe.batch_size == training.RECIPES["digitlib"].batch_size
    assert training.RECIPES["digitlib"].epochs != 2  # the registry itself is untouched


def test_get_recipe_names_the_choices_for_an_unknown_recipe():
    with pytest.raises(ValueError, match=r"unknown recipe 'lenet'; choose one of \['classic', "):
        training.get_recipe("lenet")


def test_get_recipe_rejects_an_unknown_field():
    with pytest.raises(TypeError):
        training.get_recipe("digitlib", epoch=3)


def test_the_classic_recipe_uses_adadelta_with_learning_rate_1():
    recipe = training.get_recipe("classic")
    optimizer = training.make_optimizer(recipe, steps_per_epoch=10)
    assert isinstance(optimizer, keras.optimizers.Adadelta)
    assert float(optimizer.learning_rate) == pytest.approx(1.0)


def test_the_one_cycle_schedule_warms_up_then_decays():
    recipe = training.get_recipe("digitlib", epochs=2)
    optimizer = training.make_optimizer(recipe, steps_per_epoch=50)
    optimizer.build([keras.Variable(np.zeros(1, np.float32))])

    def rate_at(step: int) -> float:
        optimizer.iterations.assign(step)
        return float(optimizer.learning_rate)

    rates = [rate_at(step) for step in (0, 15, 60, 99)]
    assert rates[0] < rates[1] == pytest.approx(recipe.learning_rate)  # warm-up: first 15% of steps
    assert rates[1] > rates[2] > rates[3]  # then a cosine decay


def test_an_unknown_optimizer_is_refused():
    recipe = training.get_recipe("simple", optimizer="sgd")
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        training.make_optimizer(recipe, 10)


def test_train_refuses_zero_epochs():
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        training.train("simple", epochs=0, subset=32)


def test_make_dataset_scales_batches_and_encodes_labels():
    images = np.full((5, 28, 28), 255, dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    batches = list(training.make_dataset(images, labels, batch_size=2))
    assert [tuple(x.shape) for x, _ in batches] == [(2, 28, 28, 1), (2, 28, 28, 1), (1, 28, 28, 1)]
    np.testing.assert_array_equal(batches[0][0], 1.0)
    np.testing.assert_array_equal(batches[0][1], [0, 1])
    x, y = next(iter(training.make_dataset(images, labels, batch_size=2, one_hot=True)))
    np.testing.assert_array_equal(y, [[1] + [0] * 9, [0, 1] + [0] * 8])


@pytest.mark.slow
def test_a_tiny_run_returns_a_complete_card(tiny_run):
    card = tiny_run.card
    assert set(card) == CARD_KEYS
    assert card["model"] == "digitlib_cnn"
    assert card["epochs"] == 1 and card["train_images"] == SUBSET and card["seed"] == 0
    assert card["recipe"]["optimizer"] == "adam_onecycle"
    assert set(card["history"]) == {"loss", "accuracy"} and len(card["history"]["loss"]) == 1
    assert 0.0 <= card["test_accuracy"] <= 1.0 and card["test_images"] == 10000
    json.dumps(card)  # the card must be JSON as it is


@pytest.mark.slow
def test_a_tiny_run_saves_a_model_that_loads_in_safe_mode(tiny_run):
    assert tiny_run.path is not None and tiny_run.path.is_file()
    loaded = keras.saving.load_model(tiny_run.path, safe_mode=True)
    x = np.random.default_rng(1).random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded(x), tiny_run.model(x), atol=1e-6)
    np.testing.assert_allclose(np.asarray(loaded(x)).sum(axis=1), 1.0, atol=1e-5)  # probabilities
    saved_card = json.loads(tiny_run.path.with_suffix(".json").read_text())
    assert saved_card == json.loads(json.dumps(tiny_run.card))


@pytest.mark.slow
def test_the_same_seed_gives_the_same_first_epoch_loss():
    # The small "simple" recipe (8 steps of 32 images) keeps this quick; the mechanism is the same.
    first, again, other = (
        training.train("simple", epochs=1, subset=SUBSET, seed=seed, verbose=0) for seed in (0, 0, 1)
    )
    assert again.history["loss"][0] == pytest.approx(first.history["loss"][0], rel=1e-5)
    assert other.history["loss"][0] != pytest.approx(first.history["loss"][0], rel=1e-3)


class Interrupted(Exception):
    """Stands in for a crash, a Ctrl-C or a lost machine."""


@pytest.mark.slow
def test_an_interrupted_run_resumes_from_its_backup(tmp_path, monkeypatch):
    backup = tmp_path / "backup"
    epochs_begun: list[int] = []

    class InterruptingBackup(keras.callbacks.BackupAndRestore):
        """The real backup callback, which records each epoch and can stop the run after the first."""

        interrupt = True

        def on_epoch_begin(self, epoch, logs=None):
            epochs_begun.append(epoch)

        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)  # the checkpoint is written first
            if self.interrupt:
                raise Interrupted

    monkeypatch.setattr(keras.callbacks, "BackupAndRestore", InterruptingBackup)
    run = dict(epochs=2, subset=SUBSET, backup_dir=backup, verbose=0)
    with pytest.raises(Interrupted):
        training.train("simple", **run)
    assert epochs_begun == [0]
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 1

    InterruptingBackup.interrupt = False
    result = training.train("simple", **run)
    assert epochs_begun == [0, 1]  # the second call started at epoch 2, not from scratch
    assert len(result.history["loss"]) == 1
    assert result.card["epochs"] == 2
    assert not Path(backup).exists()  # deleted once the run completed


def test_remove_backup_forgets_a_checkpoint(tmp_path):
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(b"weights")
    training.remove_backup(backup)
    assert not backup.exists()
    training.remove_backup(backup)  # nothing there: no error


def test_extra_callbacks_see_every_epoch_and_can_stop_the_run():
    seen: list[int] = []

    class StopAfterFirst(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)
            self.model.stop_training = True

    result = training.train("simple", epochs=3, subset=SUBSET, verbose=0, callbacks=[StopAfterFirst()])
    assert seen == [0]
    assert len(result.history["loss"]) == 1
