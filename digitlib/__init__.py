"""digitlib: helpers for the handwritten-digit notebooks (data, models, training, the drawing pad)."""

import os

# TensorFlow prints C++ start-up chatter to stderr, which would leak into every notebook.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
