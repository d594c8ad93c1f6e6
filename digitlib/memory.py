"""Instant memory of your drawings: a recogniser that reads with the drawings you labelled, without training.

    >>> from digitlib.memory import remember
    >>> mine = remember(Recognizer.load(), PersonalDrawings())
    >>> mine.predict_strokes(drawing)              # the same reading API, and "not sure", as any Recognizer

Each labelled drawing is kept as what the model saw of it (`Recognizer.readout`'s features, projected to
`DIMENSIONS` numbers and normalised). A new reading looks up its `NEIGHBOURS` nearest drawings of yours by cosine
similarity; each adds evidence ``e`` for its label that falls off fast with its distance (``exp(-(1 - s) / WIDTH)``;
nothing from drawings less alike than `UNLIKE`), and each digit's probability is multiplied by ``1 + STRENGTH * e``;
a near copy (``exp(-(1 - s) / COPY_WIDTH)``) also adds ``COPY_STRENGTH`` times its vote; then they are normalised.
So a near copy of a drawing you corrected is read as you labelled it, even where the model was sure of another
digit; neighbours that agree with the model make it surer; an unlike drawing finds no near neighbour, so its
probabilities, and its "not sure", stay the model's.
Once you have `REFIT_FROM` drawings, a temperature is fitted on your own drawings, each read by the others
(leave-one-out), so the blend's "not sure" is calibrated on your hand.

A `digitlib.drawings_store.PersonalDrawings` given to `remember` is followed: a drawing added to it (by the pad,
by code, by another process) is used from the next reading on. How the constants were chosen, and what they buy,
is in docs/measurements.md (``python benchmarks/personalise.py --stream``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import numpy as np

from digitlib import preprocess
from digitlib.calibration import TEMPERATURES, apply_temperature, fit_temperature
from digitlib.drawing import Strokes
from digitlib.drawings_store import PersonalDrawings, SavedDrawing
from digitlib.images import NUM_CLASSES
from digitlib.recognizer import Readout, Recognizer

#: Numbers kept per drawing: the features are projected (a fixed random orthogonal basis) from the model's
#: thousands, so 10,000 drawings take 10 MB and a look-up stays a small matrix product.
DIMENSIONS = 256
#: Your drawings that vote on a reading.
NEIGHBOURS = 5
#: How fast a drawing's vote falls with its distance: a vote counts exp(-(1 - similarity) / WIDTH), less its value
#: at `UNLIKE`. Same-digit nearest neighbours of one writer are ~0.75 alike (median), a vote of ~0.08; other
#: digits' are ~0.33 alike, and cast none.
WIDTH = 0.1
#: Drawings less alike than this cast no vote: five of them, all of one digit, would otherwise pull every reading
#: a little towards it (enough to move a sure reading to "not sure").
UNLIKE = 0.5
#: How much a full vote multiplies its digit's probability by (1 + STRENGTH * vote): a typical same-digit
#: neighbour's multiplies it by ~80. Chosen on the tune writers' stream, the strongest that leaves scribbles as
#: unsure as the model alone left them (see docs/measurements.md).
STRENGTH = 1024.0
#: A copy: similarity 0.98 gives a vote of ~0.5, 0.9 one of ~0.04; a full copy's vote makes its label sure even over a
#: sure reading (tried on the tune writers' stream: their own drawings are never such copies, so it changed nothing).
COPY_WIDTH = 0.03
COPY_STRENGTH = 64.0
#: Your drawings needed before "not sure" is re-fitted on them; it is fitted again each time their number doubles,
#: on the newest `REFIT_SAMPLE` read by all the others.
REFIT_FROM = 40
REFIT_SAMPLE = 300
_PROJECTION_SEED = 0


@functools.cache  # one set of compiled functions per feature count, shared by every memory
def _lookups(features: int):
    """The compiled steps of a look-up: ``encode`` (features -> keys: a fixed random orthonormal projection to
    `DIMENSIONS`, normalised) and ``votes`` (each key's evidence from its `NEIGHBOURS` nearest stored keys, the
    column ``exclude[i]`` left out, -1 for none), and ``read``, both at once. In TensorFlow: numpy's BLAS threads
    fight TF's on a small CPU."""
    from digitlib._tf import tf

    rng = np.random.default_rng(_PROJECTION_SEED)
    basis, _ = np.linalg.qr(rng.standard_normal((features, min(DIMENSIONS, features))))
    basis = tf.constant(basis.astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec((None, features), tf.float32)])
    def encode(found):
        return tf.math.l2_normalize(tf.matmul(found, basis), axis=1)

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, DIMENSIONS), tf.float32),
            tf.TensorSpec((None, DIMENSIONS), tf.float32),
            tf.TensorSpec((None,), tf.int32),
            tf.TensorSpec((None,), tf.int32),
        ]
    )
    def votes(queries, keys, labels, exclude):
        similarity = tf.matmul(queries, keys, transpose_b=True)
        similarity -= 4.0 * tf.one_hot(exclude, tf.shape(keys)[0])  # cosines are >= -1: 4 less puts it last
        nearest, index = tf.math.top_k(similarity, tf.minimum(NEIGHBOURS, tf.shape(keys)[0]))
        vote = tf.nn.relu(tf.exp((nearest - 1.0) / WIDTH) - np.exp((UNLIKE - 1.0) / WIDTH))
        weight = tf.stack([vote, tf.exp((nearest - 1.0) / COPY_WIDTH)], axis=1)
        labels = tf.one_hot(tf.gather(labels, index), NUM_CLASSES)  # (N, k, 10)
        return tf.einsum("nwk,nkc->nwc", weight, labels)  # (N, 2, 10): the votes, and the copies' votes

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, features), tf.float32),
            tf.TensorSpec((None, DIMENSIONS), tf.float32),
            tf.TensorSpec((None,), tf.int32),
        ]
    )
    def read(found, keys, labels):  # encode, then vote: one call per reading
        return votes(encode(found), keys, labels, -tf.ones(tf.shape(found)[:1], tf.int32))

    return encode, votes, read


