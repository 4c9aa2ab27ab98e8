"""Stage fetch: manifests and rejects lists of one split."""

import pandas as pd
import pytest

from usae.data.manifest import read_manifest
from usae.errors import DatasetError
from usae.stages.fetch import fetch


def test_embedded_split_manifest(tiny, tmp_path):
    config, layout = tiny
    dataset = config["dataset"]
    manifest = fetch(
        tmp_path / "train.csv",
        tmp_path / "train.rejects.csv",
        tmp_path / "images",
        dataset=dataset,
        key="dataset",
        split="train",
        seed=0,
        cache=tmp_path / "cache",
    )
    assert len(manifest) == dataset["embedded"]["n_train"]
    written = read_manifest(tmp_path / "train.csv")
    assert list(written.columns) == ["image_id", "path", "label", "name", "sha256"]
    assert all(path.startswith(str(tmp_path / "images")) for path in written["path"])
    assert pd.read_csv(tmp_path / "train.rejects.csv").empty


def test_seed_changes_the_crops(tiny, tmp_path):
    dataset = tiny[0]["dataset"]
    digests = [
        fetch(
            tmp_path / f"{seed}.csv",
            tmp_path / f"{seed}.rejects.csv",
            tmp_path / f"images{seed}",
            dataset=dataset,
            key="dataset",
            split="val",
            seed=seed,
            cache=tmp_path / "cache",
        )["sha256"].tolist()
        for seed in (0, 1)
    ]
    assert digests[0] != digests[1]


def test_all_rejected_names_the_written_rejects_file(tmp_path):
    root = tmp_path / "broken"
    root.mkdir()
    (root / "a.jpg").write_bytes(b"not an image")
    dataset = {
        "name": "broken",
        "source": "folder",
        "root": str(root),
        "val_fraction": 1.0,
        "label_depth": 1,
        "max_images": {"train": None, "val": None},
    }
    with pytest.raises(DatasetError, match="every image of split 'val' was rejected") as error:
        fetch(
            tmp_path / "val.csv",
            tmp_path / "val.rejects.csv",
            tmp_path / "images",
            dataset=dataset,
            key="eval_datasets[0]",
            split="val",
            seed=0,
            cache=tmp_path / "cache",
        )
    assert str(tmp_path / "val.rejects.csv") in str(error.value)
    assert (tmp_path / "val.rejects.csv").exists() and not (tmp_path / "val.csv").exists()
