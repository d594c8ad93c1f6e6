"""The one place digitlib imports TensorFlow (and Keras, which runs on it).

TensorFlow's C++ core prints informational lines to the process's stderr as it starts (CPU features, oneDNN),
which would show in every notebook as red text. ``TF_CPP_MIN_LOG_LEVEL=2`` (only errors) is set here, before the
first import, unless the user chose a level: TensorFlow reads it itself. Nothing else is hidden: file descriptors
are left alone, so a real error (a fatal CPU-feature check, a missing library) still reaches the user.

One notice cannot be silenced this way: "oneDNN custom operations are on", which TensorFlow 2.21 prints while its
library loads, before it reads any setting. The only switch, ``TF_ENABLE_ONEDNN_OPTS=0``, turns the oneDNN kernels
off, and training becomes about 1.7 times slower on a CPU, so digitlib leaves it on.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

__all__ = ["concrete_call", "keras", "tf"]


def concrete_call(function):
    """A ``tf.function`` with a fixed input signature, called straight through its one concrete function: the
    same graph and the same results, without the argument binding of every ``tf.function`` call (about 0.3 ms,
    a third of one digit's model call). The inputs must already have the signature's shapes."""
    concrete = function.get_concrete_function()
    dtypes = [spec.dtype for spec in concrete.structured_input_signature[0]]

    def call(*inputs):
        return concrete(*(tf.convert_to_tensor(x, dtype=dtype) for x, dtype in zip(inputs, dtypes, strict=True)))

    return call
