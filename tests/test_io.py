import os
import time

import matplotlib.pyplot as plt
import numpy as np
import pytest

from usae.analysis.plots import save_figure
from usae.io import atomic_path, write_json


def test_atomic_path_removes_temps_a_killed_write_left(tmp_path):
    stale = [tmp_path / ".log.csv.abcd1234.tmp", tmp_path / ".log.csv.zz_9zz9z.tmp"]
    others = [tmp_path / ".log.csv.x.abcd1234.tmp", tmp_path / ".log.abcd1234.tmp", tmp_path / ".log.csv.notes"]
    for path in stale + others:
        path.write_text("partial")
    (tmp_path / ".log.csv.dir_1234.tmp").mkdir()  # a killed checkpoint-style folder
    with atomic_path(tmp_path / "log.csv") as tmp:
        tmp.write_text("new")
    assert (tmp_path / "log.csv").read_text() == "new"
    assert not any(path.exists() for path in stale) and not (tmp_path / ".log.csv.dir_1234.tmp").exists()
    assert all(path.exists() for path in others)


def test_failed_write_leaves_nothing(tmp_path):
    write_json(tmp_path / "a.json", {"x": 1})
    try:
        with atomic_path(tmp_path / "a.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError
    except RuntimeError:
        pass
    assert sorted(os.listdir(tmp_path)) == ["a.json"]


def _figure():
    figure, axis = plt.subplots()
    axis.plot([0, 1, 2], [2, 0, 1], label="x")
    axis.legend()
    return figure


def test_saved_figures_are_byte_reproducible(tmp_path):
    save_figure(_figure(), [tmp_path / "a.png", tmp_path / "a.pdf"])
    time.sleep(1.1)  # a PDF CreationDate has one-second resolution
    save_figure(_figure(), [tmp_path / "b.png", tmp_path / "b.pdf"])
    for suffix in (".png", ".pdf"):
        assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes(), suffix
    assert b"CreationDate" not in (tmp_path / "a.pdf").read_bytes()


def test_read_image_refuses_what_it_cannot_decode_in_one_line(tmp_path):
    from PIL import Image

    from tests.data.test_sources import _png_header_only
    from usae.errors import ImageError
    from usae.io import read_image

    noise = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "ok.png")
    assert read_image(tmp_path / "ok.png").size == (60, 40)
    whole = (tmp_path / "ok.png").read_bytes()
    cases = {
        "bomb.png": (_png_header_only(200000, 200000), "DecompressionBombError: Image size (40000000000 pixels)"),
        "cut.png": (whole[: len(whole) // 2], "OSError: image file is truncated"),
        "text.jpg": (b"not an image", "UnidentifiedImageError"),
    }
    for name, (data, reason) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImageError) as error:
            read_image(tmp_path / name)
        assert str(error.value).startswith(f"{tmp_path / name}: not a readable image ({reason}")
        assert "\n" not in str(error.value)
    with pytest.raises(ImageError, match="absent.png: not a readable image"):
        read_image(tmp_path / "absent.png")
