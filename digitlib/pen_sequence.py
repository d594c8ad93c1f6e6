"""The pen path as a fixed-length sequence, and the small Keras model that reads a digit from it.

The image CNN sees 28×28 pixels: where the ink is, not how it got there. The pad also knows the path: the order of
the strokes, where the pen went and where it was lifted. `pen_sequence` turns any strokes into a float32 array
(`POINTS`, `CHANNELS`) that a second reader (`build_sequence_model`) reads, and `digitlib.sequence_reader` fuses
its reading with the CNN's.

- The strokes are centred on their box and scaled by its longest side, keeping the aspect, so size and place on
  the pad do not matter.
- The whole pen-down path is re-sampled by arc length, so the reading does not depend on how fast the pen moved
  or how often the device reported it (a tablet's dense points, a mouse's ~60 Hz); each stroke gets its share of
  the points by length (at least one, so a dot keeps a point), and its first and last points.
- Channels: x, y; lift (1 at the first point of every stroke after the first: the pen was lifted and moved there);
  dx, dy (the step from the previous point, jumps included, scaled to about unit size); t (the progress along the
  sequence, 0 to 1).

The model uses built-in Keras layers only, so ``keras.saving.load_model(path, safe_mode=True)`` loads it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from digitlib.drawing import bounds

#: Points of every sequence. 64 covers a digit's turns (the prototype's choice on the tune writers).
POINTS = 64
#: Channels of every point: x, y, lift, dx, dy, t.
CHANNELS = 6
#: Every stroke counts as this much longer (in units of the digit's size) when the points are shared out by
#: length: a dot or a tiny tick still gets a point, and a long stroke does not take them all.
MIN_STROKE = 0.05
#: Steps are multiplied by this: a step of a 64-point sequence is about 1/20 of the digit, scaled to about 1.
DELTA_SCALE = 16.0
#: What the sequence model takes, as its card states it.
SEQUENCE_INPUT = f"float32 (N, {POINTS}, {CHANNELS}) pen paths: x, y, lift, dx, dy, t (digitlib.pen_sequence)"


def _arrays(strokes: Sequence) -> list[np.ndarray]:
    arrays = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes]
    return [a for a in arrays if len(a)]


def _shares(lengths: np.ndarray, points: int) -> np.ndarray:
    """How many points each stroke gets: by its length (plus MIN_STROKE), at least 1, summing to ``points``
    (largest remainders)."""
    weights = lengths + MIN_STROKE
    ideal = weights / weights.sum() * (points - len(lengths))
    counts = 1 + np.floor(ideal).astype(int)
    short = points - counts.sum()
    if short > 0:
        counts[np.argsort(-(ideal - np.floor(ideal)), kind="stable")[:short]] += 1
    return counts


def pen_sequence(strokes: Sequence) -> np.ndarray:
    """The strokes (lists or arrays of (x, y), y down, any units) as a float32 (POINTS, CHANNELS) sequence (see
    the module docstring). No points at all give zeros."""
    out = np.zeros((POINTS, CHANNELS), dtype=np.float32)
    arrays = _arrays(strokes)
    if not arrays:
        return out
    if len(arrays) > POINTS:  # absurd input: keep the longest strokes, in writing order
        lengths = [np.linalg.norm(np.diff(a, axis=0), axis=1).sum() for a in arrays]
        keep = np.sort(np.argsort(lengths)[::-1][:POINTS])
        arrays = [arrays[i] for i in keep]
    stacked = np.concatenate(arrays)
    low, high = bounds(stacked)
    centre = (low + high) / 2
    size = max(float((high - low).max()), 1e-9)
    arrays = [(a - centre) / size for a in arrays]

    cums = []
    for a in arrays:
        step = a[1:] - a[:-1]  # np.diff's bits without its overhead: every candidate digit of a number pays it
        cum = np.zeros(len(a))
        np.cumsum(np.sqrt(step[:, 0] * step[:, 0] + step[:, 1] * step[:, 1]), out=cum[1:])
        cums.append(cum)
    counts = _shares(np.array([c[-1] for c in cums]), POINTS)

    xy = np.empty((POINTS, 2))
    j = 0
    for i, (a, cum, n) in enumerate(zip(arrays, cums, counts, strict=True)):
        if cum[-1] <= 0:  # a dot (one point, or all on one spot)
            xy[j : j + n] = a.mean(axis=0)
        else:
            at = np.linspace(0.0, cum[-1], n) if n > 1 else np.array([cum[-1] / 2])
            xy[j : j + n, 0] = np.interp(at, cum, a[:, 0])
            xy[j : j + n, 1] = np.interp(at, cum, a[:, 1])
        if i:
            out[j, 2] = 1.0  # the pen was lifted and put down here
        j += n
    out[:, 0:2] = xy
    out[1:, 3:5] = np.diff(xy, axis=0) * DELTA_SCALE
    out[:, 5] = np.linspace(0.0, 1.0, POINTS)
    return out


def pen_sequences(drawings: Sequence[Sequence]) -> np.ndarray:
    """`pen_sequence` of each drawing's strokes, stacked: float32 (N, POINTS, CHANNELS)."""
    if not len(drawings):
        return np.zeros((0, POINTS, CHANNELS), np.float32)
    return np.stack([pen_sequence(s) for s in drawings])


def _conv(x, filters: int, kernel: int, name: str):
    from digitlib._tf import keras

    x = keras.layers.Conv1D(filters, kernel, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def build_sequence_model(width: int = 64, heads: int = 4, dropout: float = 0.3):
    """The sequence reader: (N, POINTS, CHANNELS) pen paths -> (N, 10) probabilities.

    Two Conv1D blocks read the local shape of the path (a turn, a loop, a pen lift), the second at half the
    length; one self-attention block then relates far parts of the path (where a 4's second stroke meets the
    first, whether a 9's tail starts at its loop); average and max pooling over the path feed the softmax. On the
    tune writers this beat a deeper Conv1D stack and a Conv1D + bidirectional GRU (docs/sequence-reader.md).
    """
    from digitlib._tf import keras

    layers = keras.layers
    inputs = keras.Input((POINTS, CHANNELS), name="pen_sequence")
    x = _conv(inputs, width, 5, "b1a")
    x = _conv(x, width, 5, "b1b")
    x = layers.MaxPooling1D(2, name="pool1")(x)
    d = width * 3 // 2
    x = _conv(x, d, 3, "b2a")
    x = _conv(x, d, 3, "b2b")
    attended = layers.MultiHeadAttention(heads, d // heads, name="attention")(x, x)
    x = layers.LayerNormalization(name="ln1")(layers.Add(name="res1")([x, attended]))
    ff = layers.Dense(2 * d, activation="relu", name="ff1")(x)
    ff = layers.Dense(d, name="ff2")(ff)
    x = layers.LayerNormalization(name="ln2")(layers.Add(name="res2")([x, ff]))
    pooled = layers.Concatenate(name="pool")(
        [layers.GlobalAveragePooling1D(name="avg")(x), layers.GlobalMaxPooling1D(name="max")(x)]
    )
    pooled = layers.Dropout(dropout, name="drop")(pooled)
    outputs = layers.Dense(10, activation="softmax", name="probabilities", dtype="float32")(pooled)
    return keras.Model(inputs, outputs, name="digitlib_seq")
