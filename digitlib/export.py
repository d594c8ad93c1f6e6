"""Ship a digit model beyond Keras: TensorFlow Lite files (float32, float16, int8) and a TensorFlow SavedModel.

    >>> from digitlib import export, model_files
    >>> model = model_files.load_model()                        # the shipped model
    >>> export.to_tflite(model, "digits_int8.tflite", quantize="int8")
    >>> lite = export.TFLiteModel("digits_int8.tflite")         # runs it with the LiteRT interpreter
    >>> lite(images)                                           # (N, 10) probabilities, like model(x)

From the command line (all three .tflite files and a SavedModel, in ``<data folder>/exports``)::

    python -m digitlib.export --saved-model

The .tflite files are made by TensorFlow's converter from a SavedModel of the model, so they compute what
``model(x, training=False)`` computes, at the precision chosen:

- ``quantize=None``: float32 weights and arithmetic; the same numbers as Keras (to rounding).
- ``"float16"``: float16 weights (half the size), computed in float32.
- ``"int8"``: full-integer post-training quantisation. Weights *and* activations are 8-bit integers, with scales
  measured on a representative set (`representative_images`: MNIST training images and training writers' pen
  digits drawn as the pad draws them, so the scales fit both). The input and output are int8 too, as
  microcontrollers and NPUs want them; `TFLiteModel` turns images into int8 and the int8 output back into
  probabilities with the file's own scales, so callers see the same float (N, 10) as from the other files.

`TFLiteModel` uses the LiteRT interpreter (the ``ai-edge-litert`` package): TensorFlow 2.21's own
``tf.lite.Interpreter`` still works but warns that it is deprecated and will be removed. It takes the images any
digitlib model takes and is called like a Keras model, so `digitlib.evaluation` judges it the same way.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from digitlib import data
from digitlib.files import replace_folder, temp_folder, write_atomic
from digitlib.images import MNIST_SIZE, to_model_input

__all__ = [
    "QUANTIZE_CHOICES",
    "TFLiteModel",
    "default_output_folder",
    "representative_images",
    "to_saved_model",
    "to_tflite",
]

#: What ``to_tflite(quantize=...)`` accepts: None (float32), "float16" or "int8".
QUANTIZE_CHOICES = (None, "float16", "int8")
#: The int8 representative set: this many MNIST training images and training writers' pen digits.
REPRESENTATIVE_MNIST = 300
REPRESENTATIVE_PEN = 200
#: Images per interpreter call: bounds the interpreter's memory for big batches (10,000 images would need ~1 GB).
MAX_BATCH = 256

_INPUT_SPEC_SHAPE = (None, MNIST_SIZE, MNIST_SIZE, 1)


def default_output_folder() -> Path:
    """Where ``python -m digitlib.export`` writes by default: ``<data folder>/exports``."""
    return data.data_dir() / "exports"


def representative_images(
    mnist_count: int = REPRESENTATIVE_MNIST, pen_count: int = REPRESENTATIVE_PEN, seed: int = 0
) -> np.ndarray:
    """Images whose activations set the int8 scales: float32 (N, 28, 28, 1), MNIST and pen digits, seeded.

    MNIST training images are drawn at random, and training writers' pen digits are drawn as the pad draws
    them (`digitlib.pen_augment.render_pen_digits`); the validation writers and MNIST's test set stay unseen, so the
    int8 model's test accuracy is honest. The same seed gives the same images.
    """
    from digitlib.pen_augment import render_pen_digits
    from digitlib.pen_digits import load_pen_digits

    if mnist_count < 0 or pen_count < 0 or mnist_count + pen_count == 0:
        raise ValueError(f"need some representative images; got mnist_count={mnist_count}, pen_count={pen_count}")
    rng = np.random.default_rng(seed)
    (x_train, _), _ = data.load_mnist(progress=lambda _message: None)
    mnist = x_train[rng.choice(len(x_train), mnist_count, replace=False)]
    pen_samples = load_pen_digits("train")
    chosen = rng.choice(len(pen_samples), min(pen_count, len(pen_samples)), replace=False)
    pen, _ = render_pen_digits([pen_samples[i] for i in chosen], 1, seed=seed)
    return to_model_input(np.concatenate([mnist, pen]))


def _check_keras_model(model) -> None:
    if not callable(getattr(model, "export", None)):
        raise TypeError(
            f"expected a Keras model, got {type(model).__name__}; load one with digitlib.model_files.load_model()"
        )


def _export_saved_model(model, folder: Path) -> None:
    from digitlib._tf import tf

    # A fixed signature with a free batch size: the exported model takes any number of images.
    spec = tf.TensorSpec(_INPUT_SPEC_SHAPE, tf.float32, name="images")
    model.export(str(folder), format="tf_saved_model", verbose=False, input_signature=[spec])


def to_saved_model(model, folder: str | os.PathLike) -> Path:
    """Export ``model`` as a TensorFlow SavedModel folder (for TF Serving, TF.js, ``tf.saved_model.load``).

    Its ``serve`` function (and ``serving_default`` signature) takes float32 (N, 28, 28, 1) images in [0, 1]
    and returns (N, 10) probabilities. The export is written to a temporary folder beside ``folder`` and renamed
    into place, so a crash never leaves half a SavedModel; an existing SavedModel there is replaced, but any
    other existing folder or file is refused (ValueError), so nothing of yours is deleted.
    """
    _check_keras_model(model)
    folder = Path(folder)
    if folder.exists() and not (folder / "saved_model.pb").is_file():
        raise ValueError(
            f"{folder} exists and is not a SavedModel; choose a new folder name (an old SavedModel is replaced)"
        )
    return replace_folder(folder, lambda new: _export_saved_model(model, new))


def _converter(saved_model: Path, quantize: str | None, representative: np.ndarray | None):
    from digitlib._tf import tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        images = representative_images() if representative is None else to_model_input(representative)

        def samples() -> Iterator[list[np.ndarray]]:
            for i in range(len(images)):
                yield [images[i : i + 1]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = samples
        # Only integer kernels: the conversion fails rather than silently keep a float op.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter


def to_tflite(
    model, path: str | os.PathLike, quantize: str | None = None, representative: np.ndarray | None = None
) -> Path:
    """Convert ``model`` to a TensorFlow Lite file at ``path`` (written atomically); return the path.

    Args:
        model: a digitlib Keras model (float32 (N, 28, 28, 1) images in, (N, 10) probabilities out).
        path: the file to write; it must end in ``.tflite``.
        quantize: None (float32), ``"float16"`` (float16 weights) or ``"int8"`` (full-integer quantisation,
            int8 input and output; see the module's docstring).
        representative: for int8, the images (N, 28, 28) or (N, 28, 28, 1), uint8 or float in [0, 1], whose
            activations set the scales; default `representative_images()`.

    Raises:
        ValueError: for a path that does not end in ``.tflite`` or an unknown ``quantize``.
        TypeError: when ``model`` is not a Keras model.
    """
    path = Path(path)
    if path.suffix != ".tflite":
        raise ValueError(f"{path}: a TensorFlow Lite file must end in .tflite; try {path.with_suffix('.tflite')}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; name the file to write, e.g. {path / 'digitlib_cnn.tflite'}")
    if quantize not in QUANTIZE_CHOICES:
        raise ValueError(f"quantize must be one of {', '.join(map(repr, QUANTIZE_CHOICES))}; got {quantize!r}")
    _check_keras_model(model)
    work = temp_folder(name="tflite-export")
    try:
        _export_saved_model(model, work / "saved_model")
        content = _converter(work / "saved_model", quantize, representative).convert()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return write_atomic(path, content)


class TFLiteModel:
    """A .tflite digit model run by the LiteRT interpreter, called like a Keras digit model.

    ``TFLiteModel(path)(images)`` returns float32 (N, 10) probabilities for images (28, 28), (N, 28, 28) or
    (N, 28, 28, 1), uint8 in 0-255 or float in [0, 1], so ``digitlib.evaluation.predict_probabilities`` and
    friends take it in place of a Keras model. For an int8 file the images are quantised with the file's input
    scale and the int8 output is turned back into probabilities (in steps of the output scale, 1/256).

    One interpreter runs one call at a time: give each thread its own `TFLiteModel`.
    """

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None) -> None:
        """Load ``path``; ``num_threads`` CPU threads (default: the interpreter's own choice)."""
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as err:
            raise ModuleNotFoundError(
                "running a .tflite file needs the LiteRT interpreter: pip install ai-edge-litert "
                "(it is in digitlib's requirements.txt)"
            ) from err
        self.path = Path(path)
        if self.path.suffix != ".tflite" or not self.path.is_file():
            raise ValueError(f"no TensorFlow Lite file at {self.path}; make one with digitlib.export.to_tflite")
        try:
            self._interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
        except (ValueError, RuntimeError) as err:
            raise ValueError(f"{self.path} is not a valid TensorFlow Lite model ({err})") from None
        (self._input,) = self._interpreter.get_input_details()
        (self._output,) = self._interpreter.get_output_details()
        if tuple(self._input["shape_signature"][1:]) != (MNIST_SIZE, MNIST_SIZE, 1):
            raise ValueError(
                f"{self.path} takes {tuple(self._input['shape_signature'])}; a digitlib model takes (N, 28, 28, 1)"
            )
        self._batch = 0  # the batch size the interpreter's tensors are allocated for

    def __repr__(self) -> str:
        return f"TFLiteModel({str(self.path)!r}, input={self.input_dtype.__name__})"

    @property
    def input_dtype(self) -> type:
        """The dtype the file takes: numpy.float32, or numpy.int8 for a fully quantised file."""
        return self._input["dtype"]

    @property
    def size_bytes(self) -> int:
        """The size of the .tflite file in bytes."""
        return self.path.stat().st_size

    def __call__(self, images: np.ndarray, training: bool = False) -> np.ndarray:
        """Probabilities (N, 10), float32, for MNIST-style images; ``training`` must be False (inference only)."""
        if training:
            raise ValueError("a TensorFlow Lite model only runs inference; call it with training=False")
        batch = to_model_input(np.asarray(images))
        outputs = [self._run(batch[i : i + MAX_BATCH]) for i in range(0, len(batch), MAX_BATCH)]
        return np.concatenate(outputs) if outputs else np.zeros((0, 10), np.float32)

    predict = __call__

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) != self._batch:  # re-allocating costs more than a small model's call: only when needed
            self._interpreter.resize_tensor_input(self._input["index"], batch.shape, strict=True)
            self._interpreter.allocate_tensors()
            self._batch = len(batch)
        self._interpreter.set_tensor(self._input["index"], _quantize(batch, self._input))
        self._interpreter.invoke()
        return _dequantize(self._interpreter.get_tensor(self._output["index"]), self._output)


def _quantize(values: np.ndarray, details: dict) -> np.ndarray:
    """Float values as the tensor's dtype: real = scale * (q - zero_point), so q = round(real / scale) + zero_point."""
    dtype = details["dtype"]
    if dtype == np.float32:
        return values
    scale, zero_point = details["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale) + zero_point, info.min, info.max).astype(dtype)


def _dequantize(values: np.ndarray, details: dict) -> np.ndarray:
    if details["dtype"] == np.float32:
        return values.copy()  # the interpreter's buffer is reused by the next call
    scale, zero_point = details["quantization"]
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)


# -- command line ---------------------------------------------------------------------------------------------

_FILE_SUFFIX = {"none": "float32", "float16": "float16", "int8": "int8"}
_QUANTIZE = {"none": None, "float16": "float16", "int8": "int8"}


def _size(num_bytes: int) -> str:
    return f"{num_bytes / 1024:,.0f} KB"


def _report(written: Path, keras_bytes: int) -> None:
    files = [f for f in written.rglob("*") if f.is_file()] if written.is_dir() else [written]
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {written}: {_size(size)} ({size / keras_bytes:.0%} of the .keras file)", flush=True)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m digitlib.export", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="the .keras model to export (default: the shipped model)")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"folder to write to (default: <data folder>/exports, here {default_output_folder()})",
    )
    parser.add_argument(
        "--quantize",
        nargs="+",
        choices=list(_FILE_SUFFIX),
        default=list(_FILE_SUFFIX),
        help="which .tflite files to write: none (float32), float16, int8 (default: all three)",
    )
    parser.add_argument("--saved-model", action="store_true", help="also write a TensorFlow SavedModel folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Export a model; print each file written with its size. Returns 0, or 1 (with a message) on an error."""
    args = _parse_args(argv)
    from digitlib.model_files import SHIPPED_MODEL, load_model

    model_path = args.model or SHIPPED_MODEL
    output = args.output or default_output_folder()
    try:
        data.check_data_folder(output)
        model = load_model(model_path)
        keras_bytes = model_path.stat().st_size
        print(f"{model_path}: {_size(keras_bytes)}")
        for choice in dict.fromkeys(args.quantize):  # each once, in the order given
            target = output / f"{model_path.stem}_{_FILE_SUFFIX[choice]}.tflite"
            _report(to_tflite(model, target, quantize=_QUANTIZE[choice]), keras_bytes)
        if args.saved_model:
            _report(to_saved_model(model, output / f"{model_path.stem}_saved_model"), keras_bytes)
    except (ValueError, TypeError, OSError) as err:  # ModelFileError and DataFolderError are ValueErrors
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
