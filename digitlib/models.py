"""Model architectures: digitlib's default CNN and the tutorials' classics as named baselines.

Every model takes float32 images of shape (N, 28, 28, 1) scaled to [0, 1] (white ink on black, as MNIST)
and outputs the 10 class probabilities, so a saved model is usable with `keras.saving.load_model` alone.
"""

from __future__ import annotations

from collections.abc import Callable

from digitlib._tf import keras

layers = keras.layers

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def _conv_bn(x, filters: int, kernel_size: int = 3, padding: str = "same", strides: int = 1):
    # Batch norm makes the bias redundant and lets a high learning rate train in few epochs. Momentum 0.9
    # (Keras's default is 0.99) lets its running statistics settle within a few hundred steps, so even a short
    # run evaluates well.
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.ReLU()(x)


def build_digitlib_cnn(width: int = 32, dropout: float = 0.3) -> keras.Model:
    """digitlib's default model: a small batch-normalised CNN, built for accuracy per CPU-second.

    A strided 5×5 convolution finds stroke pieces and halves the resolution at once, so everything after it
    works on 14×14 and 7×7 maps, where it is cheap (on a CPU, full-resolution feature maps cost more in memory
    traffic than in arithmetic). Batch norm lets a one-cycle learning rate train it in a few epochs. About
    0.13 M parameters (0.5 MB of float32 weights). Notebook 03 writes the same definition out in Keras layers;
    tests/test_notebook_code.py keeps the two identical.
    """
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = _conv_bn(inputs, width, kernel_size=5, strides=2)  # 28×28 -> 14×14: strokes and their ends
    x = _conv_bn(x, 2 * width)  # 14×14: corners, curves, crossings
    x = layers.MaxPooling2D()(x)
    x = _conv_bn(x, 4 * width, padding="valid")  # 7×7 -> 5×5: parts of digits
    x = layers.Flatten()(x)  # keep where each part is: a 6 and a 9 differ only by that
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="digitlib_cnn")


def build_classic_cnn() -> keras.Model:
    """The classic tutorial CNN: Conv32-Conv64-MaxPool-Dropout-Dense(256)-Dropout, as in the DataFlair tutorial
    *Handwritten Digit Recognition with Python*.

    Keras's old ``mnist_cnn.py`` example has the same layers with a Dense(128) layer instead (1.2 M parameters).
    This one has about 2.4 M parameters, nearly all in the dense layer after flattening 12×12×64 features.
    Notebook 03 writes the same definition out; tests/test_notebook_code.py keeps the two identical.
    """
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE, name="image"),
            layers.Conv2D(32, 3, activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"),
        ],
        name="classic_cnn",
    )


def build_simple_cnn() -> keras.Model:
    """The smallest tutorial CNN, trained with Adam: one convolution, one pooling, a dense layer of 100 units.

    Notebook 03 writes the same definition out; tests/test_notebook_code.py keeps the two identical.
    """
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE, name="image"),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(100, activation="relu"),
            layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"),
        ],
        name="simple_cnn",
    )


ARCHITECTURES: dict[str, Callable[[], keras.Model]] = {
    "digitlib_cnn": build_digitlib_cnn,
    "classic_cnn": build_classic_cnn,
    "simple_cnn": build_simple_cnn,
}


def build_model(name: str, **knobs) -> keras.Model:
    """Build the architecture called ``name`` (one of `ARCHITECTURES`), with its knobs (``width=48`` for
    digitlib_cnn)."""
    try:
        build = ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}") from None
    try:
        return build(**knobs)
    except TypeError:
        raise ValueError(f"{name} has no knobs {sorted(knobs)}") from None
