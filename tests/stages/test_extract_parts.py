"""Stage extract in parts (extract.parts): part jobs and the merge make the bytes of a one-part store."""

import hashlib
import json
from dataclasses import replace

import pytest

from usae.activations.store import ActivationStore, part_shards
from usae.errors import StoreError
from usae.options import ExtractOptions
from usae.stages.extract import extract, extract_merge
from usae.stages.fetch import fetch


def digests(folder):
    """sha256 of every file of a store folder (not its subfolders), by name."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir()) if path.is_file()
    }


@pytest.fixture(scope="module")
def split(tiny, tmp_path_factory):
    """The tiny config's train split (6 images: with shard_images 2, three shards) and its options."""
    config, _ = tiny
    folder = tmp_path_factory.mktemp("parts") / "d"  # the data folder of the cache's layout: its stores, ../d/train/
    fetch(
        folder / "train.csv",
        folder / "train.rejects.csv",
        folder / "images",
        dataset=config["dataset"],
        key="dataset",
        split="train",
        seed=0,
        cache=folder / "cache",
    )
    options = ExtractOptions.from_config(config, shard_images=2, stat_images=3)
    return folder, options


@pytest.fixture(scope="module")
def whole(split):
    """A one-part store of efficientnet_lite0."""
    folder, options = split
    extract(
        folder / "train.csv",
        store_folder(folder, "whole") / "meta.json",
        model="efficientnet_lite0",
        zoo_entry=None,
        options=options,
        seed=0,
    )
    return store_folder(folder, "whole")


def store_folder(folder, name):
    """Store ``name`` of the train split of data folder ``folder``, where the cache's layout puts it."""
    return folder.parent / "activations" / folder.name / "train" / name


def run_parts(folder, options, parts, name, merge=True):
    options = replace(options, parts=parts)
    records = [store_folder(folder, name) / "parts" / str(i) / "part.json" for i in range(parts)]
    for index, record in enumerate(records):
        extract(
            folder / "train.csv",
            part=record,
            index=index,
            model="efficientnet_lite0",
            zoo_entry=None,
            options=options,
            seed=0,
        )
    if merge:
        extract_merge(
            folder / "train.csv",
            records,
            store_folder(folder, name) / "meta.json",
            model="efficientnet_lite0",
            zoo_entry=None,
            options=options,
            seed=0,
        )
    return store_folder(folder, name), records


def test_part_shards_cover_every_shard_once_in_order():
    for n_shards in range(0, 9):
        for parts in range(1, 12):
            ranges = [part_shards(n_shards, part, parts) for part in range(parts)]
            assert [i for r in ranges for i in r] == list(range(n_shards))
            assert max(map(len, ranges)) - min(map(len, ranges)) <= 1
    with pytest.raises(ValueError):
        part_shards(4, 2, 2)


@pytest.mark.parametrize("parts", [2, 5])  # 5 > 3 shards: two empty parts
def test_merged_store_equals_one_part_store_byte_for_byte(split, whole, parts):
    folder, options = split
    merged, records = run_parts(folder, options, parts, f"merged{parts}")
    assert digests(merged) == digests(whole)  # plan.json, every shard and sidecar, meta.json
    assert set(digests(whole)) >= {"plan.json", "meta.json", "shard_00000.npy", "shard_00000.json", "shard_00002.npy"}
    assert not (merged / "parts").exists()  # hard-linked into the store, then deleted
    meta = json.loads((merged / "meta.json").read_text())
    assert meta["stats"] == json.loads((whole / "meta.json").read_text())["stats"]  # raw-grid moments merged
    assert ActivationStore(merged).images(0, 6).shape == (6, 49, 320)


def test_part_records_its_shard_range(split):
    folder, options = split
    _, records = run_parts(folder, options, 2, "ranges", merge=False)
    assert [json.loads(r.read_text())["shards"] for r in records] == [[0, 1], [1, 3]]
    assert sorted(p.name for p in records[1].parent.glob("shard_*")) == [
        "shard_00001.json",
        "shard_00001.npy",
        "shard_00002.json",
        "shard_00002.npy",
    ]


def test_merge_refuses_incomplete_or_mismatched_parts(split):
    folder, options = split
    _, records = run_parts(folder, options, 2, "bad", merge=False)
    two = replace(options, parts=2)
    records[1].unlink()
    with pytest.raises(StoreError, match="no part.json"):
        extract_merge(
            folder / "train.csv",
            records,
            folder / "bad" / "meta.json",
            model="efficientnet_lite0",
            zoo_entry=None,
            options=two,
            seed=0,
        )
    with pytest.raises(StoreError, match="cover shards"):
        extract_merge(
            folder / "train.csv",
            records[:1],
            folder / "bad" / "meta.json",
            model="efficientnet_lite0",
            zoo_entry=None,
            options=two,
            seed=0,
        )
    with pytest.raises(StoreError, match="other settings"):
        extract_merge(
            folder / "train.csv",
            records[:1],
            folder / "bad" / "meta.json",
            model="efficientnet_lite0",
            zoo_entry=None,
            options=replace(two, batch_size=1),
            seed=0,
        )
    assert not (folder / "bad" / "meta.json").exists()


def test_interrupted_part_resumes_at_its_first_missing_shard(split, whole):
    folder, options = split
    merged, records = run_parts(folder, options, 2, "resumed", merge=False)
    (records[1].parent / "shard_00002.npy").write_bytes(b"torn")  # a part job killed mid-shard
    records[1].unlink()
    extract(
        folder / "train.csv",
        part=records[1],
        index=1,
        model="efficientnet_lite0",
        zoo_entry=None,
        options=replace(options, parts=2),
        seed=0,
    )
    extract_merge(
        folder / "train.csv",
        records,
        merged / "meta.json",
        model="efficientnet_lite0",
        zoo_entry=None,
        options=replace(options, parts=2),
        seed=0,
    )
    assert digests(merged) == digests(whole)
