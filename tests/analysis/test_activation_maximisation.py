"""Activation maximisation on small real models (no network)."""

import numpy as np
import pytest
import torch

from usae.analysis.activation_maximisation import ConceptProbe, maco_param, natural_magnitude_spectrum, render_concept
from usae.models.loaders import load_token_model, model_spec, preprocess
from usae.models.tokens import resample_grid
from usae.sae.modules import UniversalSAE


@pytest.fixture(scope="module")
def lite0_probe():
    torch.manual_seed(0)
    token_model = load_token_model(model_spec("efficientnet_lite0"))
    usae = UniversalSAE({"efficientnet_lite0": 320}, n_concepts=64, k=8).eval()
    return ConceptProbe(token_model, usae.saes["efficientnet_lite0"].encoder, (0.1, 2.0), grid=7)


def test_optimised_image_raises_the_concept(lite0_probe):
    start = torch.full((1, 3, 224, 224), 0.5)
    _, before = lite0_probe.concept_activation(start, 5)
    image = render_concept(lite0_probe, 5, 224, steps=12, lr=0.05, parameterization="fft", seed=0)
    _, after = lite0_probe.concept_activation(image, 5)
    assert image.shape == (1, 3, 224, 224) and 0 <= image.min() and image.max() <= 1
    assert after.item() > before.item() + 0.5 and after.item() > 1.5 * before.item()


def test_rendering_is_deterministic(lite0_probe):
    first = render_concept(lite0_probe, 7, 224, steps=3, lr=0.05, parameterization="fft", seed=1)
    again = render_concept(lite0_probe, 7, 224, steps=3, lr=0.05, parameterization="fft", seed=1)
    assert torch.equal(first, again)


def test_maco_keeps_the_magnitude_spectrum_and_raises_the_concept(lite0_probe):
    import skimage.data

    magnitude = natural_magnitude_spectrum([skimage.data.astronaut(), skimage.data.coffee()], 224)
    assert magnitude.shape == (224, 113) and magnitude[0, 1] > magnitude[100, 100]
    params, image_f = maco_param(224, magnitude, seed=0)
    assert len(params) == 1 and params[0].shape == (1, 3, 224, 113) and image_f().shape == (1, 3, 224, 224)
    _, before = lite0_probe.concept_activation(image_f(), 5)
    image = render_concept(lite0_probe, 5, 224, steps=12, lr=0.05, parameterization="maco", seed=0, magnitude=magnitude)
    assert lite0_probe.concept_activation(image, 5)[1].item() > before.item() + 0.5


def test_probe_reads_patch_tokens_without_cls():
    """On a ViT with a CLS token, the probe's codes are those of the extraction pipeline's tokens."""
    from PIL import Image

    spec = model_spec("vit", {"vit": {"loader": "timm", "arch": "vit_tiny_patch16_224", "weights": "random"}})
    torch.manual_seed(0)
    token_model = load_token_model(spec)
    usae = UniversalSAE({"vit": 192}, n_concepts=32, k=4).eval()
    probe = ConceptProbe(token_model, usae.saes["vit"].encoder, (0.0, 1.0), grid=14)
    pixels = np.random.default_rng(0).integers(0, 255, size=(224, 224, 3), dtype=np.uint8)
    image01 = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        pre_codes = probe(image01)
        tokens = resample_grid(token_model(preprocess(Image.fromarray(pixels), spec)[None]), 14)[0]
        expected, _ = usae.encode("vit", (tokens - 0.0) / (1.0 + 1e-5))
    assert pre_codes.shape == (1, 196, 32)
    assert torch.allclose(torch.relu(pre_codes[0]).topk(4, dim=1).values, expected.topk(4, dim=1).values, atol=1e-4)
