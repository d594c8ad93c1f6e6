"""digitlib.train under tf.distribute: real runs under MirroredStrategy and MultiWorkerMirroredStrategy.

A strategy fixes TensorFlow's devices and collectives for the life of a process, so every run here happens in a
fresh Python process: two logical CPU devices stand in for two GPUs, and two processes on loopback, each with its
``TF_CONFIG``, for two machines. Each run trains the small "simple" recipe on 1,024 images for a few epochs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digitlib import train
from digitlib._tf import tf
from digitlib.distribute import check_tf_config, make_strategy
from digitlib.evaluation import evaluate_accuracy
from digitlib.model_files import load_card, load_model
from digitlib.recipes import RECIPES

pytestmark = pytest.mark.slow

SUBSET = 1024
BATCH = RECIPES["simple"].batch_size
STARTUP_S = 300  # generous: several TensorFlow processes start at once on a busy 2-core machine

# A short mirrored run that records, at the end of every epoch, what a callback sees: the replicas, the steps,
# the learning rate and the checkpoint folder (the backup callback has written it by then).
MIRRORED_RUN = """
import json, sys
from pathlib import Path

from digitlib.distribute import make_strategy

strategy = make_strategy("mirrored", cpu_replicas=2)  # before anything else uses TensorFlow

from digitlib._tf import keras
from digitlib.train import train

folder = Path(sys.argv[1])
backup = folder / "backup"
report = {"replicas": strategy.num_replicas_in_sync, "epochs": []}


class Watch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1

    def on_epoch_end(self, epoch, logs=None):
        report["epochs"].append({
            "steps": self.steps,
            "learning_rate": float(self.model.optimizer.learning_rate.numpy()),
            "checkpoint": sorted(p.name for p in backup.iterdir()),
            "checkpoint_epoch": json.loads((backup / "training_metadata.json").read_text())["epoch"],
        })


result = train(
    "simple", epochs=2, subset=1024, validation_fraction=0.1, output=folder / "mirrored.keras", backup_dir=backup,
    strategy=strategy, verbose=0, callbacks=[Watch()],
)
report["history"] = result.history
report["train_images"] = result.card["train_images"]
(folder / "report.json").write_text(json.dumps(report))
"""

# One worker of a cluster that stops answering after its second epoch's checkpoint: the test kills it there.
HANGING_WORKER = """
import sys, time

from digitlib.distribute import make_strategy

strategy = make_strategy("multi-worker")

from digitlib._tf import keras
from digitlib.train import train


class HangAfterSecondEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            time.sleep(3600)


train(
    "simple", epochs=3, subset=1024, validation_fraction=0.1, output=sys.argv[1], backup_dir=sys.argv[2],
    strategy=strategy, verbose=0, callbacks=[HangAfterSecondEpoch()],
)
"""


def _checkpoint_epoch(folder: Path) -> int | None:
    """The epochs done in the checkpoint that Keras's BackupAndRestore keeps in ``folder`` (None: none yet)."""
    try:
        return json.loads((folder / "training_metadata.json").read_text())["epoch"]
    except (OSError, ValueError):  # not there yet, or being written
        return None


def _fail(message: str, logs: list[Path]) -> None:
    tails = "\n".join(f"--- {log.name}:\n{log.read_text()[-3000:]}" for log in logs if log.exists())
    pytest.fail(f"{message}\n{tails}")


def _start_workers(tmp_path: Path, free_port, commands: list[list[str]], name: str) -> list[subprocess.Popen]:
    """Start one process per command as the workers of a cluster on loopback (worker 0 is the chief)."""
    cluster = {"worker": [f"127.0.0.1:{free_port()}" for _ in commands]}
    processes = []
    for index, command in enumerate(commands):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        log = (tmp_path / f"{name}-{index}.log").open("w")
        processes.append(subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT))
    return processes


