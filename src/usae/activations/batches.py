"""Stream standardised token batches of several models' stores, for the same images in the same order.

Memory stays bounded whatever the store size: a batch is read from the memory maps when it is needed.
Each epoch's order is a pure function of ``(seed, epoch)``: shards are visited in a random order, in
groups of ``shuffle_shards``, and the images of a group are shuffled together, so reads stay local to a
few shards. A batch is all T tokens of ``batch_images`` images (the paper: 32 images = 6272 tokens).
"""

import copy
from pathlib import Path

import numpy as np
import torch

from usae.activations.store import ActivationStore, check_aligned
from usae.errors import StoreError
from usae.progress import Progress

EPS = 1e-5  # added to the standard deviation (the official code's)


def standardise(acts, mean, std):
    """``(a - mean) / (std + 1e-5)``: activations as the SAEs take them (docs/method.md, "Standardisation")."""
    return (acts - mean) / (std + EPS)


def destandardise(acts, mean, std):
    """The inverse of :func:`standardise`: ``a * (std + 1e-5) + mean``."""
    return acts * (std + EPS) + mean


class TokenBatches:
    """Aligned, standardised token batches of M models' activation stores.

    Parameters
    ----------
    stores : dict of str to usae.activations.store.ActivationStore
        One store per model, same images in the same order.
    stats : dict of str to (float, float), optional
        ``(mean, std)`` per model for :func:`standardise`; default: each store's own
        (pass the training stores' statistics when reading a validation split).
    batch_images : int
    shuffle_shards : int
        Shards whose images are shuffled together.
    seed : int
    """

    def __init__(self, stores, batch_images, shuffle_shards=4, seed=0, stats=None):
        self.stores = stores
        self.names = list(stores)
        first = stores[self.names[0]]
        check_aligned(list(stores.values()))
        if first.n_images < batch_images:
            raise StoreError(
                f"{first.path}: {first.n_images} images, fewer than one batch of {batch_images} (train.batch_images)"
            )
        self.batch_images = batch_images
        self.shuffle_shards = shuffle_shards
        self.seed = seed
        self.stats = stats or {name: (store.mean, store.std) for name, store in stores.items()}
        self.tokens = first.tokens
        self.shard_images = first.shard_images
        self.n_images = first.n_images
        self._order = (None, None)
        self.rank, self.ranks = 0, 1  # batch() reads this rank's share of each batch (for_rank)

    @property
    def dims(self):
        """Activation width of each model."""
        return {name: store.dim for name, store in self.stores.items()}

    @property
    def batches_per_epoch(self):
        """Full batches per epoch (a last partial batch is dropped: BatchNorm needs full batches)."""
        return self.n_images // self.batch_images

    @property
    def tokens_per_batch(self):
        """Tokens in one batch: ``batch_images * T``."""
        return self.batch_images * self.tokens

    def epoch_order(self, epoch):
        """Image indices of one epoch, in training order (a function of ``seed`` and ``epoch`` only)."""
        if self._order[0] != epoch:
            self._order = (epoch, self._shuffled_order(epoch))
        return self._order[1]

    def _shuffled_order(self, epoch):
        rng = np.random.default_rng([self.seed, epoch])
        n_shards = -(-self.n_images // self.shard_images)
        shard_order = rng.permutation(n_shards)
        order = []
        for start in range(0, n_shards, self.shuffle_shards):
            group = shard_order[start : start + self.shuffle_shards]
            images = np.concatenate(
                [np.arange(s * self.shard_images, min((s + 1) * self.shard_images, self.n_images)) for s in group]
            )
            order.append(rng.permutation(images))
        return np.concatenate(order)

    def batch_indices(self, epoch, batch):
        """Image indices of batch ``batch`` of ``epoch``."""
        return self.epoch_order(epoch)[batch * self.batch_images : (batch + 1) * self.batch_images]

    def read(self, name, image_indices):
        """Standardised tokens of model ``name`` for the given images: float32 ``(len * T, D)``.

        Raises
        ------
        StoreError
            If a shard holds NaN or inf, naming the shard.
        """
        store = self.stores[name]
        mean, std = self.stats[name]
        parts = []
        for shard_index in np.unique(image_indices // self.shard_images):
            chosen = image_indices[image_indices // self.shard_images == shard_index]
            values = np.asarray(store.shard(shard_index)[np.sort(chosen) - shard_index * self.shard_images])
            if not np.isfinite(values).all():
                raise StoreError(f"{store.path / store.meta['shards'][shard_index]}: NaN or inf in activations")
            parts.append(values)
        acts_NTD = np.concatenate(parts).astype(np.float32)
        return torch.from_numpy(standardise(acts_NTD.reshape(-1, acts_NTD.shape[-1]), mean, std))

    def for_rank(self, rank, ranks):
        """These batches as rank ``rank`` of ``ranks`` reads them: the same batches (order, size, statistics), of
        which :meth:`batch` returns this rank's equal share, consecutive images of the batch.

        Raises
        ------
        usae.errors.StoreError
            The batch's images do not split into equal shares (``train.batch_images``), which the exact mean of
            the ranks' gradients needs (:mod:`usae.sae.data_parallel`).
        """
        if self.batch_images % ranks:
            raise StoreError(
                f"train.batch_images: {self.batch_images} images a batch do not split into equal shares over "
                f"{ranks} ranks"
            )
        share = copy.copy(self)
        share.rank, share.ranks = rank, ranks
        return share

    def batch(self, epoch, batch):
        """One batch for every model: ``{name: float32 tensor (batch_images * T, D_name)}`` (of this rank's share
        of the images: ``batch_images / ranks`` of them, see :meth:`for_rank`)."""
        indices = self.batch_indices(epoch, batch)
        if self.ranks > 1:
            indices = np.split(indices, self.ranks)[self.rank]
        return {name: self.read(name, indices) for name in self.names}

    def sequential(self, batch_images, desc="evaluate"):
        """Yield every image once, in store order, as ``{name: tensor}`` batches (evaluation).

        Progress (images read) is shown as ``desc`` (see :class:`usae.progress.Progress`).
        """
        with Progress(self.n_images, desc, unit="img") as progress:
            for start in range(0, self.n_images, batch_images):
                indices = np.arange(start, min(start + batch_images, self.n_images))
                yield {name: self.read(name, indices) for name in self.names}
                progress.update(len(indices))


def open_stores(meta_files):
    """Activation stores named by their ``meta.json`` files, as ``{model: ActivationStore}`` in the given order."""
    stores = [ActivationStore(Path(meta_file).parent) for meta_file in meta_files]
    return {store.model: store for store in stores}


def evaluation_batches(meta_files, model_meta):
    """Token batches of evaluation stores, standardised with a trained model's training statistics.

    Parameters
    ----------
    meta_files : list of path
        ``meta.json`` of each model's store of the evaluated split.
    model_meta : dict
        ``model.json`` of a training run (its ``models`` and ``stats``).

    Raises
    ------
    usae.activations.store.StoreError
        If a model of the run has no store among ``meta_files``, or its store's dim is not the model's.
    """
    stores = open_stores(meta_files)
    missing = [name for name in model_meta["models"] if name not in stores]
    if missing:
        raise StoreError(f"{', '.join(map(str, meta_files))}: no store of model '{missing[0]}'")
    names = model_meta["models"]
    wrong = [name for name in names if stores[name].dim != model_meta["dims"][name]]
    if wrong:
        store = stores[wrong[0]]
        raise StoreError(
            f"{store.path / 'meta.json'}: activations of dim {store.dim}, but the trained model's "
            f"'{wrong[0]}' takes dim {model_meta['dims'][wrong[0]]} (its model.json)"
        )
    stats = {name: tuple(model_meta["stats"][name]) for name in names}
    return TokenBatches({name: stores[name] for name in names}, batch_images=1, stats=stats)
