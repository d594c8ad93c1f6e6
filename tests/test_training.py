"""digitlib.training: recipes, tiny real training runs, reproducibility, resuming an interrupted run, and a run
that never loses its work (arguments checked before the first step, checkpoints kept until the model is saved).

Each run trains on a few hundred MNIST images for one or two epochs: seconds, not minutes.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from digitlib import drawn, training

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
    "subset",
    "validation_fraction",
    "recipe",
    "command",
    "history",
    "train_sources",
    "calibration",
    "pen_digit_accuracy",
    "pen_digit_images",
    "data_sha256",
    "versions",
    "machine",
    "created",
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> training.TrainResult:
    output = tmp_path_factory.mktemp("run") / "tiny.keras"
    return training.train(
        "digitlib", epochs=1, subset=SUBSET, output=output, seed=0, verbose=0, progress=lambda m: None
    )


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
    with pytest.raises(ValueError, match="epochs must be a whole number of at least 1"):
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


def test_nonsense_gets_the_uniform_target():
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    labels = np.array([3, drawn.NONSENSE])
    _, y = next(iter(training.make_dataset(images, labels, batch_size=2, one_hot=True)))
    np.testing.assert_allclose(y[0], np.eye(10)[3])
    np.testing.assert_allclose(y[1], np.full(10, 0.1))


def test_the_training_set_mixes_mnist_pen_digits_and_nonsense_in_proportion():
    recipe = training.get_recipe("digitlib")
    sets = training.training_set(recipe, seed=0, subset=600, progress=lambda m: None)
    assert set(sets.sources) == {"mnist", "pen_digits", "nonsense"}
    assert len(sets.images) == len(sets.labels) == sum(sets.sources.values())
    assert sets.images.dtype == np.uint8 and sets.images.shape[1:] == (28, 28)
    assert np.sum(sets.labels == drawn.NONSENSE) == sets.sources["nonsense"] > 0
    # MNIST images held out for calibration are not learnt from; validation writers' digits calibrate too.
    assert sets.calibration_sources["mnist"] == round(recipe.calibration_images * 600 / 60000)
    assert sets.calibration_sources["pen_digits"] > 0 and len(sets.calibration_labels) == len(sets.calibration_images)
    again = training.training_set(recipe, seed=0, subset=600, progress=lambda m: None)
    np.testing.assert_array_equal(again.images, sets.images)  # seeded: the same images every time


# --- a run never loses its work (issue 12, rows 8, 9 and 13) ---------------------------------------------------


@pytest.mark.parametrize("subset", [-5, 0, 60_001, 2.5, True])
def test_a_subset_outside_the_training_set_is_refused_before_anything_runs(subset):
    with pytest.raises(ValueError, match=r"subset must be a number of training images from 1 to 60,000"):
        training.train("simple", subset=subset)


def test_a_bad_output_is_refused_before_the_first_step(tmp_path):
    steps = []

    class Count(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            steps.append(batch)

    with pytest.raises(ValueError, match=r"must end in \.keras.*try --output .*x\.keras"):
        training.train("simple", epochs=1, subset=64, output=tmp_path / "x.h5", callbacks=[Count()])
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(ValueError, match="cannot save a model as"):
        training.train("simple", epochs=1, subset=64, output=tmp_path / "a-file" / "m.keras", callbacks=[Count()])
    assert steps == []  # nothing trained in vain


@pytest.mark.slow
def test_a_failed_save_keeps_the_checkpoint_and_the_next_run_resumes(tmp_path, monkeypatch):
    backup, output = tmp_path / "backup", tmp_path / "model.keras"
    run = dict(epochs=2, subset=SUBSET, backup_dir=backup, output=output, verbose=0)

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(training, "save_model", disk_full)
    with pytest.raises(OSError, match="No space left"):
        training.train("simple", **run)
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2  # the work is kept
    monkeypatch.undo()

    epochs_run = []

    class Seen(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epochs_run.append(epoch)

    result = training.train("simple", **run, callbacks=[Seen()])
    assert epochs_run == []  # resumed after the last epoch: nothing trained again
    assert result.path == output and output.is_file()
    assert not backup.exists()  # deleted only now that the model is saved


@pytest.mark.slow
def test_a_resume_with_other_arguments_names_the_difference_and_the_folder(tmp_path, monkeypatch):
    backup = tmp_path / "backup"

    class StopAfterFirst(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise Interrupted

    with pytest.raises(Interrupted):
        training.train("simple", epochs=3, subset=SUBSET, backup_dir=backup, verbose=0, callbacks=[StopAfterFirst()])
    for other in (dict(epochs=2), dict(seed=7), dict(recipe="classic")):
        arguments = dict(recipe="simple", epochs=3, subset=SUBSET, backup_dir=backup, verbose=0) | other
        with pytest.raises(ValueError, match="holds the checkpoint of another run") as caught:
            training.train(**arguments)
        message = str(caught.value)
        assert str(backup) in message and "delete" in message
        key = "recipe" if "recipe" in other else next(iter(other))
        assert key in message
    assert backup.is_dir()  # the interrupted run's checkpoint is still there to resume


def test_leftovers_of_a_killed_save_are_removed_by_the_next_run(tmp_path):
    import subprocess

    finished = subprocess.Popen(["true"])
    finished.wait()
    leftover = tmp_path / f".model.keras.{finished.pid}.abc.digitlib-tmp.keras"
    leftover.write_bytes(b"")
    training.train("simple", epochs=1, subset=64, output=tmp_path / "model.keras", verbose=0)
    assert not leftover.exists()
    assert (tmp_path / "model.keras").is_file()


@pytest.mark.slow
def test_a_tiny_run_returns_a_complete_card(tiny_run):
    card = tiny_run.card
    assert set(card) == CARD_KEYS
    assert card["model"] == "digitlib_cnn"
    assert card["epochs"] == 1 and card["seed"] == 0
    assert card["subset"] == SUBSET and card["validation_fraction"] == 0.0  # what the MNIST split was made with
    assert card["train_images"] == sum(card["train_sources"].values()) > SUBSET  # MNIST, pen digits and nonsense
    assert card["train_sources"]["mnist"] < SUBSET  # some were held out to calibrate on
    assert card["calibration"]["temperature"] > 0 and 0.5 <= card["calibration"]["threshold"] <= 1
    assert "MNIST training images" in card["calibration"]["fitted_on"]
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
