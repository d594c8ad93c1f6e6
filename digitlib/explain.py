"""Looking inside a model: what each layer costs, what it sees, and which pixels decided a prediction.

- `describe_layers` / `layer_table`: per layer, the output shape, parameters, multiply-accumulates (MACs) per
  image and the receptive field (how many input pixels across one output value can see).
- `feature_maps`: what one convolution passes on for one image (what its filters respond to).
- `saliency_map`: the gradient of a class score with respect to the input pixels (Simonyan et al., 2014),
  optionally averaged over noisy copies of the image (SmoothGrad, Smilkov et al., 2017) or multiplied by the
  image (gradient × input: which strokes voted for the digit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitlib._tf import keras, tf
from digitlib.images import to_model_input

IMAGE_SIZE = 28


@dataclass(frozen=True)
class LayerInfo:
    """One layer as `layer_table` shows it."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    parameters: int
    macs: int  # multiply-accumulates per image (convolutions and dense layers; the rest is negligible)
    receptive_field: int  # pixels across (square), capped at the image size


def _single_image(image: np.ndarray) -> np.ndarray:
    batch = to_model_input(image)
    if len(batch) != 1:
        raise ValueError(f"expected one image, got a batch of {len(batch)}; pass images[i], not images.")
    return batch


def describe_layers(model: keras.Model) -> list[LayerInfo]:
    """Output shape, parameters, MACs per image and receptive field of every layer of ``model``.

    The receptive field grows by ``(kernel - 1) × jump`` at each convolution or pooling, where the jump is
    the product of the strides so far; after ``Flatten`` every value depends on the whole image.
    """
    rows = []
    field, jump = 1, 1
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        shape = tuple(int(d) for d in layer.output.shape[1:])
        macs = 0
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            in_channels = int(layer.input.shape[-1])
            macs = int(np.prod(shape[:2])) * kh * kw * in_channels * layer.filters
            field += (kh - 1) * jump
            jump *= layer.strides[0]
        elif isinstance(layer, keras.layers.MaxPooling2D | keras.layers.AveragePooling2D):
            field += (layer.pool_size[0] - 1) * jump
            jump *= layer.strides[0]
        elif isinstance(layer, keras.layers.Flatten | keras.layers.GlobalAveragePooling2D):
            field = IMAGE_SIZE
        elif isinstance(layer, keras.layers.Dense):
            macs = int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
        rows.append(
            LayerInfo(
                name=layer.name,
                kind=type(layer).__name__,
                output_shape=shape,
                parameters=int(layer.count_params()),
                macs=macs,
                receptive_field=min(field, IMAGE_SIZE),
            )
        )
    return rows


def model_cost(model: keras.Model) -> dict[str, int]:
    """Total parameters and multiply-accumulates per image of ``model``."""
    rows = describe_layers(model)
    return {"parameters": int(model.count_params()), "macs": sum(row.macs for row in rows)}


def layer_table(model: keras.Model) -> str:
    """A plain-text table of `describe_layers` with a total line (the notebooks print it)."""
    header = f"{'layer':<22}{'output':>14}{'parameters':>12}{'MACs':>12}{'sees':>8}"
    lines = [f"{model.name}", header, "-" * len(header)]
    for row in describe_layers(model):
        shape = "×".join(str(d) for d in row.output_shape)
        sees = f"{row.receptive_field}×{row.receptive_field}"
        lines.append(f"{row.kind:<22}{shape:>14}{row.parameters:>12,}{row.macs:>12,}{sees:>8}")
    cost = model_cost(model)
    lines.append("-" * len(header))
    lines.append(f"{'total':<22}{'':>14}{cost['parameters']:>12,}{cost['macs']:>12,}")
    return "\n".join(lines)


def cost_table(models: list[keras.Model]) -> str:
    """Models side by side: parameters, file size of the float32 weights, MACs per image, widest conv view."""
    header = f"{'model':<16}{'parameters':>12}{'weights':>10}{'MACs/image':>14}{'last conv sees':>16}"
    lines = [header, "-" * len(header)]
    for model in models:
        cost = model_cost(model)
        fields = [row.receptive_field for row in describe_layers(model) if row.kind == "Conv2D"]
        sees = f"{fields[-1]}×{fields[-1]}" if fields else "-"
        size = f"{cost['parameters'] * 4 / 1e6:.2f} MB"
        lines.append(f"{model.name:<16}{cost['parameters']:>12,}{size:>10}{cost['macs']:>14,}{sees:>16}")
    return "\n".join(lines)


