"""Stage extract: one model's store of one split, from a manifest."""

import logging
from pathlib import Path

import numpy as np

from usae.activations.store import ActivationStore
from usae.layout import Cache
from usae.options import ExtractOptions
from usae.stages.extract import extract, log_resampling
from usae.stages.fetch import fetch


def test_extract_writes_a_complete_store(tiny, tmp_path):
    config, _ = tiny
    data = Cache(tmp_path / "data", tmp_path / "activations")
    fetch(
        data.manifest("d", "val"),
        data.rejects("d", "val"),
        data.images("d", "val"),
        dataset=config["dataset"],
        key="dataset",
        split="val",
        seed=0,
        cache=data.packages(),
    )
    meta = extract(
        data.manifest("d", "val"),
        data.store("d", "val", "efficientnet_lite1", "x"),
        model="efficientnet_lite1",
        zoo_entry=None,
        options=ExtractOptions.from_config(config),
        seed=0,
    )
    store = ActivationStore(Path(data.store("d", "val", "efficientnet_lite1", "x")).parent)
    n_val = config["dataset"]["embedded"]["n_val"]
    assert (meta["n_images"], meta["tokens"], meta["dim"], meta["grid"]) == (n_val, 49, 320, [7, 7])
    assert store.images(0, n_val).dtype == np.float16 and np.isfinite(store.images(0, n_val)).all()
    assert store.std > 0 and meta["stats"]["images"] == min(config["extract"]["stat_images"], n_val)


def test_zoo_entry_overrides_the_registry(tiny, tmp_path):
    config, _ = tiny
    data = Cache(tmp_path / "data", tmp_path / "activations")
    fetch(
        data.manifest("d", "val"),
        data.rejects("d", "val"),
        data.images("d", "val"),
        dataset=config["dataset"],
        key="dataset",
        split="val",
        seed=0,
        cache=data.packages(),
    )
    entry = {"loader": "timm", "arch": "efficientnet_lite0", "layer": "blocks.5", "weights": "random", "image_size": 96}
    meta = extract(
        data.manifest("d", "val"),
        data.store("d", "val", "mine", "x"),
        model="mine",
        zoo_entry=entry,
        options=ExtractOptions.from_config(config),
        seed=0,
    )
    assert meta["model"] == "mine" and meta["dim"] == 192 and meta["source"]["spec"]["layer"] == "blocks.5"


def test_an_upsampled_grid_is_a_warning_and_a_downsampled_one_a_note(caplog):
    caplog.set_level(logging.INFO, logger="usae.stages.extract")
    log_resampling({"model": "mobilenet_v1", "native_grid": [7, 7], "grid": [14, 14]})
    log_resampling({"model": "dinov2", "native_grid": [16, 16], "grid": [14, 14]})
    log_resampling({"model": "lite0", "native_grid": [14, 14], "grid": [14, 14]})
    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [
        (
            "WARNING",
            "mobilenet_v1: its 7x7 token grid is resampled to 14x14 (2x upsampled); blurred copies of its tokens",
        ),
        ("INFO", "dinov2: its 16x16 token grid is resampled to 14x14 (1.14x downsampled)"),
    ]
