"""Shared fixtures: small real images and configs, no network."""

import numpy as np
import pytest
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


@pytest.fixture
def rng():
    """A seeded NumPy generator."""
    return np.random.default_rng(0)
