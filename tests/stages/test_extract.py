"""Stage extract: one model's store of one split, from a manifest."""

import numpy as np

from usae.activations.store import ActivationStore
from usae.options import ExtractOptions
from usae.stages.extract import extract
from usae.stages.fetch import fetch


def test_extract_writes_a_complete_store(tiny, tmp_path):
    config, _ = tiny
    fetch(
        tmp_path / "val.csv",
        tmp_path / "val.rejects.csv",
        tmp_path / "images",
        dataset=config["dataset"],
        key="dataset",
        split="val",
        seed=0,
        cache=tmp_path / "cache",
    )
    meta = extract(
        tmp_path / "val.csv",
        tmp_path / "store" / "meta.json",
        model="efficientnet_lite1",
        zoo_entry=None,
        options=ExtractOptions.from_config(config),
        seed=0,
    )
    store = ActivationStore(tmp_path / "store")
    n_val = config["dataset"]["embedded"]["n_val"]
    assert (meta["n_images"], meta["tokens"], meta["dim"], meta["grid"]) == (n_val, 49, 320, [7, 7])
    assert store.images(0, n_val).dtype == np.float16 and np.isfinite(store.images(0, n_val)).all()
    assert store.std > 0 and meta["stats"]["images"] == min(config["extract"]["stat_images"], n_val)


def test_zoo_entry_overrides_the_registry(tiny, tmp_path):
    config, _ = tiny
    fetch(
        tmp_path / "val.csv",
        tmp_path / "val.rejects.csv",
        tmp_path / "images",
        dataset=config["dataset"],
        key="dataset",
        split="val",
        seed=0,
        cache=tmp_path / "cache",
    )
    entry = {"loader": "timm", "arch": "efficientnet_lite0", "layer": "blocks.5", "weights": "random", "image_size": 96}
    meta = extract(
        tmp_path / "val.csv",
        tmp_path / "store" / "meta.json",
        model="mine",
        zoo_entry=entry,
        options=ExtractOptions.from_config(config),
        seed=0,
    )
    assert meta["model"] == "mine" and meta["dim"] == 192 and meta["source"]["spec"]["layer"] == "blocks.5"