def receptive_fields(model: keras.Model) -> dict[str, int]:
    """The receptive field (pixels across) of each convolution, by layer name, input side first."""
    return {row.name: row.receptive_field for row in describe_layers(model) if row.kind == "Conv2D"}


def conv_layer_names(model: keras.Model) -> list[str]:
    """Names of the model's 2-D convolutions, input side first."""
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def activation_of(model: keras.Model, layer: str) -> str:
    """The layer that holds what ``layer`` passes on: itself, or the batch norm and activation right after it.

    A convolution without its own activation (as in digitlib_cnn, where batch norm and ReLU follow) outputs
    signed, unnormalised sums; what the next layer sees is the ReLU's output.
    """
    names = [item.name for item in model.layers]
    if layer not in names:
        raise ValueError(f"{model.name} has no layer {layer!r}; its layers are: {', '.join(names)}")
    chosen = layer
    for item in model.layers[names.index(layer) + 1 :]:
        if not isinstance(item, _FOLLOWERS):
            break
        chosen = item.name
    return chosen


_FOLLOWERS = (keras.layers.BatchNormalization, keras.layers.ReLU, keras.layers.Activation, keras.layers.LeakyReLU)


def feature_maps(model: keras.Model, image: np.ndarray, layer: str | None = None) -> np.ndarray:
    """The output (height, width, channels) of one layer for one image.

    By default: what the first convolution passes on (after its batch norm and ReLU, if any). Each channel is
    one filter's response map: bright where the filter's pattern is in the image.
    """
    if layer is None:
        names = conv_layer_names(model)
        if not names:
            raise ValueError(f"{model.name} has no Conv2D layer; name a layer with layer=...")
        layer = activation_of(model, names[0])
    names = [item.name for item in model.layers]
    if layer not in names:
        raise ValueError(f"{model.name} has no layer {layer!r}; its layers are: {', '.join(names)}")
    probe = keras.Model(model.inputs[0], model.get_layer(layer).output)
    return np.asarray(probe(_single_image(image), training=False))[0]


def _class_scores(model: keras.Model):
    """A function from images to class scores: the logits before a final softmax, else log-probabilities.

    Gradients of softmax probabilities vanish once the model is confident; the logits' do not.
    """
    last = model.layers[-1]
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    if isinstance(last, keras.layers.Dense) and activation == "softmax":
        features = keras.Model(model.inputs[0], last.input)
        return lambda x: tf.matmul(features(x, training=False), last.kernel) + last.bias
    return lambda x: tf.math.log(model(x, training=False) + 1e-12)


def saliency_map(
    model: keras.Model,
    image: np.ndarray,
    digit: int | None = None,
    noise_samples: int = 0,
    noise_level: float = 0.15,
    times_input: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """How each pixel sways the score of ``digit`` (the predicted one by default): ∂score/∂pixel, signed.

    Returns a (28, 28) array scaled so that its largest magnitude is 1. Positive: more ink there would raise
    the digit's score; negative: it would lower it. The classic saliency map (Simonyan et al., 2014) is its
    absolute value. With ``noise_samples`` > 0 the gradient is averaged over that many copies of the image with
    Gaussian noise (standard deviation ``noise_level``) added, which removes most of the speckle (SmoothGrad).
    With ``times_input`` the gradient is multiplied by the image, keeping only the ink: which strokes voted
    for the digit (positive) and which against it (negative).
    """
    x = _single_image(image)
    scores = _class_scores(model)
    if digit is None:
        digit = int(np.argmax(model(x, training=False)[0]))
    if not 0 <= digit < 10:
        raise ValueError(f"digit must be 0-9, got {digit}")
    if noise_samples < 0:
        raise ValueError(f"noise_samples must be 0 or more, got {noise_samples}")
    inputs = x
    if noise_samples:
        rng = np.random.default_rng(seed)
        noise = rng.normal(0.0, noise_level, size=(noise_samples, *x.shape[1:])).astype(np.float32)
        inputs = x + noise
    inputs = tf.convert_to_tensor(inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        score = tf.reduce_sum(scores(inputs)[:, digit])
    gradient = tape.gradient(score, inputs).numpy()
    if times_input:
        gradient = gradient * x  # the clean image: only real ink counts
    saliency = gradient.mean(axis=0)[..., 0]
    peak = np.abs(saliency).max()
    return saliency / peak if peak > 0 else saliency
