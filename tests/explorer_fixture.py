"""A tiny real run for the explorer tests (planted stores, a trained USAE, the metrics stage, small images),
and readers of the site's data files."""

import base64
import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from tests.synthetic import planted_activations, write_planted_stores
from usae.activations.batches import TokenBatches
from usae.analysis.plots import r2_heatmap
from usae.config import validate_config
from usae.data.manifest import write_manifest
from usae.io import file_sha256, read_json, write_csv
from usae.layout import Layout
from usae.options import ExplorerOptions, MetricsOptions, TrainOptions
from usae.sae.training import UniversalRun
from usae.stages.metrics import metrics

DIMS = {"alpha": 8, "beta": 12, "gamma": 10}
# config/zoo.yaml's eight models, with the display names and widths the index would show (widths cut down).
ZOO_LABELS = {
    "dinov2_vits14_imgfocus_block8": "DINOv2-S block 8",
    "mobilenet_v1": "MobileNet-V1",
    "mobilenet_v2": "MobileNet-V2",
    "efficientnet_lite0": "EfficientNet-Lite0",
    "efficientnet_lite1": "EfficientNet-Lite1",
    "efficientnet_lite2": "EfficientNet-Lite2",
    "resnet50_1by2_opennsfw": "ResNet-50-1by2",
    "vgg16_capspot": "VGG16",
}
ZOO_DIMS = {name: 8 + i for i, name in enumerate(ZOO_LABELS)}
LABELS = ("cat", "dog", "car", "tree")
SPECIFIC_SHARE = (
    0.55  # the concept kinds' threshold: the tiny run's concepts are shared; below 1/2 every one is specific
)


def tiny_config(root, names=tuple(DIMS)):
    """A validated config of the models ``names`` whose results live under ``root``."""
    train = {
        "n_concepts": 48,
        "k": 4,
        "batch_images": 16,
        "epochs": 10,
        "lr": 1e-2,
        "warmup_epochs": 0.5,
        "checkpoint_every": 10**6,
        "log_every": 100,
        "checkpoint_epochs": [],
    }
    return validate_config(
        {
            "results": str(root),
            "models": list(names),
            "train": train,
            "dataset": {"name": "embedded", "source": "activations"},  # planted stores
            "metrics": {"top_images": 4, "batch_images": 20, "top_concepts": 10},
        },
        "explorer test",
    )