def _wait(processes: list[subprocess.Popen], logs: list[Path], timeout: float = STARTUP_S) -> None:
    deadline = time.monotonic() + timeout
    try:
        for process in processes:
            process.wait(max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
        _fail("a worker did not finish in time", logs)
    if any(process.returncode for process in processes):
        _fail(f"a worker failed (exit codes {[p.returncode for p in processes]})", logs)


def test_make_strategy_checks_its_arguments_before_touching_tensorflow():
    with pytest.raises(ValueError, match=r"unknown strategy 'horovod'; choose one of \['default', 'mirrored'"):
        make_strategy("horovod")
    with pytest.raises(ValueError, match="goes with the mirrored strategy, not 'multi-worker'"):
        make_strategy("multi-worker", cpu_replicas=2)
    with pytest.raises(ValueError, match="at least 1, got 0"):
        make_strategy("mirrored", cpu_replicas=0)
    assert make_strategy("default") is None


def test_train_refuses_a_plain_multi_worker_strategy():
    # An instance that was never initialised: creating a real one would set up collectives in this process.
    plain = object.__new__(tf.distribute.MultiWorkerMirroredStrategy)
    with pytest.raises(ValueError, match="create a digitlib.distribute.MultiWorkerStrategy instead"):
        train.train("simple", subset=32, strategy=plain)


# --- TF_CONFIG: TensorFlow reads a malformed one as no cluster and trains alone, silently; digitlib refuses it ---

CLUSTER = {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}


def tf_config(cluster=CLUSTER, **task) -> str:
    return json.dumps({"cluster": cluster, "task": task})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "--strategy multi-worker needs TF_CONFIG naming the cluster and this task"),
        ("", "--strategy multi-worker needs TF_CONFIG naming the cluster and this task"),
        ("{bad json", r"TF_CONFIG is not JSON \('\{bad json'\); it should look like \{\"cluster\""),
        ("   ", "TF_CONFIG is not JSON"),
        ("[]", "must list the workers' host:port addresses under cluster.worker"),
        ("null", "must list the workers' host:port addresses under cluster.worker"),
        ('"worker"', "must list the workers' host:port addresses under cluster.worker"),
        ("{}", "must list the workers' host:port addresses under cluster.worker"),
        ('{"cluster": []}', "must list the workers' host:port addresses under cluster.worker"),
        (tf_config({"worker": []}, type="worker", index=0), "must list the workers' host:port addresses"),
        (tf_config({"worker": "127.0.0.1:2222"}, type="worker", index=0), "must list the workers'"),
        (tf_config({"worker": ["127.0.0.1:2222", 2223]}, type="worker", index=0), "must list the workers'"),
        (tf_config({"ps": ["127.0.0.1:2222"]}, type="ps", index=0), "must list the workers'"),
        (json.dumps({"cluster": CLUSTER}), "must name this process's task \\(type and index\\)"),
        (json.dumps({"cluster": CLUSTER, "task": "worker:0"}), "must name this process's task"),
        (tf_config(type="worker"), "must name this process's task"),
        (tf_config(index=0), "must name this process's task"),
        (tf_config(type="chief", index=0), "must name this process's task"),
        (tf_config(type="worker", index="0"), "must name this process's task"),
        (tf_config(type="worker", index=0.0), "must name this process's task"),
        (tf_config(type="worker", index=2), "task index 2 is not among its 2 tasks"),
        (tf_config(type="worker", index=-1), "task index -1 is not among its 2 tasks"),
    ],
)
def test_check_tf_config_refuses_a_malformed_tf_config_saying_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        check_tf_config(text)


@pytest.mark.parametrize(
    "text",
    [
        tf_config({"worker": ["127.0.0.1:2222"], "chief": 5}, type="chief", index=0),  # was a TypeError: no len()
        tf_config(type=["worker"], index=0),  # was a TypeError: unhashable type: 'list'
        tf_config(type={"worker": 0}, index=0),  # was a TypeError: unhashable type: 'dict'
        tf_config(type="worker", index=True),  # was taken for worker 1
    ],
)
def test_check_tf_config_refuses_a_task_type_or_index_of_the_wrong_kind(text):
    with pytest.raises(ValueError, match="TF_CONFIG"):
        check_tf_config(text)


def test_check_tf_config_returns_the_cluster_and_the_task():
    assert check_tf_config(tf_config(type="worker", index=1)) == {
        "cluster": CLUSTER,
        "task": {"type": "worker", "index": 1},
    }
    with_chief = {**CLUSTER, "chief": ["127.0.0.1:2224"]}
    assert check_tf_config(tf_config(with_chief, type="chief", index=0))["task"] == {"type": "chief", "index": 0}


def test_make_strategy_checks_tf_config_before_making_a_cluster(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "[]")
    with pytest.raises(ValueError, match="under cluster.worker"):
        make_strategy("multi-worker")
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        make_strategy("multi-worker")


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("python -m digitlib.train: error:")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "needs TF_CONFIG naming the cluster and this task"),
        ("[]", "must list the workers' host:port addresses under cluster.worker"),
        ("{bad json", "TF_CONFIG is not JSON ('{bad json')"),
        (tf_config(type="worker", index=5), "task index 5 is not among its 2 tasks"),
    ],
)
def test_the_command_line_refuses_a_bad_tf_config_in_one_line(tmp_path, capsys, monkeypatch, text, message):
    if text is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", text)
    output = tmp_path / "m.keras"
    assert train.main(["--recipe", "simple", "--strategy", "multi-worker", "--output", str(output)]) == 2
    captured = capsys.readouterr()
    (line,) = _error_lines(captured.err)
    assert message in line
    assert "Traceback" not in captured.err and captured.out == ""
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing written


