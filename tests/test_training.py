"""digitlib.recipes, digitlib.training_data and digitlib.train: recipes, tiny real training runs, reproducibility,
resuming an interrupted run, a run that never loses its work (arguments checked before the first step, checkpoints
kept until the model is saved), and ``python -m digitlib.train``, whose bad arguments end with one line of error.

Each run trains on a few hundred MNIST images for one or two epochs: seconds, not minutes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from digitlib import pen_digits, recipes, train, training_data
from digitlib.evaluation import seen_writers
from digitlib.model_files import file_sha256
from digitlib.nonsense import NONSENSE

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
    "writers",
    "versions",
    "machine",
    "created",
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> train.TrainResult:
    output = tmp_path_factory.mktemp("run") / "tiny.keras"
    return train.train("digitlib", epochs=1, subset=SUBSET, output=output, seed=0, verbose=0, progress=lambda m: None)


def test_get_recipe_applies_overrides_and_ignores_none():
    recipe = recipes.get_recipe("digitlib", epochs=2, batch_size=None)
    assert recipe.epochs == 2
    assert recipe.batch_size == recipes.RECIPES["digitlib"].batch_size
    assert recipes.RECIPES["digitlib"].epochs != 2  # the registry itself is untouched


def test_get_recipe_names_the_choices_for_an_unknown_recipe():
    with pytest.raises(ValueError, match=r"unknown recipe 'lenet'; choose one of \['classic', "):
        recipes.get_recipe("lenet")


def test_get_recipe_rejects_an_unknown_field():
    with pytest.raises(TypeError):
        recipes.get_recipe("digitlib", epoch=3)


def test_the_classic_recipe_uses_adadelta_with_learning_rate_1():
    recipe = recipes.get_recipe("classic")
    optimizer = recipes.make_optimizer(recipe, steps_per_epoch=10)
    assert isinstance(optimizer, keras.optimizers.Adadelta)
    assert float(optimizer.learning_rate) == pytest.approx(1.0)


def test_the_one_cycle_schedule_warms_up_then_decays():
    recipe = recipes.get_recipe("digitlib", epochs=2)
    optimizer = recipes.make_optimizer(recipe, steps_per_epoch=50)
    optimizer.build([keras.Variable(np.zeros(1, np.float32))])

    def rate_at(step: int) -> float:
        optimizer.iterations.assign(step)
        return float(optimizer.learning_rate)

    rates = [rate_at(step) for step in (0, 15, 60, 99)]
    assert rates[0] < rates[1] == pytest.approx(recipe.learning_rate)  # warm-up: first 15% of steps
    assert rates[1] > rates[2] > rates[3]  # then a cosine decay


def test_an_unknown_optimizer_is_refused():
    recipe = recipes.get_recipe("simple", optimizer="sgd")
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        recipes.make_optimizer(recipe, 10)


def test_train_refuses_zero_epochs():
    with pytest.raises(ValueError, match="epochs must be a whole number of at least 1"):
        train.train("simple", epochs=0, subset=32)


def test_make_dataset_scales_batches_and_encodes_labels():
    images = np.full((5, 28, 28), 255, dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    batches = list(training_data.make_dataset(images, labels, batch_size=2))
    assert [tuple(x.shape) for x, _ in batches] == [(2, 28, 28, 1), (2, 28, 28, 1), (1, 28, 28, 1)]
    np.testing.assert_array_equal(batches[0][0], 1.0)
    np.testing.assert_array_equal(batches[0][1], [0, 1])
    x, y = next(iter(training_data.make_dataset(images, labels, batch_size=2, one_hot=True)))
    np.testing.assert_array_equal(y, [[1] + [0] * 9, [0, 1] + [0] * 8])


def test_nonsense_gets_the_uniform_target():
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    labels = np.array([3, NONSENSE])
    _, y = next(iter(training_data.make_dataset(images, labels, batch_size=2, one_hot=True)))
    np.testing.assert_allclose(y[0], np.eye(10)[3])
    np.testing.assert_allclose(y[1], np.full(10, 0.1))


def test_the_training_set_mixes_mnist_pen_digits_and_nonsense_in_proportion():
    recipe = recipes.get_recipe("digitlib")
    sets = training_data.training_set(recipe, seed=0, subset=600, progress=lambda m: None)
    assert set(sets.sources) == {"mnist", "pen_digits", "nonsense"}
    assert len(sets.images) == len(sets.labels) == sum(sets.sources.values())
    assert sets.images.dtype == np.uint8 and sets.images.shape[1:] == (28, 28)
    assert np.sum(sets.labels == NONSENSE) == sets.sources["nonsense"] > 0
    # MNIST images held out for calibration are not learnt from; the tune writers' digits calibrate too.
    assert sets.calibration_sources["mnist"] == round(recipe.calibration_images * 600 / 60000)
    assert sets.calibration_sources["pen_digits"] > 0 and len(sets.calibration_labels) == len(sets.calibration_images)
    again = training_data.training_set(recipe, seed=0, subset=600, progress=lambda m: None)
    np.testing.assert_array_equal(again.images, sets.images)  # seeded: the same images every time


# --- a run never loses its work (issue 12, rows 8, 9 and 13) ---------------------------------------------------


@pytest.mark.parametrize("subset", [-5, 0, 60_001, 2.5, True])
def test_a_subset_outside_the_training_set_is_refused_before_anything_runs(subset):
    with pytest.raises(ValueError, match=r"subset must be a number of training images from 1 to 60,000"):
        train.train("simple", subset=subset)


def test_a_bad_output_is_refused_before_the_first_step(tmp_path):
    steps = []

    class Count(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            steps.append(batch)

    with pytest.raises(ValueError, match=r"must end in \.keras.*try --output .*x\.keras"):
        train.train("simple", epochs=1, subset=64, output=tmp_path / "x.h5", callbacks=[Count()])
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(ValueError, match="cannot save a model as"):
        train.train("simple", epochs=1, subset=64, output=tmp_path / "a-file" / "m.keras", callbacks=[Count()])
    assert steps == []  # nothing trained in vain


@pytest.mark.slow
def test_a_failed_save_keeps_the_checkpoint_and_the_next_run_resumes(tmp_path, monkeypatch):
    backup, output = tmp_path / "backup", tmp_path / "model.keras"
    run = dict(epochs=2, subset=SUBSET, backup_dir=backup, output=output, verbose=0)

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(train, "save_model", disk_full)
    with pytest.raises(OSError, match="No space left"):
        train.train("simple", **run)
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2  # the work is kept
    monkeypatch.undo()

    epochs_run = []

    class Seen(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epochs_run.append(epoch)

    result = train.train("simple", **run, callbacks=[Seen()])
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
        train.train("simple", epochs=3, subset=SUBSET, backup_dir=backup, verbose=0, callbacks=[StopAfterFirst()])
    for other in (dict(epochs=2), dict(seed=7), dict(recipe="classic")):
        arguments = dict(recipe="simple", epochs=3, subset=SUBSET, backup_dir=backup, verbose=0) | other
        with pytest.raises(ValueError, match="holds the checkpoint of another run") as caught:
            train.train(**arguments)
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
    train.train("simple", epochs=1, subset=64, output=tmp_path / "model.keras", verbose=0)
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
    # The writers it learnt from and was tuned on, so that no figure is measured on them; never a report writer.
    assert card["writers"] == {
        group: pen_digits.writers(pen_digits.load_pen_digits(group)) for group in ("train", "tune")
    }
    report = set(pen_digits.writers(pen_digits.load_pen_digits("report")))
    assert seen_writers(card) and not seen_writers(card) & report
    json.dumps(card)  # the card must be JSON as it is


@pytest.mark.slow
def test_a_tiny_run_saves_a_model_that_loads_in_safe_mode(tiny_run):
    assert tiny_run.path is not None and tiny_run.path.is_file()
    loaded = keras.saving.load_model(tiny_run.path, safe_mode=True)
    x = np.random.default_rng(1).random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded(x), tiny_run.model(x), atol=1e-6)
    np.testing.assert_allclose(np.asarray(loaded(x)).sum(axis=1), 1.0, atol=1e-5)  # probabilities
    saved_card = json.loads(tiny_run.path.with_suffix(".json").read_text())
    # The card as returned, and the checksum that binds it to this model file.
    assert saved_card == {**json.loads(json.dumps(tiny_run.card)), "model_sha256": file_sha256(tiny_run.path)}


@pytest.mark.slow
def test_the_same_seed_gives_the_same_first_epoch_loss():
    # The small "simple" recipe (8 steps of 32 images) keeps this quick; the mechanism is the same.
    first, again, other = (train.train("simple", epochs=1, subset=SUBSET, seed=seed, verbose=0) for seed in (0, 0, 1))
    assert again.history["loss"][0] == pytest.approx(first.history["loss"][0], rel=1e-5)
    assert other.history["loss"][0] != pytest.approx(first.history["loss"][0], rel=1e-3)
    assert first.card["writers"] == {}  # MNIST only: no pen-digit writer was learnt from


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
        train.train("simple", **run)
    assert epochs_begun == [0]
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 1

    InterruptingBackup.interrupt = False
    result = train.train("simple", **run)
    assert epochs_begun == [0, 1]  # the second call started at epoch 2, not from scratch
    assert len(result.history["loss"]) == 1
    assert result.card["epochs"] == 2
    assert not Path(backup).exists()  # deleted once the run completed


def test_remove_backup_forgets_a_checkpoint(tmp_path):
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(b"weights")
    train.remove_backup(backup)
    assert not backup.exists()
    train.remove_backup(backup)  # nothing there: no error


def test_extra_callbacks_see_every_epoch_and_can_stop_the_run():
    seen: list[int] = []

    class StopAfterFirst(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)
            self.model.stop_training = True

    result = train.train("simple", epochs=3, subset=SUBSET, verbose=0, callbacks=[StopAfterFirst()])
    assert seen == [0]
    assert len(result.history["loss"]) == 1


# --- python -m digitlib.train: a bad argument ends with one line of error, never a traceback -------------------


def run_main(argv: list[str]) -> int:
    """`digitlib.train.main`'s exit code; argparse's own errors exit (code 2) instead of returning."""
    try:
        return train.main(argv)
    except SystemExit as exit_:
        return exit_.code


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("python -m digitlib.train: error:")]


@pytest.fixture
def read_only_folder(tmp_path) -> Path:
    """A folder no file can be created in: a read-only one, or (for root, who may write anywhere) /sys."""
    import os
    import tempfile

    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    for candidate in (folder, Path("/sys")):
        try:
            with tempfile.NamedTemporaryFile(dir=candidate):
                pass
        except OSError:
            yield candidate
            break
    else:
        pytest.skip("no read-only folder on this machine")
    os.chmod(folder, 0o755)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--epochs", "-1"], "epochs must be a whole number of at least 1, got -1"),
        (["--epochs", "0"], "epochs must be a whole number of at least 1, got 0"),
        (["--seed", "-1"], r"seed must be a whole number from 0 to 2\*\*32 - 1, got -1"),
        (["--seed", str(2**32)], "seed must be a whole number from 0 to 2"),
        (["--subset", "0"], "subset must be a number of training images from 1 to 60,000, got 0"),
        (["--validation-fraction", "1.5"], r"validation_fraction must be in \[0, 1\), got 1.5"),
        (["--cpu-replicas", "2"], "goes with the mirrored strategy, not 'default'"),
        (["--strategy", "mirrored", "--cpu-replicas", "0"], "at least 1, got 0"),
    ],
)
def test_the_command_line_refuses_bad_values_in_one_line(tmp_path, capsys, arguments, message):
    output = tmp_path / "m.keras"
    assert run_main(["--recipe", "simple", "--output", str(output), *arguments]) == 2
    captured = capsys.readouterr()
    (line,) = error_lines(captured.err)
    assert re.search(message, line), line
    assert "Traceback" not in captured.err and captured.out == ""
    assert list(tmp_path.iterdir()) == []  # nothing saved, no checkpoint folder left behind


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--recipe", "lenet"], "argument --recipe: invalid choice: 'lenet'"),
        (["--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
        (["--seed", "1.5"], "argument --seed: invalid int value: '1.5'"),
        (["--strategy", "horovod"], "argument --strategy: invalid choice: 'horovod'"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    ],
)
def test_the_command_line_refuses_unknown_choices_and_options_in_one_line(tmp_path, capsys, arguments, message):
    assert run_main(["--output", str(tmp_path / "m.keras"), *arguments]) == 2
    captured = capsys.readouterr()
    (line,) = error_lines(captured.err)
    assert message in line
    assert "Traceback" not in captured.err


def test_the_command_line_refuses_an_output_it_cannot_write(tmp_path, capsys, read_only_folder):
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder.keras").mkdir()
    for output, message in (
        (tmp_path / "model.h5", r"must end in \.keras.*try --output .*model\.keras"),
        (tmp_path / "a-folder.keras", "a-folder.keras is a folder; name the model file to write"),
        (tmp_path / "a-file" / "m.keras", "cannot save a model as .*a-file/m.keras: .*a-file is not a folder"),
        (read_only_folder / "m.keras", f"cannot save a model as {read_only_folder}/m.keras: .*read-only"),
    ):
        assert run_main(["--recipe", "simple", "--epochs", "1", "--output", str(output)]) == 2, output
        captured = capsys.readouterr()
        (line,) = error_lines(captured.err)
        assert re.search(message, line), line
        assert "Traceback" not in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a-file",
        "a-folder.keras",
        "read-only",
    ]  # nothing trained, nothing written


def test_an_unwritable_output_folder_is_not_called_the_data_folder(capsys, read_only_folder, monkeypatch):
    monkeypatch.delenv("DIGITLIB_DATA_DIR", raising=False)
    assert run_main(["--recipe", "simple", "--output", str(read_only_folder / "m.keras")]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "DIGITLIB_DATA_DIR" not in line and "data folder" not in line, line


def test_the_command_line_refuses_a_checkpoint_folder_of_something_else(tmp_path, capsys):
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("someone else's")
    for backup, message in (
        (tmp_path / "a-file", "the checkpoint folder .*a-file is a file"),
        (tmp_path / "theirs", "holds files that are not a digitlib checkpoint; delete the folder"),
    ):
        arguments = ["--recipe", "simple", "--output", str(tmp_path / "m.keras"), "--backup-dir", str(backup)]
        assert run_main(arguments) == 2
        captured = capsys.readouterr()
        (line,) = error_lines(captured.err)
        assert re.search(message, line), line
        assert "Traceback" not in captured.err
    assert (tmp_path / "theirs" / "notes.txt").read_text() == "someone else's"  # left as it was
    assert not (tmp_path / "m.keras").exists()


def test_python_m_digitlib_train_exits_with_one_line_not_a_traceback(tmp_path):
    import subprocess
    import sys

    for arguments, code, message in (
        (["--epochs", "-1"], 2, "epochs must be a whole number of at least 1, got -1"),
        (["--recipe", "lenet"], 2, "argument --recipe: invalid choice: 'lenet'"),
    ):
        run = subprocess.run(
            [sys.executable, "-m", "digitlib.train", "--output", str(tmp_path / "m.keras"), *arguments],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == code, run.stderr[-2000:]
        assert "Traceback" not in run.stderr
        (line,) = error_lines(run.stderr)
        assert message in line
        assert run.stderr.rstrip().splitlines()[-1].startswith("python -m digitlib.train: error:")
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_trains_into_a_new_folder_and_records_the_command(tmp_path, capsys):
    output = tmp_path / "new" / "deeper" / "m.keras"  # folders that do not exist yet are made
    arguments = ["--recipe", "simple", "--epochs", "1", "--subset", "64", "--output", str(output)]
    assert train.main(arguments) == 0
    captured = capsys.readouterr()
    assert f"Saved {output}: test accuracy" in captured.out and error_lines(captured.err) == []
    card = json.loads(output.with_suffix(".json").read_text())
    assert card["command"] == "python -m digitlib.train " + " ".join(arguments)
    assert card["epochs"] == 1 and card["subset"] == 64
    assert not Path(f"{output}.backup").exists()  # the default checkpoint folder, removed once the model is saved


def test_a_full_disk_at_the_save_ends_with_one_line_and_keeps_the_checkpoint(tmp_path, capsys, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train, "save_model", disk_full)
    output = tmp_path / "m.keras"
    assert train.main(["--recipe", "simple", "--epochs", "1", "--subset", "64", "--output", str(output)]) == 1
    captured = capsys.readouterr()
    (line,) = error_lines(captured.err)
    assert "No space left on device" in line and "Traceback" not in captured.err
    assert not output.exists()
    backup = Path(f"{output}.backup")
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 1  # the work is kept
