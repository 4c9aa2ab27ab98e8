import json

import numpy as np
import pytest

from usae.activations.store import ActivationStore, StoreWriter, check_aligned, write_store
from usae.errors import StoreError


def _ids(n):
    return [f"img{i:03d}" for i in range(n)]


def test_round_trip_memmap(tmp_path, rng):
    acts_NTD = rng.normal(size=(10, 4, 3)).astype(np.float32)
    meta = write_store(tmp_path / "s", acts_NTD, _ids(10), "toy", shard_images=4, dtype="float32")
    assert meta["shards"] == ["shard_00000.npy", "shard_00001.npy", "shard_00002.npy"]
    assert meta["grid"] == [2, 2] and meta["tokens"] == 4 and meta["dim"] == 3
    store = ActivationStore(tmp_path / "s")
    assert isinstance(store.shard(0), np.memmap)
    np.testing.assert_array_equal(store.images(0, 10), acts_NTD)
    np.testing.assert_array_equal(store.images(3, 9), acts_NTD[3:9])
    assert store.image_ids == _ids(10)


def test_stats_are_scalar_mean_and_std_over_tokens_and_channels(tmp_path, rng):
    acts_NTD = (rng.normal(size=(20, 4, 3)) * 3 + 1).astype(np.float32)
    meta = write_store(tmp_path / "s", acts_NTD, _ids(20), "toy", shard_images=6, dtype="float32", stat_images=1000)
    assert meta["stats"]["images"] == 20
    assert meta["stats"]["mean"] == pytest.approx(acts_NTD.astype(np.float64).mean(), rel=1e-9)
    assert meta["stats"]["std"] == pytest.approx(acts_NTD.astype(np.float64).std(ddof=1), rel=1e-9)
    assert meta["stats"]["grid"] == "resampled"
    subset = write_store(tmp_path / "t", acts_NTD, _ids(20), "toy", shard_images=6, stat_images=5, seed=3)
    assert subset["stats"]["images"] == 5


def test_float16_default_and_meta_is_json(tmp_path, rng):
    write_store(tmp_path / "s", rng.normal(size=(3, 4, 2)), _ids(3), "toy")
    meta = json.loads((tmp_path / "s" / "meta.json").read_text())
    assert meta["dtype"] == "float16" and meta["format"] == "usae-activations"
    assert np.load(tmp_path / "s" / "shard_00000.npy").dtype == np.float16


def test_resume_keeps_written_shards_and_redoes_a_changed_plan(tmp_path, rng):
    acts_NTD = rng.normal(size=(9, 4, 2)).astype(np.float32)
    writer = StoreWriter(tmp_path / "s", _ids(9), 3, "float32")
    writer.write_shard(0, acts_NTD[0:3])
    assert writer.missing_shards() == [1, 2]
    again = StoreWriter(tmp_path / "s", _ids(9), 3, "float32")
    assert again.missing_shards() == [1, 2]
    changed = StoreWriter(tmp_path / "s", _ids(9), 4, "float32")
    assert changed.missing_shards() == [0, 1, 2]


def test_incomplete_and_foreign_stores_are_refused(tmp_path, rng):
    writer = StoreWriter(tmp_path / "s", _ids(6), 3, "float32")
    writer.write_shard(0, rng.normal(size=(3, 4, 2)))
    with pytest.raises(StoreError, match="meta.json"):
        ActivationStore(tmp_path / "s")
    with pytest.raises(StoreError, match="shard_00001.npy was never written"):
        writer.finalize("toy", None)
    with pytest.raises(StoreError, match=r"expected \(3, T, D\)"):
        writer.write_shard(1, rng.normal(size=(2, 4, 2)))


def test_mismatched_stores_are_refused(tmp_path, rng):
    a = write_store(tmp_path / "a", rng.normal(size=(4, 4, 2)), _ids(4), "a")
    b = write_store(tmp_path / "b", rng.normal(size=(4, 9, 2)), _ids(4), "b")
    c = write_store(tmp_path / "c", rng.normal(size=(4, 4, 5)), _ids(3) + ["other"], "c")
    assert (a["tokens"], b["tokens"], c["dim"]) == (4, 9, 5)
    stores = [ActivationStore(tmp_path / name) for name in "abc"]
    with pytest.raises(StoreError, match="b: 9 tokens per image"):
        check_aligned(stores[:2])
    with pytest.raises(StoreError, match="c: image ids differ"):
        check_aligned([stores[0], stores[2]])
    check_aligned([stores[0], stores[0]])


def test_import_refuses_bad_shapes(tmp_path, rng):
    with pytest.raises(StoreError, match="3 image ids for 4 images"):
        write_store(tmp_path / "s", rng.normal(size=(4, 4, 2)), _ids(3), "toy")
    with pytest.raises(StoreError, match=r"must be \(N, T, D\)"):
        write_store(tmp_path / "s", rng.normal(size=(4, 8)), _ids(4), "toy")


def test_non_finite_activations_are_refused_at_write(tmp_path, rng):
    acts_NTD = rng.normal(size=(4, 4, 2))
    acts_NTD[1, 1, 1] = np.nan
    with pytest.raises(StoreError, match="s: NaN or inf in activations"):
        write_store(tmp_path / "s", acts_NTD, _ids(4), "toy", dtype="float32")
    assert not (tmp_path / "s" / "meta.json").exists()
