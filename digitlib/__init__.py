"""digitlib: helpers for the handwritten-digit notebooks (data, models, training, the drawing pad)."""

import contextlib
import os
import sys

# TensorFlow's C++ start-up chatter would leak into every notebook as red stderr text.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send what native code writes to file descriptor 2 to /dev/null for a moment.

    TensorFlow 2.21 prints its oneDNN notice through absl before TF_CPP_MIN_LOG_LEVEL is read, so the variable
    alone cannot hide it. Python-level errors are unaffected: they are raised, not written, inside the block.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


if "tensorflow" not in sys.modules and os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") >= "1":
    with _native_stderr_silenced():
        import tensorflow  # noqa: F401

__version__ = "0.1.0"
