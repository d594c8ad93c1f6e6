"""Saves killed at random moments (SIGKILL): the model and its card always match, no temporary file outlives them.

A child process saves model after model over the same path, and says so after each save returns; the test kills
it at a random moment, 50 times over. After each kill the model on disk must be one that was saved (the last
acknowledged or the next), read with its own card, and the next save must leave no temporary file behind.

The 50 kills save a stand-in for a Keras model (its ``save`` writes a zip archive of random weights, as Keras does)
so that each child starts in a fraction of a second rather than importing TensorFlow; `save_model` cannot tell
the difference, and every step of its protocol (temporary files, fsync, the two renames, the pending card) is the
real one. Two more kills save a real Keras model.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from digitlib.files import TEMP_MARK, remove_leftovers
from digitlib.model_files import ModelFileError, file_sha256, load_card

SAVER = textwrap.dedent(
    """
    import os, sys, zipfile
    from pathlib import Path
    from digitlib.model_files import save_model

    class Model:  # what save_model needs of a model: save(path) writes the file; never compiled
        optimizer = None
        def __init__(self, generation):
            self.generation = generation
        def save(self, path):
            with zipfile.ZipFile(path, "w") as archive:
                archive.writestr("config.json", '{"generation": %d}' % self.generation)
                archive.writestr("model.weights.h5", os.urandom(200_000 + 50_000 * (self.generation % 7)))

    path, start = Path(sys.argv[1]), int(sys.argv[2])
    print("ready", flush=True)
    for generation in range(start, start + 10_000):
        save_model(Model(generation), path, {"generation": generation})
        print(generation, flush=True)
    """
)

KERAS_SAVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import keras
    from digitlib.model_files import save_model

    path, start = Path(sys.argv[1]), int(sys.argv[2])
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    print("ready", flush=True)
    for generation in range(start, start + 10_000):
        model.layers[-1].bias.assign([float(generation)] * 10)
        save_model(model, path, {"generation": generation})
        print(generation, flush=True)
    """
)


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TEMP_MARK in p.name)


def kill_mid_save(script: str, path: Path, start: int, delay: float) -> int | None:
    """Start a saver at generation ``start``, SIGKILL it ``delay`` seconds after it is ready; the last generation
    it acknowledged (None if none)."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(path), str(start)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        output = child.communicate()[0]
    assert child.returncode == -signal.SIGKILL
    acknowledged = [int(line) for line in output.split()]
    return acknowledged[-1] if acknowledged else None


def generation_on_disk(path: Path) -> int | None:
    """The generation of the model on disk, read with `load_card` (which finishes a save killed between its two
    renames), after checking that the card is this model's own."""
    if not path.exists():
        return None
    card = load_card(path)
    assert card["model_sha256"] == file_sha256(path)
    return card["generation"]


@pytest.mark.parametrize(
    ("script", "kills", "longest"), [(SAVER, 50, 0.15), (KERAS_SAVER, 2, 0.6)], ids=["fake", "keras"]
)
def test_killed_saves_leave_a_model_with_its_own_card_and_no_temporary_file(tmp_path, script, kills, longest):
    path, card = tmp_path / "model.keras", tmp_path / "model.json"
    rng = np.random.default_rng(0)
    on_disk, finished_by_load = None, 0
    for kill in range(kills):
        start = kill * 10_000  # each child saves its own generations: start, start + 1, ...
        acknowledged = kill_mid_save(script, path, start, float(rng.uniform(0, longest)))
        # The last acknowledged save took effect, and perhaps the one in progress; nothing older.
        allowed = {on_disk, start} if acknowledged is None else {acknowledged, acknowledged + 1}
        if path.exists() and card.exists():
            finished_by_load += json.loads(card.read_text()).get("model_sha256") != file_sha256(path)
        on_disk = generation_on_disk(path)
        assert on_disk in allowed, (kill, acknowledged, on_disk)
    # Every save first removes what killed ones left (`remove_leftovers`): then no temporary file remains.
    remove_leftovers(tmp_path)
    assert temp_files(tmp_path) == []
    assert on_disk is not None, "no save ever took effect: the kills came too early to test anything"
    print(f"{kills} kills; {finished_by_load} came between the model's rename and the card's (load_card finished them)")


def test_a_model_without_its_card_is_refused_not_misread(tmp_path):
    """A card that names another model's checksum, with no pending card to finish the save, is refused."""
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    path.with_suffix(".json").write_text(json.dumps({"model_sha256": "0" * 64}))
    with pytest.raises(ModelFileError, match="belongs to another model"):
        load_card(path)
