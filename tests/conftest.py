"""Shared fixtures: small real images and configs, no network."""

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image


@pytest.fixture
def image_folder(tmp_path):
    """A folder of 6 small real photographs (crops of scikit-image's samples), as JPEG files."""
    import skimage.data

    folder = tmp_path / "images"
    folder.mkdir()
    photos = [skimage.data.chelsea(), skimage.data.astronaut(), skimage.data.coffee()]
    paths = []
    for index in range(6):
        photo = photos[index % 3]
        crop = photo[index * 10 : index * 10 + 200, index * 5 : index * 5 + 200]
        path = folder / f"img{index}.jpg"
        Image.fromarray(crop).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="session", autouse=True)
def cache_stays_in_temporary_folders():
    """A test that writes a config must also point its ``data`` and ``activations`` roots (default
    ``results/cache/...`` in the working directory) into its temporary folder, or run in a temporary workdir."""
    cache = Path("results/cache")
    before = set(cache.rglob("*")) if cache.exists() else set()
    yield
    written = (set(cache.rglob("*")) if cache.exists() else set()) - before
    assert not written, f"tests wrote into the working directory's cache: {sorted(map(str, written))[:3]}"


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tests train tiny models: one CPU thread is fastest and keeps a busy 2-core machine responsive."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def rng():
    """A seeded NumPy generator."""
    return np.random.default_rng(0)


TINY_CONFIG = Path(__file__).resolve().parents[1] / ".test" / "config" / "config.yaml"


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """The workflow tests' tiny config with its results in a temporary folder: ``(config, layout)``."""
    from usae.config import validate_config
    from usae.layout import Layout

    config = yaml.safe_load(TINY_CONFIG.read_text())
    results = tmp_path_factory.mktemp("tiny") / "results"
    config.update(
        results=str(results), data=str(results / "cache/data"), activations=str(results / "cache/activations")
    )
    validate_config(config, str(TINY_CONFIG))
    return config, Layout(config["results"])


def run_cli(config, *stages):
    """Run ``usae <stage> --config <file>`` in-process for each stage; fail on a non-zero exit."""
    from usae.cli import main

    path = Path(config["results"]).parent / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    for stage in stages:
        assert main([stage, "--config", str(path)]) == 0, stage


@pytest.fixture(scope="session")
def tiny_trained(tiny):
    """The tiny config fetched, extracted and trained (USAE and independent SAEs) through the CLI."""
    run_cli(tiny[0], "fetch", "extract", "train")
    return tiny


@pytest.fixture(scope="session")
def tiny_evaluated(tiny_trained):
    """:func:`tiny_trained` plus the metrics of every dataset."""
    run_cli(tiny_trained[0], "metrics")
    return tiny_trained
