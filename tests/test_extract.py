"""Fetch + extract on a handful of real images with a shipped pretrained model."""

import numpy as np
import pandas as pd
import pytest
import skimage.data
import torch
from PIL import Image

from usae.extract import extract_store
from usae.models import load_token_model, model_spec
from usae.store import ActivationStore


@pytest.fixture(scope="module")
def lite0():
    return load_token_model(model_spec("efficientnet_lite0"))


def _manifest(paths):
    return pd.DataFrame({"image_id": [f"i{k}" for k in range(len(paths))], "path": [str(p) for p in paths]})


class Interrupt(RuntimeError):
    pass


class DiesAfter(torch.nn.Module):
    """A token model that raises after ``calls`` forward passes (a killed run)."""

    def __init__(self, inner, calls):
        super().__init__()
        self.inner, self.calls = inner, calls

    def forward(self, images):
        if self.calls == 0:
            raise Interrupt
        self.calls -= 1
        return self.inner(images)


def test_resumed_store_is_byte_identical(tmp_path, image_folder, lite0):
    spec = model_spec("efficientnet_lite0")
    manifest = _manifest(image_folder)
    options = dict(grid=5, batch_size=2, shard_images=2, stat_images=4, progress=False)
    extract_store(manifest, spec, tmp_path / "full", token_model=lite0, **options)
    with pytest.raises(Interrupt):
        extract_store(manifest, spec, tmp_path / "resumed", token_model=DiesAfter(lite0, 2), **options)
    written = sorted(p.name for p in (tmp_path / "resumed").glob("shard_*.npy"))
    assert written == ["shard_00000.npy", "shard_00001.npy"]
    assert not (tmp_path / "resumed" / "meta.json").exists()
    extract_store(manifest, spec, tmp_path / "resumed", token_model=DiesAfter(lite0, 1), **options)
    for name in ["shard_00000.npy", "shard_00001.npy", "shard_00002.npy"]:
        assert (tmp_path / "full" / name).read_bytes() == (tmp_path / "resumed" / name).read_bytes()


def test_activations_are_the_pretrained_models(tmp_path, lite0):
    """Stored tokens through the rest of the model (head, pooling, classifier) say 'Egyptian cat' for chelsea."""
    path = tmp_path / "chelsea.png"
    Image.fromarray(skimage.data.chelsea()).save(path)
    spec = model_spec("efficientnet_lite0")
    meta = extract_store(_manifest([path]), spec, tmp_path / "s", grid=7, dtype="float32",
                         token_model=lite0, progress=False)
    tokens_TD = torch.from_numpy(ActivationStore(tmp_path / "s").images(0, 1)[0])
    grid_NDHW = tokens_TD.T.reshape(1, 320, 7, 7)
    net = lite0.model
    with torch.no_grad():
        logits = net.classifier(net.global_pool(net.bn2(net.conv_head(grid_NDHW))))
    assert logits.argmax().item() == 285
    assert meta["source"]["spec"]["arch"] == "efficientnet_lite0"
    assert meta["source"]["versions"]["torch"].startswith("2.")