class Remembering(Recognizer):
    """A `Recognizer` that also reads with your labelled drawings (see the module docstring; make one with
    `remember`). ``base`` is the recogniser it wraps; ``learnt`` is how many of your drawings it reads with."""

    def __init__(self, base: Recognizer, drawings: PersonalDrawings | Iterable[SavedDrawing] = ()) -> None:
        if not isinstance(base, Recognizer):
            raise TypeError(f"remember takes a Recognizer (e.g. Recognizer.load()), got a {type(base).__name__}")
        vars(self).update(vars(base))  # the same model, compiled calls and calibration: nothing is traced again
        self.base = base
        self.name = f"{base.name} + your drawings"
        self._store = drawings if isinstance(drawings, PersonalDrawings) else None
        self._fixed = () if self._store is not None else tuple(_checked(drawings))
        self._lookups = None  # made at the first drawing: the projection's size is the model's feature count
        self._keys = np.zeros((0, DIMENSIONS), np.float32)
        self._labels = np.zeros(0, np.int32)
        self._stored = None  # the keys and labels as tensors, made once after they change (10,000 keys are 10 MB)
        self._probabilities = np.zeros((0, NUM_CLASSES), np.float32)  # the base's reading of each, for the refit
        self._seen = 0  # drawings of the source encoded so far
        self._user_temperature = 1.0
        self._fitted_at = 0
        self.file_error: Exception | None = None  # why the followed file could not be read, at the last sync
        self._sync()

    def __repr__(self) -> str:
        return f"Remembering({self.base!r}, learnt={self.learnt})"

    @property
    def learnt(self) -> int:
        """How many of your drawings the recogniser reads with (after the next `_sync`, every one saved)."""
        self._sync()
        return len(self._labels)

    @property
    def user_temperature(self) -> float:
        """The temperature fitted on your drawings (1.0 until you have `REFIT_FROM` of them)."""
        return self._user_temperature

    def remember(self, drawings: Iterable[SavedDrawing]) -> None:
        """Read with these drawings too (for drawings that are not in the followed `PersonalDrawings`)."""
        self._fixed = (*self._fixed, *_checked(drawings))
        self._sync()

    # -- keeping up with the drawings ---------------------------------------------------------------------------

    def _sync(self) -> None:
        try:
            stored = () if self._store is None else self._store.drawings
        except (OSError, ValueError) as error:  # a file that cannot be read now must not stop the reading
            self.file_error = error
            return
        self.file_error = None
        source = (*self._fixed, *stored)
        if len(source) < self._seen:  # the file was replaced by a shorter one: start again
            self._keys, self._labels, self._seen, self._fitted_at = self._keys[:0], self._labels[:0], 0, 0
            self._stored = None
            self._probabilities = self._probabilities[:0]
            self._user_temperature = 1.0
        new = source[self._seen :]
        if not new:
            return
        images, strokes, labels = [], [], []
        for saved in new:
            seen = saved.drawing.on_canvas
            image = preprocess.strokes_to_mnist(saved.drawing)
            if image is not None:
                images.append(image)
                strokes.append(seen.strokes)
                labels.append(saved.label)
        self._seen = len(source)
        if images:
            found = Recognizer.readout(self, np.stack(images), strokes)
            self._keys = np.concatenate([self._keys, self._encode(found.features)])
            self._probabilities = np.concatenate([self._probabilities, found.probabilities])
            self._labels = np.concatenate([self._labels, np.asarray(labels, np.int32)])
            self._stored = None
        if len(self._labels) >= max(REFIT_FROM, 2 * self._fitted_at):
            self._refit()

    def _encode(self, features: np.ndarray) -> np.ndarray:
        if self._lookups is None:
            self._lookups = _lookups(features.shape[1])
        return self._lookups[0](features.astype(np.float32)).numpy()

    # -- reading --------------------------------------------------------------------------------------------------

    def _votes(self, keys: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
        """Each reading's evidence (N, 2, 10) from its `NEIGHBOURS` nearest drawings of yours, as votes and as
        copies' votes (a drawing whose index is ``exclude[i]`` does not vote for reading i)."""
        if exclude is None:
            exclude = np.full(len(keys), -1, np.int32)
        return self._lookups[1](keys, *self._stored_tensors(), exclude.astype(np.int32)).numpy()

    def _stored_tensors(self):
        if self._stored is None:
            from digitlib._tf import tf

            self._stored = (tf.convert_to_tensor(self._keys), tf.convert_to_tensor(self._labels))
        return self._stored

    def _blend(self, probabilities: np.ndarray, votes: np.ndarray, temperature: float) -> np.ndarray:
        blended = probabilities * (1 + STRENGTH * votes[:, 0]) + COPY_STRENGTH * votes[:, 1]
        blended /= np.maximum(blended.sum(axis=1, keepdims=True), 1e-30)
        return apply_temperature(blended, temperature) if temperature != 1.0 else blended.astype(np.float32)

    def readout(self, images: np.ndarray, strokes: Sequence[Strokes | None] | None = None) -> Readout:
        """The base recogniser's readout, blended with the votes of your nearest drawings (see the module)."""
        self._sync()
        base = Recognizer.readout(self, images, strokes)
        if not len(self._labels) or not len(base.probabilities):
            return base
        votes = self._lookups[2](base.features.astype(np.float32), *self._stored_tensors()).numpy()
        return Readout(self._blend(base.probabilities, votes, self._user_temperature), base.features)

    def _refit(self) -> None:
        """Fit the blend's temperature on your newest drawings, each read by all the others (leave-one-out)."""
        count = len(self._labels)
        sample = np.arange(max(0, count - REFIT_SAMPLE), count)
        votes = self._votes(self._keys[sample], exclude=sample)
        blended = self._blend(self._probabilities[sample], votes, 1.0)
        self._user_temperature = float(np.clip(fit_temperature(blended, self._labels[sample]), *TEMPERATURES))
        self._fitted_at = count


def _checked(drawings: Iterable[SavedDrawing]) -> list[SavedDrawing]:
    found = list(drawings)
    for item in found:
        if not isinstance(item, SavedDrawing):
            raise TypeError(
                "remember takes a PersonalDrawings or SavedDrawing records (PersonalDrawings(path).drawings), "
                f"got a {type(item).__name__}"
            )
    return found


def remember(rec: Recognizer, drawings: PersonalDrawings | Iterable[SavedDrawing]) -> Remembering:
    """A recogniser that reads with your labelled ``drawings`` at once (see the module docstring).

    ``drawings`` is a `PersonalDrawings`, followed from then on (each drawing added to it counts from the next
    reading), or `SavedDrawing` records. ``rec`` is left unchanged; remembering a `Remembering` wraps its base.
    """
    if isinstance(rec, Remembering):
        rec = rec.base
    return Remembering(rec, drawings)
