"""digitlib.explain: layer costs and receptive fields, feature maps, saliency maps."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from scipy.signal import correlate2d

from digitlib import explain, models
from digitlib.images import to_model_input


def test_costs_of_the_simple_cnn_by_hand():
    rows = explain.describe_layers(models.build_simple_cnn())
    assert [row.kind for row in rows] == ["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    assert [row.output_shape for row in rows] == [(26, 26, 32), (13, 13, 32), (5408,), (100,), (10,)]
    assert [row.macs for row in rows] == [26 * 26 * 3 * 3 * 32, 0, 0, 5408 * 100, 100 * 10]
    assert [row.receptive_field for row in rows] == [3, 4, 28, 28, 28]


@pytest.mark.parametrize("name", sorted(models.ARCHITECTURES))
def test_parameters_add_up(name):
    model = models.build_model(name)
    rows = explain.describe_layers(model)
    cost = explain.model_cost(model)
    assert sum(row.parameters for row in rows) == model.count_params() == cost["parameters"]
    assert cost["macs"] == sum(row.macs for row in rows) > 0
    table = explain.layer_table(model)
    assert table.splitlines()[0] == model.name
    assert f"{cost['macs']:,}" in table.splitlines()[-1]


def test_receptive_field_of_the_default_model_grows_with_pooling():
    rows = explain.describe_layers(models.build_digitlib_cnn())
    convs = [row.receptive_field for row in rows if row.kind == "Conv2D"]
    # 5×5 conv at stride 2; 3×3 conv at jump 2 (+4); pool (+2); 3×3 conv at jump 4 (+8).
    assert convs == [5, 9, 19]


def test_feature_maps_are_the_convolution_of_the_image(mnist_test_slice):
    model = models.build_classic_cnn()  # its first Conv2D has its own ReLU and a bias
    conv = model.get_layer(explain.conv_layer_names(model)[0])
    image = mnist_test_slice[0][0]
    maps = explain.feature_maps(model, image)
    assert maps.shape == (26, 26, 32)
    kernel, bias = (np.asarray(w) for w in conv.get_weights())
    x = image.astype(np.float32) / 255.0
    for channel in (0, 7, 31):
        expected = np.maximum(correlate2d(x, kernel[:, :, 0, channel], mode="valid") + bias[channel], 0)
        np.testing.assert_allclose(maps[..., channel], expected, atol=1e-4)


def test_feature_maps_default_to_what_the_first_convolution_passes_on(shipped, mnist_test_slice):
    first_conv = explain.conv_layer_names(shipped)[0]
    after = explain.activation_of(shipped, first_conv)
    assert isinstance(shipped.get_layer(after), keras.layers.ReLU)
    maps = explain.feature_maps(shipped, mnist_test_slice[0][0])
    filters = shipped.get_layer(first_conv).filters
    assert maps.shape == (14, 14, filters)  # the first convolution has stride 2
    assert maps.min() >= 0
    raw = explain.feature_maps(shipped, mnist_test_slice[0][0], layer=first_conv)
    assert raw.min() < 0, "the raw convolution is signed; the ReLU after it is not"


def test_feature_maps_name_the_layers_when_asked_for_a_wrong_one(shipped, mnist_test_slice):
    with pytest.raises(ValueError, match="its layers are"):
        explain.feature_maps(shipped, mnist_test_slice[0][0], layer="no_such_layer")


def _half_blind_linear_model(seed: int = 0) -> keras.Model:
    """Softmax over a dense layer that ignores the right half of the image: its logits' gradient is known."""
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    rng = np.random.default_rng(seed)
    kernel = rng.normal(0, 1, (28, 28, 10)).astype(np.float32)
    kernel[:, 14:, :] = 0
    model.layers[-1].set_weights([kernel.reshape(784, 10) * 5, np.zeros(10, np.float32)])
    return model


def test_saliency_is_the_gradient_of_the_logit(mnist_test_slice):
    model = _half_blind_linear_model()
    kernel = model.layers[-1].get_weights()[0].reshape(28, 28, 10)
    image = mnist_test_slice[0][0]
    for digit in (0, 7):
        saliency = explain.saliency_map(model, image, digit=digit)
        expected = kernel[..., digit] / np.abs(kernel[..., digit]).max()
        np.testing.assert_allclose(saliency, expected, atol=1e-5)
        assert np.all(saliency[:, 14:] == 0)
    # A linear model's gradient does not depend on the input, so SmoothGrad changes nothing.
    smooth = explain.saliency_map(model, image, digit=7, noise_samples=8)
    np.testing.assert_allclose(smooth, kernel[..., 7] / np.abs(kernel[..., 7]).max(), atol=1e-5)


def test_gradient_times_input_keeps_only_the_ink(mnist_test_slice):
    model = _half_blind_linear_model()
    kernel = model.layers[-1].get_weights()[0].reshape(28, 28, 10)
    image = mnist_test_slice[0][0]
    saliency = explain.saliency_map(model, image, digit=3, times_input=True)
    expected = kernel[..., 3] * image / 255.0
    np.testing.assert_allclose(saliency, expected / np.abs(expected).max(), atol=1e-5)
    assert np.all(saliency[image == 0] == 0)


def test_saliency_of_the_shipped_model_defaults_to_its_prediction(shipped, mnist_test_slice):
    image = mnist_test_slice[0][0]
    predicted = int(np.argmax(shipped(to_model_input(image), training=False)[0]))
    default = explain.saliency_map(shipped, image)
    explicit = explain.saliency_map(shipped, image, digit=predicted)
    other = explain.saliency_map(shipped, image, digit=(predicted + 1) % 10)
    assert default.shape == (28, 28)
    assert np.abs(default).max() == pytest.approx(1.0)
    np.testing.assert_allclose(default, explicit)
    assert not np.allclose(default, other)
    smooth = explain.saliency_map(shipped, image, noise_samples=8, seed=1)
    np.testing.assert_allclose(smooth, explain.saliency_map(shipped, image, noise_samples=8, seed=1))


@pytest.mark.parametrize(
    "images",
    [np.zeros((28, 28), np.uint8), np.zeros((3, 28, 28), np.uint8), np.zeros((3, 28, 28, 1), np.float32)],
)
def test_model_input_accepts_the_usual_shapes(images):
    batch = to_model_input(images)
    assert batch.dtype == np.float32 and batch.shape[1:] == (28, 28, 1)


def test_model_input_rejects_other_sizes(shipped):
    with pytest.raises(ValueError, match="28×28"):
        to_model_input(np.zeros((32, 32)))
    with pytest.raises(ValueError, match="one image"):
        explain.saliency_map(shipped, np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="digit must be"):
        explain.saliency_map(shipped, np.zeros((28, 28), np.uint8), digit=10)


def test_cost_table_compares_the_models():
    built = [models.build_model(name) for name in ("digitlib_cnn", "classic_cnn")]
    lines = explain.cost_table(built).splitlines()
    assert len(lines) == 4
    for line, model in zip(lines[2:], built, strict=True):
        cells = line.split()
        assert cells[0] == model.name
        assert cells[1] == f"{model.count_params():,}"
        assert cells[-1] == "×".join([str(list(explain.receptive_fields(model).values())[-1])] * 2)


def test_receptive_fields_by_layer_name():
    model = models.build_simple_cnn()
    fields = explain.receptive_fields(model)
    assert list(fields) == explain.conv_layer_names(model)
    assert list(fields.values()) == [3]
