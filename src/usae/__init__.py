"""usae: Universal Sparse Autoencoders -- a reproducible pipeline (Thasarathan et al., ICML 2025)."""

from usae._torchvision_compat import ensure_torchvision_importable

ensure_torchvision_importable()

__version__ = "0.1.0"
