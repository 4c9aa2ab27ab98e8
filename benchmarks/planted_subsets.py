"""Concepts planted in known subsets of six synthetic models: does the USAE recover each in its subset?

Six "models" of 24 channels see one planted sparse code through their own random unit atoms. A concept is planted
in a subset of the models (its atom is zero elsewhere). Every token draws one concept of each group below, with a
value in [1, 2], so that every model sees exactly three concepts a token (k = 3: no encoder needs a filler):

- 4 concepts in all six models;
- 3 in models 0-3, 3 in models 2-5, 3 in models 0, 1, 4, 5 (every two of these subsets overlap).

A USAE (m = 24, batches of 16 images of 8 tokens, lr 0.01) trains on 512 images; on 128 held-out images each
planted concept is matched to the learned concept whose atoms are most alike in the concept's own models (mean
cosine), and that concept's firing set (:func:`usae.analysis.firing_sets.firing_sets`'s rule, at each
``--share``) is compared with the planted subset. Prints, per planted concept, its subset, the cosine and the
firing set found, then how many of each kind came back in their subset exactly.

Usage: python benchmarks/planted_subsets.py [--epochs 100 300] [--share 0 0.1] [--seed 0]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' synthetic stores and training helper
from tests.sae.ranks import train  # noqa: E402
from tests.synthetic import write_planted_stores  # noqa: E402
from usae.activations.batches import TokenBatches  # noqa: E402
from usae.activations.store import ActivationStore  # noqa: E402
from usae.analysis.evaluation import evaluate_usae  # noqa: E402
from usae.sae.checkpoint import load_trained  # noqa: E402
from usae.stages.metrics import concept_frame  # noqa: E402

NAMES = [f"m{i}" for i in range(6)]
# (subset of models, concepts); a token draws one concept of each group.
GROUPS = [(tuple(range(6)), 4), ((0, 1, 2, 3), 3), ((2, 3, 4, 5), 3), ((0, 1, 4, 5), 3)]
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
    subsets = [subset for subset, count in GROUPS for _ in range(count)]
    atoms = {}
    for index, name in enumerate(NAMES):
        unit = rng.normal(size=(len(subsets), DIM))
        unit /= np.linalg.norm(unit, axis=1, keepdims=True)
        atoms[name] = unit * np.array([index in subset for subset in subsets])[:, None]
    return atoms, subsets


def run(epochs, shares, seed, root):
    rng = np.random.default_rng(seed)
    atoms, subsets = planted_atoms(rng)
    folders = {}
    for split, images in (("train", 512), ("val", 128)):
        code = planted_code(rng, images * TOKENS)
        acts = {name: (code @ atoms[name]).reshape(images, TOKENS, DIM) for name in NAMES}
        folders[split] = {name: store.path for name, store in write_planted_stores(root / split, acts, 128).items()}
    start = time.perf_counter()
    train_keys = {"n_concepts": M, "k": K, "batch_images": 16, "epochs": epochs, "lr": 0.01, "checkpoint_epochs": []}
    train({name: str(path) for name, path in folders["train"].items()}, root / "usae", train_keys)
    seconds = time.perf_counter() - start
    usae, _ = load_trained(root / "usae" / "model.safetensors", root / "usae" / "model.json")
    val = TokenBatches({name: ActivationStore(path) for name, path in folders["val"].items()}, 16)
    result = evaluate_usae(usae, val, batch_images=16, threshold=0.1)
    norms = np.stack([usae.saes[name].dictionary().detach().norm(dim=1).numpy() for name in usae.names])
    fires = concept_frame(result["concepts"].table(norms), usae.names)[[f"fires_{name}" for name in NAMES]]
    learned = {name: usae.saes[name].dictionary().detach().numpy() for name in NAMES}
    learned = {
        name: atom / np.maximum(np.linalg.norm(atom, axis=1, keepdims=True), 1e-12) for name, atom in learned.items()
    }
    print(f"\n{epochs} epochs ({epochs * 32} steps), trained in {seconds:.1f} s")
    print(
        f"{'planted':>7s}  {'subset':18s} {'learned':>7s} {'cosine':>6s}  " + "  ".join(f"set at {s:g}" for s in shares)
    )
    exact = {share: {} for share in shares}
    for concept, subset in enumerate(subsets):
        cosine = np.mean([learned[NAMES[j]] @ atoms[NAMES[j]][concept] for j in subset], axis=0)
        best = int(np.argmax(cosine))
        counts = fires.iloc[best].to_numpy(dtype=float)
        found = []
        for share in shares:
            members = tuple(j for j in range(6) if counts[j] > 0 and counts[j] >= share * counts.max())
            found.append("".join(map(str, members)) or "-")
            exact[share].setdefault(subset, []).append(members == subset)
        shown = "".join(map(str, subset))
        print(f"{concept:7d}  {shown:18s} {best:7d} {cosine[best]:6.3f}  " + "  ".join(f"{f:>9s}" for f in found))
    for share in shares:
        recovered = ", ".join(
            f"{''.join(map(str, subset))}: {sum(hits)}/{len(hits)}" for subset, hits in exact[share].items()
        )
        print(f"in their subset exactly, set_share {share:g}: {recovered}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", nargs="+", type=int, default=[100, 300])
    parser.add_argument("--share", nargs="+", type=float, default=[0.0, 0.1])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for epochs in args.epochs:
        with tempfile.TemporaryDirectory() as folder:
            run(epochs, args.share, args.seed, Path(folder))


if __name__ == "__main__":
    main()