def test_the_command_line_refuses_a_tf_config_whose_task_type_is_a_list(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", tf_config(type=["worker"], index=0))
    output = tmp_path / "m.keras"
    assert train.main(["--recipe", "simple", "--strategy", "multi-worker", "--output", str(output)]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert "TF_CONFIG" in line


def test_python_m_digitlib_train_with_a_bad_tf_config_exits_with_one_line(tmp_path):
    env = {**os.environ, "TF_CONFIG": "{bad json"}
    run = subprocess.run(
        [sys.executable, "-m", "digitlib.train", "--strategy", "multi-worker", "--output", str(tmp_path / "m.keras")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    (line,) = _error_lines(run.stderr)
    assert "TF_CONFIG is not JSON" in line
    assert run.stderr.rstrip().splitlines()[-1] == line
    assert list(tmp_path.iterdir()) == []


def test_a_mirrored_run_on_two_devices_learns_and_checkpoints_every_epoch(tmp_path, mnist):
    script = tmp_path / "mirrored_run.py"
    script.write_text(MIRRORED_RUN)
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=STARTUP_S
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())

    assert report["replicas"] == 2
    assert (SUBSET - report["train_images"]) % 2 == 1  # an odd validation set: the replicas' shares differ
    for epoch, seen in enumerate(report["epochs"], 1):
        # Each replica takes a batch of the recipe's size: a step sees twice as many images.
        assert seen["steps"] == -(-report["train_images"] // (2 * BATCH))
        assert seen["learning_rate"] == pytest.approx(2 * RECIPES["simple"].learning_rate)
        assert {"latest.weights.h5", "training_metadata.json", train.RUN_RECORD} <= set(seen["checkpoint"])
        assert seen["checkpoint_epoch"] == epoch
    assert len(report["epochs"]) == 2 and set(report["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert report["history"]["loss"][1] < report["history"]["loss"][0]
    assert not (tmp_path / "backup").exists()  # deleted once the model was saved

    (_, _), (x_test, y_test) = mnist
    model = load_model(tmp_path / "mirrored.keras")
    assert evaluate_accuracy(model, x_test, y_test) > 0.6  # chance is 0.1
    assert load_card(tmp_path / "mirrored.keras")["epochs"] == 2


def test_a_killed_two_worker_run_resumes_and_only_the_chief_saves(tmp_path, free_port, mnist):
    script = tmp_path / "hanging_worker.py"
    script.write_text(HANGING_WORKER)
    backup = tmp_path / "backup"
    # On a real cluster every machine gets the same command; here each worker gets its own output path, to show
    # which one writes.
    outputs = [tmp_path / f"model-{index}.keras" for index in range(2)]
    logs = [tmp_path / f"hanging-{index}.log" for index in range(2)]
    workers = _start_workers(
        tmp_path, free_port, [[sys.executable, str(script), str(out), str(backup)] for out in outputs], "hanging"
    )
    folders = [backup / f"worker-{index}" for index in range(2)]
    deadline = time.monotonic() + STARTUP_S
    while not all(_checkpoint_epoch(folder) == 2 for folder in folders):
        if any(worker.poll() is not None for worker in workers) or time.monotonic() > deadline:
            for worker in workers:
                worker.kill()
            _fail("the workers did not both reach their second checkpoint", logs)
        time.sleep(0.2)
    for worker in workers:  # a lost machine: no clean-up code runs
        worker.kill()
        worker.wait()
    assert not any(out.exists() for out in outputs)
    assert sorted(p.name for p in backup.iterdir()) == ["worker-0", "worker-1"]  # each task keeps its own

    # Worker 1 as if killed before it wrote its second checkpoint: the chief is an epoch ahead.
    for name in ("latest.weights.h5", "training_metadata.json"):
        os.replace(folders[1] / f"{name}.bkp", folders[1] / name)
    assert [_checkpoint_epoch(folder) for folder in folders] == [2, 1]

    cli = [sys.executable, "-m", "digitlib.train", "--recipe", "simple", "--epochs", "3", "--subset", str(SUBSET)]
    cli += ["--validation-fraction", "0.1", "--backup-dir", str(backup), "--strategy", "multi-worker"]
    logs = [tmp_path / f"resumed-{index}.log" for index in range(2)]
    workers = _start_workers(tmp_path, free_port, [[*cli, "--output", str(out)] for out in outputs], "resumed")
    _wait(workers, logs)

    assert outputs[0].is_file() and not outputs[1].exists()  # only the chief saved
    assert not any(path.name.startswith("model-1") for path in tmp_path.iterdir())
    assert not backup.exists()  # every worker deleted its checkpoint, the last one the shared folder
    card = load_card(outputs[0])
    assert card["epochs"] == 3
    # Both resumed from the first epoch (the chief went back to its previous checkpoint): two epochs ran.
    assert len(card["history"]["loss"]) == 2 and len(card["history"]["val_accuracy"]) == 2
    assert "--strategy multi-worker" in card["command"]
    assert "the chief saves the model" in logs[1].read_text()

    (_, _), (x_test, y_test) = mnist
    accuracy = evaluate_accuracy(load_model(outputs[0]), x_test, y_test)
    assert accuracy > 0.6  # chance is 0.1
    assert card["test_accuracy"] == pytest.approx(accuracy, abs=1e-4)
