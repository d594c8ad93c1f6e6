"""Training on several devices or machines with `tf.distribute`: the strategies, and what Keras 3 needs for them.

`digitlib.train.train` takes a strategy and stays the same code: each replica takes a batch of the recipe's size,
the learning rate is multiplied by the number of replicas, and in a cluster every worker learns from its own share
of the images. This module holds what that takes: `make_strategy` (``python -m digitlib.train --strategy``),
`MultiWorkerStrategy` (the multi-worker strategy as Keras 3.15's ``fit`` needs it), who saves (`is_chief`), where
each worker keeps its checkpoint (`worker_folder`) and how the workers agree on the epoch to resume from.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from digitlib._tf import keras, tf
from digitlib.recipes import Recipe
from digitlib.training_data import make_dataset

#: The --strategy choices (see `make_strategy`).
STRATEGIES = ("default", "mirrored", "multi-worker")


def make_strategy(name: str, cpu_replicas: int | None = None) -> tf.distribute.Strategy | None:
    """The `tf.distribute` strategy called ``name`` (one of `STRATEGIES`; None for "default").

    Call it before TensorFlow runs anything: a strategy fixes the devices, and ``cpu_replicas`` (mirrored only)
    splits the CPU into that many logical devices, which TensorFlow allows only before it first uses them.
    "multi-worker" reads the cluster and this process's task from ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}")
    if cpu_replicas is not None and name != "mirrored":
        raise ValueError(f"cpu_replicas (--cpu-replicas) goes with the mirrored strategy, not {name!r}; leave it out")
    if cpu_replicas is not None and (
        isinstance(cpu_replicas, bool) or not isinstance(cpu_replicas, int) or cpu_replicas < 1
    ):
        raise ValueError(
            f"cpu_replicas (--cpu-replicas) must be a number of devices of at least 1, got {cpu_replicas!r}"
        )
    if name == "multi-worker":
        check_tf_config(os.environ.get("TF_CONFIG"))
        return MultiWorkerStrategy()
    if name != "mirrored":
        return None
    if cpu_replicas is None:
        return tf.distribute.MirroredStrategy()
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
    except RuntimeError:
        raise ValueError(
            "cpu_replicas can only be set before TensorFlow runs anything: make the strategy first "
            "(in a notebook, restart the kernel)"
        ) from None
    return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(cpu_replicas)])


def check_tf_config(text: str | None) -> dict[str, Any]:
    """``TF_CONFIG`` as a cluster of workers and this process's task in it; `ValueError` saying what is wrong.

    TensorFlow reads a missing or malformed ``TF_CONFIG`` as no cluster at all and trains on one worker, silently.
    """
    example = '{"cluster": {"worker": ["host1:2222", "host2:2222"]}, "task": {"type": "worker", "index": 0}}'
    if not text:
        raise ValueError(f"--strategy multi-worker needs TF_CONFIG naming the cluster and this task, e.g. {example}")
    try:
        config = json.loads(text)
    except ValueError:
        raise ValueError(f"TF_CONFIG is not JSON ({text!r:.80}); it should look like {example}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    workers = cluster.get("worker") if isinstance(cluster, dict) else None
    if not isinstance(workers, list) or not workers or not all(isinstance(w, str) for w in workers):
        raise ValueError(f"TF_CONFIG must list the workers' host:port addresses under cluster.worker, e.g. {example}")
    for job, addresses in cluster.items():  # a chief or a parameter server is a list of addresses too
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise ValueError(f"TF_CONFIG's cluster.{job} must be a list of host:port addresses, e.g. {example}")
    kind, index = (task.get("type"), task.get("index")) if isinstance(task, dict) else (None, None)
    if not isinstance(kind, str) or kind not in cluster or isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"TF_CONFIG must name this process's task (type and index), e.g. {example}")
    if not 0 <= task["index"] < len(cluster[task["type"]]):
        raise ValueError(f"TF_CONFIG's task index {task['index']} is not among its {len(cluster[task['type']])} tasks")
    return config


class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """`tf.distribute.MultiWorkerMirroredStrategy` as Keras 3's ``fit`` needs it (keras-team/keras#20585).

    Keras 3.15 reduces each replica's scalar loss and metrics with ``axis=0``, which the plain strategy refuses
    ("Invalid reduction dimension 0 for input with 0 dimensions"), and it reduces the (images, labels) pair of a
    first batch, a nested structure the plain strategy cannot take although `tf.distribute.Strategy.reduce` says
    it can ("Attempt to convert a value (PerReplica...)"). This one reduces a structure element by element and a
    scalar across the replicas, as `tf.distribute.MirroredStrategy` does. It takes the same arguments and reads
    ``TF_CONFIG`` the same way; create it before TensorFlow runs anything (once per process).
    """

    def reduce(self, reduce_op: str | tf.distribute.ReduceOp, value: Any, axis: int | None = None) -> Any:
        """`tf.distribute.Strategy.reduce`, for each tensor of ``value``; a scalar is reduced across replicas."""
        reduce_one = super().reduce

        def one(item):
            scalar = tf.convert_to_tensor(self.experimental_local_results(item)[0]).shape.rank == 0
            return reduce_one(reduce_op, item, None if scalar else axis)

        return tf.nest.map_structure(one, value)


