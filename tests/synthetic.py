"""Synthetic activations from a planted sparse code shared by several 'models'."""

from pathlib import Path

import numpy as np

from usae.activations.store import ActivationStore, write_store
from usae.io import SEAL, read_json, write_json


def planted_activations(rng, n_images, tokens, dims, n_shared, n_specific, active):
    """Activations ``{model: (N, T, D)}`` of one shared sparse code through each model's linear map.

    Every token draws ``active`` shared concepts (positive values) and, with probability 1/2, one
    concept specific to each model. Returns the activations and the planted atoms ``{model: (n, D)}``.
    """
    n_tokens = n_images * tokens
    shared = np.zeros((n_tokens, n_shared))
    for row in range(n_tokens):
        shared[row, rng.choice(n_shared, active, replace=False)] = rng.uniform(1.0, 2.0, active)
    acts, atoms = {}, {}
    for name, dim in dims.items():
        shared_atoms = rng.normal(size=(n_shared, dim))
        specific_atoms = rng.normal(size=(n_specific, dim))
        specific = np.zeros((n_tokens, n_specific))
        on = rng.random(n_tokens) < 0.5
        specific[on, rng.integers(n_specific, size=on.sum())] = rng.uniform(1.0, 2.0, on.sum())
        acts[name] = (shared @ shared_atoms + specific @ specific_atoms).reshape(n_images, tokens, dim)
        atoms[name] = shared_atoms
    return acts, atoms


def write_planted_stores(root, acts, shard_images=64):
    """Write each model's activations as a float32 store; return ``{model: ActivationStore}``."""
    stores = {}
    for name, acts_NTD in acts.items():
        ids = [f"img{i:05d}" for i in range(len(acts_NTD))]
        write_store(root / name, acts_NTD, ids, name, shard_images=shard_images, dtype="float32")
        stores[name] = ActivationStore(root / name)
    return stores


def drop_digests(store):
    """Remove the seal and shard digests from a store's ``meta.json``: a store another program wrote."""
    meta = read_json(Path(store) / "meta.json")
    write_json(Path(store) / "meta.json", {key: meta[key] for key in meta if key not in (SEAL, "shard_sha256")})


def run_files(folder):
    """Weights, metadata and log of a training run written into ``folder`` (its checkpoints go beside them)."""
    folder = Path(folder)
    return folder / "model.safetensors", folder / "model.json", folder / "log.csv"
