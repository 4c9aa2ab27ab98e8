import json
import pickle

import numpy as np
import pytest

from usae.activations.store import ActivationStore, StoreWriter, check_aligned, write_store
from usae.errors import StoreError
from usae.io import SEAL, file_sha256, json_sha256

PLAIN_NAME = "must be a plain name (not empty, '.' or '..', no '/' or '\\')"


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


# ---------------------------------------------------------------- what a read checks


def _store(tmp_path, rng, n=10):
    """A float32 store of ``n`` images, 4 tokens, 3 channels, 4 images a shard; its folder."""
    write_store(tmp_path / "s", rng.normal(size=(n, 4, 3)), _ids(n), "toy", shard_images=4, dtype="float32")
    return tmp_path / "s"


def _edit_meta(store, drop_seal=True, **changes):
    """Rewrite ``meta.json`` with ``changes`` (``None`` deletes a key); by default as a hand edit without its seal."""
    meta = json.loads((store / "meta.json").read_text())
    meta.update(changes)
    meta = {key: value for key, value in meta.items() if value is not None and not (drop_seal and key == SEAL)}
    (store / "meta.json").write_text(json.dumps(meta))


def test_a_truncated_meta_json_is_named(tmp_path, rng):
    store = _store(tmp_path, rng)
    (store / "meta.json").write_text((store / "meta.json").read_text()[:100])
    with pytest.raises(StoreError) as caught:
        ActivationStore(store)
    assert str(caught.value) == f"{store / 'meta.json'}: not JSON (JSONDecodeError)"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"dim": None}, "not what usae writes (key 'dim' missing or of the wrong type)"),
        ({"tokens": "4"}, "not what usae writes (key 'tokens' missing or of the wrong type)"),
        ({"grid": None}, "not what usae writes (key 'grid' missing or of the wrong type)"),
        ({"n_images": True}, "not what usae writes (key 'n_images' missing or of the wrong type)"),
        ({"version": 2}, "version 2, this usae reads version 1"),
        ({"shard_images": 0}, "'shard_images' is 0, must be at least 1"),
        ({"n_images": 9}, "image_ids must be n_images = 9 distinct strings, got 10 ids"),
        ({"image_ids": _ids(9) + ["img000"]}, "image_ids must be n_images = 10 distinct strings, got 10 ids"),
        ({"n_images": 8, "image_ids": _ids(8)}, "shards must name 2 files of the store (8 images, 4 a shard)"),
        (
            {"shards": ["shard_00000.npy", "../shard_00001.npy", "shard_00002.npy"]},
            "shards must name 3 files of the store (10 images, 4 a shard)",
        ),
        ({"grid": [3, 2]}, "grid [3, 2] does not hold the 4 tokens per image"),
        ({"dtype": "int8"}, "dtype 'int8' is not one of float16, float32, float64"),
        (
            {"stats": {"mean": 0.0, "std": -1.0}},
            "stats.mean and stats.std must be finite numbers, std >= 0, got 0.0 and -1.0",
        ),
        ({"shard_sha256": ["0" * 64]}, "shard_sha256 must list one sha256 per shard"),
        ({"model": "../x"}, "model name '../x' " + PLAIN_NAME),
    ],
)
def test_meta_json_keys_types_and_ranges_are_checked(tmp_path, rng, changes, message):
    store = _store(tmp_path, rng)
    _edit_meta(store, **changes)
    with pytest.raises(StoreError) as caught:
        ActivationStore(store)
    assert str(caught.value) == f"{store / 'meta.json'}: {message}"


def test_an_edited_sealed_meta_json_is_refused(tmp_path, rng):
    store = _store(tmp_path, rng)
    _edit_meta(store, drop_seal=False, image_ids=_ids(9) + ["other"])
    with pytest.raises(StoreError) as caught:
        ActivationStore(store)
    assert str(caught.value) == (
        f"{store / 'meta.json'}: damaged or edited (its contents differ from their 'sha256'; "
        "remove that key to accept a hand edit)"
    )


def test_n_images_that_disagrees_with_the_last_shard_is_named_at_its_read(tmp_path, rng):
    store = _store(tmp_path, rng)
    _edit_meta(store, n_images=9, image_ids=_ids(9), shard_sha256=None)
    with pytest.raises(StoreError, match=r"shard_00002.npy: shape \(2, 4, 3\), metadata says \(1, 4, 3\)$"):
        ActivationStore(store).images(0, 9)