def cluster_task(strategy: tf.distribute.Strategy | None) -> tuple[str, int] | None:
    """This process's task in a cluster (from ``TF_CONFIG``), e.g. ``("worker", 1)``; None outside a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return None
    return resolver.task_type, int(resolver.task_id)


def is_chief(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether this process writes the results (always, except on the non-chief workers of a cluster)."""
    task = cluster_task(strategy)
    if task is None or task[0] == "chief":
        return True
    spec = strategy.cluster_resolver.cluster_spec()
    jobs = spec.jobs if spec else []
    return task == ("worker", 0) and "chief" not in jobs  # without a "chief" task, worker 0 is the chief


def worker_folder(backup_dir: Path, strategy: tf.distribute.Strategy | None) -> Path:
    """Where this process keeps its checkpoint: ``backup_dir`` itself, or in a cluster ``backup_dir/worker-1`` etc.

    Every task of a cluster keeps its own (a folder shared between machines must not be written by two), the chief
    included, so that ``backup_dir`` holds nothing but task folders.
    """
    task = cluster_task(strategy)
    return backup_dir if task is None else backup_dir / f"{task[0]}-{task[1]}"


def from_every_replica(strategy: tf.distribute.Strategy, value: int) -> list[int]:
    """``value`` as each replica of the cluster gives it. A collective: every worker must call it at the same point."""
    values = strategy.experimental_distribute_values_from_function(lambda _: tf.constant([value], tf.int64))
    return [int(v) for v in np.asarray(strategy.gather(values, axis=0))]


_WEIGHTS, _METADATA, _PREVIOUS = "latest.weights.h5", "training_metadata.json", ".bkp"  # names BackupAndRestore uses


def checkpoint_epoch(folder: Path, suffix: str = "") -> int:
    """The epochs done in ``folder``'s checkpoint (``suffix=".bkp"``: the one before it); 0 when there is none."""
    if not (folder / f"{_WEIGHTS}{suffix}").is_file():
        return 0
    try:
        return int(json.loads((folder / f"{_METADATA}{suffix}").read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def agree_on_checkpoint(folder: Path, strategy: tf.distribute.Strategy) -> None:
    """Make every worker of a cluster resume from the same epoch (a collective, like `from_every_replica`).

    The workers write their checkpoints one after the other at the end of an epoch, so a run killed in between
    leaves one an epoch ahead of another; resuming so would give the replicas different weights and numbers of
    epochs. Each worker also keeps the checkpoint before its last (``double_checkpoint``): one that is ahead goes
    back to it, or after the first epoch to none. Raises `ValueError` (on every worker) when that cannot agree.
    """
    own = checkpoint_epoch(folder)
    oldest = min(from_every_replica(strategy, own))
    can_agree = own == oldest or oldest == 0 or checkpoint_epoch(folder, _PREVIOUS) == oldest
    if min(from_every_replica(strategy, int(can_agree))) == 0:
        raise ValueError(
            f"the workers' checkpoints are more than an epoch apart (this one's in {folder} has {own} epochs, the "
            f"oldest {oldest}); delete the checkpoint folder on every machine to start the run afresh."
        )
    if own == oldest:
        return
    for name in (_WEIGHTS, _METADATA):
        if oldest == 0:
            (folder / name).unlink(missing_ok=True)
        else:
            os.replace(folder / f"{name}{_PREVIOUS}", folder / name)


def worker_dataset(
    strategy: tf.distribute.Strategy,
    images: np.ndarray,
    labels: np.ndarray,
    recipe: Recipe,
    seed: int,
    one_hot: bool,
) -> tf.distribute.DistributedDataset:
    """The training set of a cluster: worker ``i`` of ``n`` takes images ``i, i + n, i + 2n...`` of the (seeded,
    on every worker the same) training set, and shuffles and augments only those, in batches of the recipe's size
    for each of its replicas.

    (Left to tf.data, the split would come after the augmentation: every worker would run the whole pipeline and
    keep its share of it, so adding workers would not make the pipeline any faster.)
    """

    def pipeline(context: tf.distribute.InputContext) -> tf.data.Dataset:
        part = slice(context.input_pipeline_id, None, context.num_input_pipelines)
        batch = context.get_per_replica_batch_size(recipe.batch_size * strategy.num_replicas_in_sync)
        return make_dataset(images[part], labels[part], batch, recipe.augment, shuffle=True, seed=seed, one_hot=one_hot)

    return strategy.distribute_datasets_from_function(pipeline)


def build_from_local_batches(model: keras.Model) -> None:
    """Make ``fit`` (and its validation) build the model's state from this process's own share of a first batch.

    Under a strategy, Keras 3.15 adds up the replicas' shares of the first batch of every ``fit`` and ``evaluate``
    only to learn its shapes; when a set does not split evenly (a validation set of 103 images on 2 replicas) the
    shares differ in size and that fails ("Inputs to operation AddN ... must have the same size and shape", or
    "Shape mismatch in the collective instance" between workers). One share's shapes are as good, and need no
    collective. This replaces Keras's private ``_maybe_symbolic_build`` of this one model; tests/test_distribute.py
    fails if a new Keras changes it.
    """
    strategy = model.distribute_strategy

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                first = next(batches)
                data_batch = tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0], first)
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = build


def check_strategy(strategy: tf.distribute.Strategy | None) -> None:
    """`ValueError` for a strategy Keras 3 cannot train under (a plain MultiWorkerMirroredStrategy)."""
    plain = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if plain and not isinstance(strategy, MultiWorkerStrategy):
        raise ValueError(
            "Keras 3 cannot train under a plain tf.distribute.MultiWorkerMirroredStrategy (keras-team/keras#20585); "
            "create a digitlib.distribute.MultiWorkerStrategy instead, with the same arguments, in a new process."
        )
