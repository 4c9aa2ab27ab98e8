"""Coordinated activation maximisation (paper Fig. 8) with lucent.

For a concept k, one image per model is optimised so that model i's USAE encoder, reading model i's
tokens (standardised as in training), activates concept k as much as possible, pooled over tokens.
The same k for every model, side by side. The objective is the mean over tokens of the BatchNorm
output (the pre-code): top-k codes are zero for most concepts and would give no gradient.
"""

import numpy as np
import torch
from torch import nn

from usae.activations.batches import standardise
from usae.models.loaders import normalise_pixels
from usae.models.tokens import resample_grid
from usae.models.torchvision_compat import ensure_torchvision_importable

ensure_torchvision_importable()  # lucent imports torchvision


class ConceptProbe(nn.Module):
    """Image in [0, 1] -> model tokens -> standardised -> USAE encoder pre-codes, as module ``codes``.

    Parameters
    ----------
    token_model : usae.models.loaders.TokenModel
    encoder : usae.sae.modules.TopKEncoder
        Model i's USAE encoder (used in eval mode).
    stats : (float, float)
        Standardisation mean and std of model i's training activations.
    grid : int
        Side of the common token grid.
    """

    def __init__(self, token_model, encoder, stats, grid):
        super().__init__()
        self.token_model, self.encoder, self.grid = token_model.eval(), encoder.eval(), grid
        self.act_mean, self.act_std = stats
        self.codes = nn.Identity()
        for parameter in self.parameters():
            parameter.requires_grad_(False)

    def forward(self, images_N3HW):
        """Pre-codes ``(N, T, m)`` of every token, through the ``codes`` submodule (hookable by name)."""
        acts_NTD = resample_grid(self.token_model(normalise_pixels(images_N3HW, self.token_model.spec)), self.grid)
        standardised = standardise(acts_NTD, self.act_mean, self.act_std)
        pre_codes = self.encoder.norm(self.encoder.linear(standardised.reshape(-1, acts_NTD.shape[-1])))
        return self.codes(pre_codes.view(acts_NTD.shape[0], acts_NTD.shape[1], -1))

    @torch.no_grad()
    def concept_activation(self, images_N3HW, concept):
        """Mean over tokens of concept ``concept``'s top-k code and of its pre-code, per image."""
        pre_codes = self(images_N3HW)
        top = torch.topk(torch.relu(pre_codes), self.encoder.k, dim=-1)
        codes = torch.zeros_like(pre_codes).scatter(-1, top.indices, top.values)
        return codes[..., concept].mean(-1), pre_codes[..., concept].mean(-1)


def natural_magnitude_spectrum(photos, size):
    """Mean magnitude of the 2-D Fourier transform of grey-level photographs resized to ``size``."""
    from PIL import Image

    spectra = []
    for photo in photos:
        grey = np.asarray(
            Image.fromarray(photo).convert("L").resize((size, size), Image.Resampling.BICUBIC), dtype=np.float64
        )
        spectra.append(np.abs(np.fft.rfft2((grey - grey.mean()) / (grey.std() + 1e-8), norm="ortho")))
    return torch.tensor(np.mean(spectra, axis=0), dtype=torch.float32)


def maco_param(size, magnitude_HF, seed):
    """Phase-only image parameterisation with a fixed natural-image magnitude spectrum (MACO).

    Returns
    -------
    params, image_f
        What lucent's ``render_vis`` expects from a ``param_f``.
    """
    generator = torch.Generator().manual_seed(seed)
    phase = (torch.rand(1, 3, *magnitude_HF.shape, generator=generator) * 2 - 1) * np.pi
    phase.requires_grad_(True)

    def image_f():
        spatial = torch.fft.irfft2(magnitude_HF * torch.exp(1j * phase), s=(size, size), norm="ortho")
        spatial = (spatial - spatial.mean(dim=(2, 3), keepdim=True)) / (spatial.std(dim=(2, 3), keepdim=True) + 1e-8)
        return torch.sigmoid(1.5 * spatial)

    return [phase], image_f


def render_concept(probe, concept, size, steps, lr, parameterization, seed, magnitude=None):
    """Optimise one image for ``concept`` through ``probe`` with lucent; return it ``(1, 3, size, size)``."""
    from lucent.optvis import param, render, transform

    torch.manual_seed(seed)
    np.random.seed(seed)
    if parameterization == "maco":
        params, image_f = maco_param(size, magnitude, seed)
    else:
        params, image_f = param.image(size, fft=True, decorrelate=True)
    # lucent's transforms pad and rescale the image; fixed_image_size brings it back to the model's input.
    render.render_vis(
        probe,
        lambda hook: -hook("codes")[..., concept].mean(),
        lambda: (params, image_f),
        optimizer=lambda params: torch.optim.Adam(params, lr=lr),
        transforms=transform.standard_transforms,
        thresholds=(steps,),
        preprocess=False,
        progress=False,
        show_image=False,
        fixed_image_size=probe.token_model.spec.image_size,
    )
    with torch.no_grad():
        return image_f().detach().cpu()
