import numpy as np
import pytest

from tests.synthetic import drop_digests, write_planted_stores
from usae.activations.batches import TokenBatches
from usae.activations.store import write_store
from usae.errors import StoreError


@pytest.fixture
def stores(tmp_path, rng):
    acts = {"a": rng.normal(2.0, 3.0, size=(50, 4, 3)), "b": rng.normal(size=(50, 4, 5))}
    return write_planted_stores(tmp_path, acts, shard_images=8), acts


def test_epoch_order_is_a_seeded_permutation(stores):
    batches = TokenBatches(stores[0], batch_images=8, shuffle_shards=2, seed=3)
    order = batches.epoch_order(0)
    assert sorted(order.tolist()) == list(range(50))
    assert np.array_equal(order, TokenBatches(stores[0], 8, 2, seed=3).epoch_order(0))
    assert not np.array_equal(order, batches.epoch_order(1))
    assert batches.batches_per_epoch == 6 and batches.tokens_per_batch == 32


def test_batches_are_aligned_and_standardised(stores):
    stores, acts = stores
    batches = TokenBatches(stores, batch_images=8, seed=0)
    batch = batches.batch(0, 1)
    indices = np.sort(batches.batch_indices(0, 1))
    mean, std = stores["a"].mean, stores["a"].std
    expected = (acts["a"][indices].reshape(-1, 3) - mean) / (std + 1e-5)
    np.testing.assert_allclose(batch["a"].numpy(), expected, rtol=1e-5)
    assert batch["b"].shape == (32, 5)
    np.testing.assert_allclose(
        batch["b"].numpy(), (acts["b"][indices].reshape(-1, 5) - stores["b"].mean) / (stores["b"].std + 1e-5), rtol=1e-5
    )


def test_sequential_covers_every_image_in_order(stores):
    stores, acts = stores
    parts = list(TokenBatches(stores, batch_images=8).sequential(20))
    assert [len(p["a"]) for p in parts] == [80, 80, 40]


def test_non_finite_shard_is_named(tmp_path, rng):
    write_store(
        tmp_path / "a", rng.normal(size=(16, 4, 3)), [str(i) for i in range(16)], "a", shard_images=8, dtype="float32"
    )
    shard = np.load(tmp_path / "a" / "shard_00001.npy", mmap_mode="r+")
    shard[1, 0, 0] = np.nan  # damaged after the store was written
    shard.flush()
    drop_digests(tmp_path / "a")  # by a program that records no sha256 (usae's would be refused as damaged)
    write_store(tmp_path / "b", rng.normal(size=(16, 4, 3)), [str(i) for i in range(16)], "b", shard_images=8)
    from usae.activations.store import ActivationStore

    batches = TokenBatches({n: ActivationStore(tmp_path / n) for n in "ab"}, batch_images=16)
    with pytest.raises(StoreError, match=r"a/shard_00001.npy: NaN or inf"):
        batches.batch(0, 0)


def test_too_small_store_is_refused(tmp_path, rng):
    stores = write_planted_stores(tmp_path, {"a": rng.normal(size=(3, 4, 2)), "b": rng.normal(size=(3, 4, 2))})
    with pytest.raises(StoreError, match="3 images, fewer than one batch of 8"):
        TokenBatches(stores, batch_images=8)
