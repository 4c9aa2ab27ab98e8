"""Let ``import torchvision`` succeed beside a CPU-only torch wheel.

PyPI's torchvision 0.28.0 is a CUDA build. Next to the CPU build of torch 2.13.0 its compiled
extension ``torchvision/_C.so`` fails to load, so the operator schemas it would register are missing
and ``torchvision/_meta_registrations.py`` raises ``operator torchvision::nms does not exist`` at
import -- which also breaks ``timm`` and ``lucent``. This module declares those schemas (the
signatures of torchvision's own C++ definitions) *only* when the real extension cannot be loaded.
The detection ops (nms, roi_align, ...) then exist as schemas without kernels: calling one raises,
but nothing in usae calls them. With a working torchvision (CUDA or conda installs) this module
does nothing.
"""

import importlib.util
from pathlib import Path

import torch

TORCHVISION_OP_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor",
    "_roi_align_backward(Tensor grad, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, SymInt batch_size, SymInt channels, SymInt height, SymInt width, "
    "int sampling_ratio, bool aligned) -> Tensor",
    "qroi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor",
    "ps_roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, int sampling_ratio) -> (Tensor, Tensor)",
    "_ps_roi_align_backward(Tensor grad, Tensor rois, Tensor channel_mapping, float spatial_scale, "
    "SymInt pooled_height, SymInt pooled_width, int sampling_ratio, SymInt batch_size, "
    "SymInt channels, SymInt height, SymInt width) -> Tensor",
    "roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width) -> (Tensor, Tensor)",
    "_roi_pool_backward(Tensor grad, Tensor rois, Tensor argmax, float spatial_scale, "
    "SymInt pooled_height, SymInt pooled_width, SymInt batch_size, SymInt channels, "
    "SymInt height, SymInt width) -> Tensor",
    "ps_roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width) -> (Tensor, Tensor)",
    "_ps_roi_pool_backward(Tensor grad, Tensor rois, Tensor channel_mapping, float spatial_scale, "
    "SymInt pooled_height, SymInt pooled_width, SymInt batch_size, SymInt channels, "
    "SymInt height, SymInt width) -> Tensor",
    "deform_conv2d(Tensor input, Tensor weight, Tensor offset, Tensor mask, Tensor bias, "
    "SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w, SymInt dilation_h, "
    "SymInt dilation_w, SymInt groups, SymInt offset_groups, bool use_mask) -> Tensor",
    "_deform_conv2d_backward(Tensor grad, Tensor input, Tensor weight, Tensor offset, Tensor mask, "
    "Tensor bias, SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w, SymInt dilation_h, "
    "SymInt dilation_w, SymInt groups, SymInt offset_groups, bool use_mask) "
    "-> (Tensor, Tensor, Tensor, Tensor, Tensor)",
)

_library = None  # keeps the torch.library.Library alive for the life of the process


def torchvision_extension_loads():
    """Return True when torchvision is absent or its compiled extension loads with this torch."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return True
    extensions = sorted(Path(spec.origin).parent.glob("_C*.so"))
    if not extensions:
        return True
    try:
        torch.ops.load_library(str(extensions[0]))
    except OSError:
        return False
    return True


def ensure_torchvision_importable():
    """Declare torchvision's operator schemas if, and only if, its own extension cannot load.

    Returns
    -------
    bool
        True when the schemas were declared here (the CPU-torch + CUDA-torchvision case).
    """
    global _library
    if _library is not None:
        return True
    if torchvision_extension_loads():
        return False
    _library = torch.library.Library("torchvision", "DEF")
    for schema in TORCHVISION_OP_SCHEMAS:
        _library.define(schema)
    return True