def write_images(folder, count, seed=0):
    """``count`` small RGB images (noisy colour fields) with a label each; return a manifest frame."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        pixels = np.clip(rng.uniform(0, 255, 3) + rng.normal(0, 30, (40, 48, 3)), 0, 255).astype(np.uint8)
        path = folder / f"img{i:05d}.png"
        Image.fromarray(pixels).save(path)
        rows.append((f"img{i:05d}", str(path), LABELS[i % len(LABELS)], f"image {i}", file_sha256(path)))
    return pd.DataFrame(rows, columns=["image_id", "path", "label", "name", "sha256"])


def write_actmax(root, concept, names):
    """Fake activation-maximisation outputs for one concept (images + cross-activation table)."""
    images = root / "actmax" / "images"
    images.mkdir(parents=True)
    rows = []
    for i, name in enumerate(names):
        Image.new("RGB", (64, 64), (40 * i, 120, 200)).save(images / f"concept_{concept:05d}_{name}.png")
        rows.append(
            {
                "concept": concept,
                "label": f"concept {concept}",
                "optimised_for": name,
                **{other: float(j == i) for j, other in enumerate(names)},
                "start_activation": 0.0,
            }
        )
    table = root / "tables" / "actmax_cross_activation.csv"
    table.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(table, index=False)
    return table, images


def write_pairs(folder, names, m, seed=0):
    """Fake baseline pairs files (the baseline stage's columns), one per model: random one-to-one twins."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        paths.append(folder / f"pairs_{name}.csv")
        pd.DataFrame(
            {
                "usae_concept": np.arange(m),
                "independent_concept": rng.permutation(m),
                "cosine": rng.uniform(0, 1, m).round(3),
                "activation_match": rng.permutation(m),
                "activation_correlation": rng.uniform(-0.1, 1, m).round(3),
                "top_cofiring": np.zeros(m, bool),
            }
        ).to_csv(paths[-1], index=False)
    return paths


def write_independent_top(path, names, m, image_ids, n_images=3, seed=0):
    """A fake baseline ``independent_top_images.npz``: random top images per (model, independent concept),
    a tenth of the slots with code 0 (the twin does not fire there), largest code first."""
    rng = np.random.default_rng(seed)
    indices = np.stack([[rng.permutation(len(image_ids))[:n_images] for _ in range(m)] for _ in names])
    values = np.sort(
        rng.uniform(0.1, 2, (len(names), m, n_images)) * (rng.uniform(size=(len(names), m, n_images)) > 0.1), axis=-1
    )[..., ::-1]
    np.savez(
        path,
        indices=indices.transpose(0, 2, 1),
        values=values.transpose(0, 2, 1).astype(np.float32),
        models=np.array(names),
        image_ids=np.array(image_ids),
    )
    return path


def write_baseline(folder, names, m, manifest_csv):
    """Fake baseline outputs in ``folder``: the pairs files, ``independent_top_images.npz`` over the
    manifest's images and ``baseline_matching.csv`` (a model row and a random row per model); return the
    fields of :class:`usae.explorer.build.ExplorerFiles` that name them."""
    pairs = write_pairs(folder, names, m)
    ids = pd.read_csv(manifest_csv)["image_id"].tolist()
    rows = [
        row
        for i, name in enumerate(names)
        for row in (
            {"model": name, "mean_cosine": 0.3 + i / 100},
            {"model": f"random ({name})", "mean_cosine": 0.15 + i / 100},
        )
    ]
    pd.DataFrame(rows).to_csv(folder / "baseline_matching.csv", index=False)
    return {
        "pairs": pairs,
        "independent_top": write_independent_top(folder / "independent_top_images.npz", names, m, ids),
        "baseline_table": folder / "baseline_matching.csv",
    }


def tiny_run(root, dims=DIMS):
    """Train, evaluate and gather every file the explorer reads under ``root``, for models of widths ``dims``.

    Returns
    -------
    dict
        The fields of :class:`usae.explorer.build.ExplorerFiles`, but the baseline's (:func:`write_baseline`).
    """
    config, layout = tiny_config(root, tuple(dims)), Layout(root)
    dataset = config["dataset"]["name"]
    acts, _ = planted_activations(np.random.default_rng(0), 200, 4, dims, n_shared=20, n_specific=3, active=2)
    splits = {"train": slice(0, 160), "val": slice(160, None)}
    # The planted activations are the dataset's imported stores; the manifest gives their images.
    stores = {
        split: write_planted_stores(
            Path(layout.imported_store(dataset, split, "x")).parent.parent, {n: a[part] for n, a in acts.items()}
        )
        for split, part in splits.items()
    }
    manifest = root / "val.csv"
    write_manifest(write_images(root / "images", 40), manifest)
    run = {name: Path(path) for name, path in layout.run_files("usae").items()}
    options = TrainOptions.from_config(config)
    UniversalRun(
        TokenBatches(stores["train"], batch_images=16), options, run["weights"], run["meta"], run["log_csv"]
    ).run()
    files = {
        name: Path(layout.metrics(dataset, name))
        for name in ("matrices.json", "concepts.csv", "top_images.npz", "summary.json", "coherence.json")
    }
    store_metas = [Path(layout.imported_store(dataset, "val", name)) for name in dims]
    metrics(
        run["weights"],
        run["meta"],
        store_metas,
        *files.values(),
        dataset=dataset,
        options=MetricsOptions.from_config(config),
        kinds=ExplorerOptions(specific_share=SPECIFIC_SHARE),
        seed=0,
        manifest=[manifest],
    )
    matrices = read_json(files["matrices.json"])
    r2_heatmap(matrices["r2"], matrices["models"], layout.figure_files("fig5_r2"))
    frame = pd.read_csv(files["concepts.csv"])
    table, images = write_actmax(root, int(frame.loc[~frame["dead"], "concept"].iloc[0]), list(dims))
    return {
        "concepts": files["concepts.csv"],
        "top_images": files["top_images.npz"],
        "matrices": files["matrices.json"],
        "summary": files["summary.json"],
        "manifest": manifest,
        "usae_weights": run["weights"],
        "usae_meta": run["meta"],
        "stores": store_metas,
        "figures": [Path(layout.figure("fig5_r2") + ".png")],
        "actmax_table": table,
        "actmax_images": images,
        "coherence": files["coherence.json"],
    }


def write_stability(path, concepts_csv, seed=0, names=tuple(DIMS)):
    """A stability stage's ``stability.csv`` for the concepts of ``concepts_csv`` and the models ``names``: random
    stabilities in [0, 1]."""
    frame = pd.read_csv(concepts_csv)
    rng = np.random.default_rng(seed)
    table = {"concept": frame["concept"], "kind": frame["kind"]}
    for name in names:
        table[f"atom_stability_{name}"] = rng.random(len(frame))
        table[f"code_stability_{name}"] = rng.random(len(frame))
    table["joint_stability"] = rng.random(len(frame))
    write_csv(pd.DataFrame(table), path)
    return path


@functools.cache
def shared_tiny_run(root, zoo=False):
    """:func:`tiny_run` once per ``root``: the explorer's test modules share one run in a session. ``zoo``: of the
    eight models of config/zoo.yaml (:data:`ZOO_DIMS`), not three."""
    root.mkdir(parents=True, exist_ok=True)
    return tiny_run(root, ZOO_DIMS if zoo else DIMS)


def decode_heatmaps(entry, length):
    """The flat uint8 heatmaps of one model in a concept record (dense or sparse)."""
    if "dense" in entry:
        return np.frombuffer(base64.b64decode(entry["dense"]), np.uint8)
    out = np.zeros(length, np.uint8)
    at = np.frombuffer(base64.b64decode(entry["at"]), "<u2")
    out[at] = np.frombuffer(base64.b64decode(entry["values"]), np.uint8)
    return out


def read_script(path, prefix, suffix=";"):
    """The JSON inside a data script ``<prefix>{...}<suffix>``."""
    text = path.read_text().strip()
    assert text.startswith(prefix) and text.endswith(suffix), path
    return json.loads(text[len(prefix) : len(text) - len(suffix)])


def concept_records(site_dir):
    """Every concept record of a site's chunk files: ``{concept: record}``."""
    records = {}
    for path in sorted((site_dir / "data" / "chunks").glob("*.js")):
        chunk = int(path.stem[1:])
        records.update({int(k): v for k, v in read_script(path, f"usaeChunk({chunk}, ", ");").items()})
    return records
