"""Model registry: paper entries load with random weights of the right architecture (no download)."""

import pytest
import torch

from usae.models import load_state_dict_by_order, load_token_model, model_spec, preprocess
from usae.tokens import resample_grid


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
    spec = model_spec("dinov2_vits14", {"dinov2_vits14": {**model_spec("dinov2_vits14").describe(), "arch": str(tmp_path)}})
    token_model = load_token_model(spec)
    with torch.no_grad():
        out = token_model.model(pixel_values=torch.randn(1, 3, 224, 224)).last_hidden_state
        grid = token_model(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 1 + 256, 384)
    assert grid.shape == (1, 384, 16, 16)
    assert resample_grid(grid, 14).shape == (1, 196, 384)


def test_hooked_layer_and_unknown_layer():
    spec = model_spec("m", {"m": {"loader": "timm", "arch": "efficientnet_lite0", "weights": "random", "layer": "blocks.5"}})
    with torch.no_grad():
        grid = load_token_model(spec)(torch.randn(1, 3, 224, 224))
    assert grid.shape == (1, 192, 7, 7)
    bad = model_spec("m", {"m": {"loader": "timm", "arch": "efficientnet_lite0", "weights": "random", "layer": "nope"}})
    with pytest.raises(KeyError, match="model_zoo.m.layer: no module named 'nope'"):
        load_token_model(bad)


def test_unknown_model_names_the_key():
    with pytest.raises(KeyError, match="models: unknown model 'resnet9000'"):
        model_spec("resnet9000")


def test_shipped_efficientnet_weights_are_pretrained():
    """The embedded default's weights are the real ImageNet ones: chelsea is an Egyptian cat (285)."""
    import skimage.data
    from PIL import Image

    image = Image.fromarray(skimage.data.chelsea())
    for name in ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]:
        spec = model_spec(name)
        token_model = load_token_model(spec)
        with torch.no_grad():
            logits = token_model.model(preprocess(image, spec)[None])
        assert logits.argmax().item() == 285, name


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
