"""usae: Universal Sparse Autoencoders -- a reproducible pipeline (Thasarathan et al., ICML 2025).

Importing the package imports nothing heavy: the Snakefile and ``usae --help`` stay fast. Modules that
need torchvision (``usae.models.loaders``, ``usae.analysis.activation_maximisation``) make it importable
first (``usae.models.torchvision_compat``).

``usae.load(run_dir)`` is :func:`usae.sae.trained_run.load` (docs/python_api.md), imported on first use by
name through importlib: :mod:`usae.provenance` follows import statements only, so no stage's code digest
covers the Python API.
"""

import importlib

__version__ = "0.1.0"


def __getattr__(name):
    """``usae.load``, imported when first asked for."""
    if name == "load":
        return importlib.import_module("usae.sae.trained_run").load
    raise AttributeError(f"module 'usae' has no attribute '{name}'")