def test_a_shard_of_other_dtype_or_bytes_than_recorded_is_refused(tmp_path, rng):
    store = _store(tmp_path, rng)
    shard = store / "shard_00001.npy"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 1  # a payload byte: np.load still reads it
    shard.write_bytes(bytes(data))
    with pytest.raises(StoreError) as caught:
        ActivationStore(store).images(0, 10)
    assert str(caught.value) == f"{shard}: damaged (its sha256 differs from the one {store / 'meta.json'} records)"
    np.save(shard, np.load(shard).astype(np.float64))
    _edit_meta(store, shard_sha256=None)
    with pytest.raises(StoreError, match=r"shard_00001.npy: dtype float64, metadata says float32$"):
        ActivationStore(store).images(0, 10)


def test_a_missing_or_foreign_shard_is_one_line(tmp_path, rng):
    store = _store(tmp_path, rng)
    (store / "shard_00001.npy").unlink()
    with pytest.raises(StoreError, match=r"shard_00001.npy: missing$"):
        ActivationStore(store).images(0, 10)
    (store / "shard_00001.npy").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(StoreError, match=r"shard_00001.npy: not a .npy file, refused \(nothing is unpickled\)$"):
        ActivationStore(store).images(0, 10)


def test_shards_and_sidecars_record_their_sha256(tmp_path, rng):
    store = _store(tmp_path, rng)
    meta = json.loads((store / "meta.json").read_text())
    sidecar = json.loads((store / "shard_00002.json").read_text())
    assert meta["shard_sha256"][2] == sidecar["shard_sha256"] == file_sha256(store / "shard_00002.npy")
    assert meta[SEAL] == json_sha256({key: value for key, value in meta.items() if key != SEAL})
    assert np.load(store / "shard_00002.npy").shape == (2, 4, 3)


@pytest.mark.parametrize("damage", ["payload", "sidecar", "old sidecar", "plan"])
def test_a_resume_rewrites_what_is_damaged_to_the_same_bytes(tmp_path, rng, damage, caplog):
    acts_NTD = rng.normal(size=(10, 4, 3))
    write_store(tmp_path / "s", acts_NTD, _ids(10), "toy", shard_images=4, dtype="float32")
    before = {path.name: path.read_bytes() for path in (tmp_path / "s").iterdir()}
    if damage == "payload":
        data = bytearray(before["shard_00001.npy"])
        data[-5] ^= 0x40
        (tmp_path / "s" / "shard_00001.npy").write_bytes(bytes(data))
    elif damage == "sidecar":
        (tmp_path / "s" / "shard_00001.json").write_text(before["shard_00001.json"].decode()[:20])
    elif damage == "old sidecar":  # written before sidecars recorded their shard's sha256
        (tmp_path / "s" / "shard_00001.json").write_text('{"shape": [4, 4, 3]}')
    else:
        (tmp_path / "s" / "plan.json").write_text("{")
    writer = StoreWriter(tmp_path / "s", _ids(10), 4, "float32", plan_extra={"model": "toy", "imported": True})
    assert writer.missing_shards() == ([0, 1, 2] if damage == "plan" else [1])
    write_store(tmp_path / "s", acts_NTD, _ids(10), "toy", shard_images=4, dtype="float32")
    assert {path.name: path.read_bytes() for path in (tmp_path / "s").iterdir()} == before


# ---------------------------------------------------------------- what an import refuses


@pytest.mark.parametrize(
    "acts, ids, model, message",
    [
        (np.full((2, 4, 3), "x"), _ids(2), "toy", "activations need a real numeric dtype, got <U1"),
        (np.ones((2, 4, 3), np.complex64), _ids(2), "toy", "activations need a real numeric dtype, got complex64"),
        (np.ones((2, 0, 3)), _ids(2), "toy", r"activations must be (N, T, D), got shape (2, 0, 3)"),
        (np.ones((3, 4, 3)), ["a", "b", "a"], "toy", "image id 'a' appears 2 times (ids must be distinct)"),
        (np.ones((2, 4, 3)), [1, 2], "toy", "image ids must be strings"),
        (np.ones((2, 4, 3)), _ids(2), "../x", "model name '../x' " + PLAIN_NAME),
        (np.ones((2, 4, 3)), _ids(2), "", "model name '' " + PLAIN_NAME),
    ],
)
def test_import_refuses_bad_dtypes_ids_and_model_names(tmp_path, acts, ids, model, message):
    with pytest.raises(StoreError) as caught:
        write_store(tmp_path / "s", acts, ids, model)
    assert str(caught.value) == f"{tmp_path / 's'}: {message}"
    assert not (tmp_path / "s").exists()


def test_import_refuses_a_file_as_the_store_folder(tmp_path):
    (tmp_path / "taken").write_text("")
    for out in (tmp_path / "taken", tmp_path / "taken" / "s"):
        with pytest.raises(StoreError) as caught:
            write_store(out, np.ones((2, 4, 3)), _ids(2), "toy")
        assert str(caught.value) == f"{out}: cannot be a store folder ({tmp_path / 'taken'} is a file)"
