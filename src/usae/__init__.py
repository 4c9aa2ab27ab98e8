"""usae: Universal Sparse Autoencoders -- a reproducible pipeline (Thasarathan et al., ICML 2025).

Importing the package imports nothing heavy: the Snakefile and ``usae --help`` stay fast. Modules that
need torchvision (``usae.models.loaders``, ``usae.analysis.activation_maximisation``) make it importable first (``usae.models.torchvision_compat``).
"""

__version__ = "0.1.0"
