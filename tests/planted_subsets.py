"""Concepts planted in known subsets of six synthetic models, a USAE trained on them, and what came back.

Six "models" of 24 channels see one planted sparse code through their own random unit atoms. A concept is planted
in a subset of the models (its atom is zero elsewhere). Every token draws one concept of each group below, with a
value in [1, 2], so that every model sees exactly three concepts a token (k = 3: no encoder needs a filler):

- 4 concepts in all six models;
- 3 in models 0-3, 3 in models 2-5, 3 in models 0, 1, 4, 5 (every two of these subsets overlap).

A USAE (m = 24, batches of 16 images of 8 tokens, lr 0.01) trains on 512 images and is evaluated on 128 held-out
ones, as the metrics stage evaluates (:func:`usae.analysis.evaluation.evaluate_usae`, ``concepts.csv``'s columns).
Used by tests/analysis/test_planted_subsets.py and benchmarks/planted_subsets.py.
"""

import time

import numpy as np

from tests.sae.ranks import train
from tests.synthetic import write_planted_stores
from usae.activations.batches import TokenBatches
from usae.activations.store import ActivationStore
from usae.analysis.evaluation import evaluate_usae
from usae.analysis.firing_sets import firing_membership
from usae.sae.checkpoint import load_trained
from usae.stages.metrics import concept_frame

NAMES = [f"m{i}" for i in range(6)]
# (subset of models, concepts); a token draws one concept of each group.
GROUPS = [(tuple(range(6)), 4), ((0, 1, 2, 3), 3), ((2, 3, 4, 5), 3), ((0, 1, 4, 5), 3)]
SUBSETS = [subset for subset, count in GROUPS for _ in range(count)]
DIM, TOKENS, M, K = 24, 8, 24, 3


def planted_code(rng, n_tokens):
    """``(tokens, concepts)`` values: one concept of each group on every token, in [1, 2]."""
    sizes = [count for _, count in GROUPS]
    z = np.zeros((n_tokens, sum(sizes)))
    for start, count in zip(np.cumsum([0, *sizes[:-1]]), sizes):
        z[np.arange(n_tokens), start + rng.integers(count, size=n_tokens)] = rng.uniform(1.0, 2.0, n_tokens)
    return z


def planted_atoms(rng):
    """Each model's ``(concepts, DIM)`` unit atoms, zero for the concepts not planted in it."""
    atoms = {}
    for index, name in enumerate(NAMES):
        unit = rng.normal(size=(len(SUBSETS), DIM))
        unit /= np.linalg.norm(unit, axis=1, keepdims=True)
        atoms[name] = unit * np.array([index in subset for subset in SUBSETS])[:, None]
    return atoms


def trained_planted(root, epochs, seed):
    """Train a USAE on planted stores under ``root``.

    Returns
    -------
    dict
        ``atoms`` (planted, ``{model: (concepts, DIM)}``), ``learned`` (each model's unit dictionary rows
        ``(m, DIM)``), ``frame`` (``concepts.csv`` of the held-out images) and ``seconds`` (training wall time).
    """
    rng = np.random.default_rng(seed)
    atoms = planted_atoms(rng)
    folders = {}
    for split, images in (("train", 512), ("val", 128)):
        code = planted_code(rng, images * TOKENS)
        acts = {name: (code @ atoms[name]).reshape(images, TOKENS, DIM) for name in NAMES}
        folders[split] = {name: store.path for name, store in write_planted_stores(root / split, acts, 128).items()}
    start = time.perf_counter()
    keys = {"n_concepts": M, "k": K, "batch_images": 16, "epochs": epochs, "lr": 0.01, "checkpoint_epochs": []}
    train({name: str(path) for name, path in folders["train"].items()}, root / "usae", keys)
    seconds = time.perf_counter() - start
    usae, _ = load_trained(root / "usae" / "model.safetensors", root / "usae" / "model.json")
    val = TokenBatches({name: ActivationStore(path) for name, path in folders["val"].items()}, 16)
    result = evaluate_usae(usae, val, batch_images=16, threshold=0.1)
    rows = {name: usae.saes[name].dictionary().detach().numpy() for name in NAMES}
    norms = np.stack([np.linalg.norm(rows[name], axis=1) for name in NAMES])
    learned = {name: rows[name] / np.maximum(norms[i][:, None], 1e-12) for i, name in enumerate(NAMES)}
    frame = concept_frame(result["concepts"].table(norms), NAMES)
    return {"atoms": atoms, "learned": learned, "frame": frame, "seconds": seconds}


def best_matches(run):
    """Per planted concept, the learned concept whose atoms are most alike in the concept's own models (mean
    cosine): ``[(learned concept, cosine)]``."""
    matches = []
    for concept, subset in enumerate(SUBSETS):
        cosine = np.mean([run["learned"][NAMES[j]] @ run["atoms"][NAMES[j]][concept] for j in subset], axis=0)
        matches.append((int(np.argmax(cosine)), float(cosine.max())))
    return matches


def exactly_recovered(run, min_cofiring):
    """Per planted concept, whether its best match (:func:`best_matches`) fires in exactly its subset (the firing
    set at ``min_cofiring``, :func:`usae.analysis.firing_sets.firing_membership`)."""
    members = firing_membership(run["frame"], NAMES, min_cofiring)
    return [tuple(np.flatnonzero(members[best])) == subset for subset, (best, _) in zip(SUBSETS, best_matches(run))]


def wider_than_planted(run, min_cofiring):
    """Alive learned concepts whose firing set has a model that lacks the planted concept they stand for
    (:func:`planted_reading`)."""
    reading = planted_reading(run, min_cofiring)
    return [concept for concept, (planted, found) in reading.items() if not set(found) <= set(SUBSETS[planted])]


def planted_reading(run, min_cofiring):
    """What each alive learned concept stands for, read in the model where it fires most: the planted concept
    whose atom there is most alike, and the models of the learned concept's firing set (``min_cofiring``, see
    :func:`usae.analysis.firing_sets.firing_membership`): ``{learned concept: (planted concept, set)}``."""
    frame = run["frame"]
    members = firing_membership(frame, NAMES, min_cofiring)
    fires = frame[[f"fires_{name}" for name in NAMES]].to_numpy()
    reading = {}
    for concept in np.flatnonzero(fires.sum(1) > 0):
        top = NAMES[int(fires[concept].argmax())]
        planted = int(np.argmax(run["atoms"][top] @ run["learned"][top][concept]))
        reading[int(concept)] = (planted, tuple(int(j) for j in np.flatnonzero(members[concept])))
    return reading
