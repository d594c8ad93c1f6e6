"""pytest settings for ``pytest --nbval notebooks/``, applied before any notebook kernel starts.

nbval's kernels inherit this process's environment, so setting variables here reaches every notebook:

- ``DIGITLIB_QUICK=1``: notebooks that train (04) do it on a reduced budget under pytest, so validating them
  takes seconds, not the full run. A value already in the environment wins (``DIGITLIB_QUICK=0`` validates the
  full run). In JupyterLab the variable is unset and the notebooks train in full.
- ``TF_CPP_MIN_LOG_LEVEL=2``: TensorFlow's C++ info and warning lines stay out of the cell outputs.
"""

import os

os.environ.setdefault("DIGITLIB_QUICK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
