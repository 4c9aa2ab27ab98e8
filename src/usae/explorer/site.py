"""Write the concept explorer: a static site that opens from disk (file://) with no server and no network.

Layout of the site folder::

    index.html, assets/explorer.{js,css}   the page (vanilla JS, no external resource)
    data/meta.js                           models, R2 matrix, summary, figures, kinds, label vocabulary
    data/index.js                          one column array per statistic, one entry per alive concept
    data/chunks/c00000.js ...              per-concept panels (images, heatmaps, neighbours, actmax,
                                           baseline twins), ``chunk_size`` consecutive concept ids a file,
                                           loaded on demand
    data/images/i00000.js ...              per-image views (the concepts that fire most on a shown image in
                                           every model, with heatmaps), ``chunk_size`` shown images a file
    thumbs/000123.jpg                      one JPEG per shown image (store index), written once; none
                                           when the dataset has no images (heatmaps alone)
    actmax/, figures/                      activation-maximisation images (JPEG) and figure PNGs

Browsers refuse ``fetch()`` of local files, so data files are scripts: ``meta.js`` and ``index.js``
assign globals, a chunk calls ``usaeChunk(id, records)`` (an image chunk ``usaeImages(id, records)``).
"""

import base64
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from usae.analysis.kinds import DEAD
from usae.data.manifest import checked_image
from usae.explorer.content import concept_labels
from usae.explorer.evidence import coherence_meta, evidence_of, has_evidence, rounded
from usae.io import read_image

ASSETS = Path(__file__).with_name("site_template")
NEIGHBOUR_METHOD = "cosine of decoder atoms concatenated over models (mean of per-model cosines)"


def write_site(content, site_dir, *, thumbnail_px=128, chunk_size=64, jpeg_quality=82):
    """Write the whole site for ``content`` into ``site_dir`` (replaced in one rename when complete).

    Parameters
    ----------
    content : usae.explorer.content.ExplorerContent
    site_dir : path
    thumbnail_px : int
        Side of the square image thumbnails (activation-maximisation images: twice that at most).
    chunk_size : int
        Consecutive concept ids per chunk file.
    jpeg_quality : int
    """
    site_dir = Path(site_dir)
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=site_dir.parent, prefix=f".{site_dir.name}."))
    try:
        shutil.copytree(ASSETS, tmp, dirs_exist_ok=True)
        alive = np.flatnonzero(content.kinds != DEAD)
        figures = copy_figures(content.figures, tmp / "figures")
        actmax = write_actmax_images(content.actmax, tmp / "actmax", 2 * thumbnail_px, jpeg_quality)
        if content.image_paths is not None:
            write_thumbnails(
                content.image_paths,
                thumbnailed(content),
                tmp / "thumbs",
                thumbnail_px,
                jpeg_quality,
                content.image_sha256s,
            )
        vocabulary, label_ids = concept_labels(content.gallery, content.image_labels)
        meta = site_meta(content, figures, vocabulary, chunk_size, thumbnail_px)
        write_script(tmp / "data" / "meta.js", "window.USAE_META = ", meta)
        write_script(tmp / "data" / "index.js", "window.USAE_INDEX = ", index_columns(content, alive, label_ids))
        write_chunks(content, alive, actmax, tmp / "data" / "chunks", chunk_size)
        if content.shown is not None:
            write_image_chunks(content, tmp / "data" / "images", chunk_size)
        os.chmod(tmp, 0o755)
        _replace_dir(tmp, site_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return site_dir


def thumbnailed(content):
    """Store indices of every image the site shows: the concepts' galleries and their twins' top images."""
    twins = content.twins or {}
    shown = np.unique(
        np.concatenate(
            [content.gallery.ravel()]
            + [twins[key].ravel() for key in ("atom_images", "activation_images") if key in twins]
        )
    )
    return shown[shown >= 0]


def write_chunks(content, alive, actmax, out_dir, chunk_size):
    """The alive concepts' panel data, ``chunk_size`` consecutive concept ids a file (ids without data skipped)."""
    for chunk, first in enumerate(range(0, len(content.kinds), chunk_size)):
        concepts = alive[(alive >= first) & (alive < first + chunk_size)]
        if len(concepts):
            records = {str(k): concept_record(content, k, actmax.get(int(k), [])) for k in concepts}
            write_script(out_dir / chunk_file(chunk), f"usaeChunk({chunk}, ", records, ");")


def write_image_chunks(content, out_dir, chunk_size):
    """The shown images' views, ``chunk_size`` consecutive shown images (in store order) a file."""
    for chunk, first in enumerate(range(0, len(content.shown.images_I), chunk_size)):
        records = {
            str(int(content.shown.images_I[i])): image_record(content, i)
            for i in range(first, min(first + chunk_size, len(content.shown.images_I)))
        }
        write_script(out_dir / image_chunk_file(chunk), f"usaeImages({chunk}, ", records, ");")


def image_record(content, i):
    """One shown image's view: ``file`` and ``label``, and per model its top ``concepts`` (largest peak
    code first), their ``heat`` over the image's tokens (as :func:`encode_heatmaps`) and ``scale``."""
    shown, index = content.shown, int(content.shown.images_I[i])
    used = {name: int((shown.concepts_IMK[i, j] >= 0).sum()) for j, name in enumerate(content.names)}
    return {
        "file": file_name(content, index),
        "label": content.image_labels[index],
        "concepts": {name: shown.concepts_IMK[i, j, : used[name]].tolist() for j, name in enumerate(content.names)},
        "heat": {name: encode_heatmaps(shown.heat_IMKT[i, j, : used[name]]) for j, name in enumerate(content.names)},
        "scale": {name: rounded(shown.scale_IMK[i, j, : used[name]]) for j, name in enumerate(content.names)},
    }


def _replace_dir(new, target):
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old)


def chunk_file(chunk):
    """File name of chunk ``chunk`` under ``data/chunks``."""
    return f"c{chunk:05d}.js"


def image_chunk_file(chunk):
    """File name of image chunk ``chunk`` under ``data/images``."""
    return f"i{chunk:05d}.js"


def thumb_name(index):
    """File name of store image ``index``'s thumbnail under ``thumbs``."""
    return f"{index:06d}.jpg"


def write_script(path, prefix, obj, suffix=";"):
    """Write ``obj`` as compact JSON wrapped in a script statement, e.g. ``window.X = {...};``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(prefix + json.dumps(obj, separators=(",", ":"), allow_nan=False) + suffix + "\n")


# The index's per-model statistics: column prefix and title. With more than PER_MODEL_ALL models the index shows one
# of them at a time (a picker), so that M columns, not 3 M, share the page's width.
PER_MODEL = {"fires": "fires", "cofire_proportion": "co-fire prop.", "energy": "energy"}
PER_MODEL_ALL = 3


def numeric_columns(names, present, labels=None):
    """``[(key, title, group)]`` of the index's numeric columns (keys are columns of the explorer's concept frame;
    titles name each model by its display name in ``labels``; ``group`` is the per-model statistic a column shows,
    "" for the others): the statistics, then label coherence (models in which the concept is coherent) and seed
    stability (joint matched cosine) where ``present`` (the frame's columns) has them."""
    columns = [("energy_total", "energy", ""), ("entropy", "entropy", ""), ("cofires", "co-fires", "")]
    for prefix, title in PER_MODEL.items():
        columns += [(f"{prefix}_{name}", f"{title} {(labels or {}).get(name, name)}", prefix) for name in names]
    evidence = [("coherent_models", "coherent in", ""), ("joint_stability", "stability", "")]
    return columns + [column for column in evidence if column[0] in present]


def index_columns(content, alive, label_ids):
    """The index: ``{"columns": [{"key", "title", "group"}], "groups", "group", "values": {key: [...]}}`` over alive
    concepts. ``groups`` are the per-model statistics, ``group`` the one shown first ("": all of them).

    ``values["thumb"]``: the store index of each concept's first gallery image (-1: none), whose
    thumbnail the index shows.
    """
    frame = content.frame.iloc[alive]
    kinds = sorted(set(content.kinds[alive]))
    values = {
        "concept": alive.tolist(),
        "kind": [kinds.index(kind) for kind in content.kinds[alive]],
        "labels": [label_ids[k] for k in alive],
        "thumb": content.gallery[alive, 0].tolist(),
    }
    columns = numeric_columns(content.names, set(frame.columns), content.labels)
    for key, _, _ in columns:
        counted = key.startswith(("fires", "cofires", "coherent_models"))
        values[key] = frame[key].astype(int).tolist() if counted else rounded(frame[key])
    return {
        "columns": [{"key": key, "title": title, "group": group} for key, title, group in columns],
        "groups": [{"key": key, "title": title} for key, title in PER_MODEL.items()],
        "group": "" if len(content.names) <= PER_MODEL_ALL else next(iter(PER_MODEL)),
        "kinds": kinds,
        "values": values,
    }


def site_meta(content, figures, vocabulary, chunk_size, thumbnail_px):
    """Everything but the per-concept data: models, grid, R2 matrix, summary, figures, labels."""
    return {
        "thumbnail_px": thumbnail_px,
        "thumbnails": content.image_paths is not None,
        "models": content.names,
        "display": {name: (content.labels or {}).get(name, name) for name in content.names},
        "grid": list(content.grid),
        "chunk_size": chunk_size,
        "concepts": len(content.kinds),
        "dead": int((content.kinds == DEAD).sum()),
        "labels": vocabulary,
        "r2": [rounded(row) for row in content.matrices["r2"]],
        "dataset": content.matrices.get("dataset", ""),
        "images": content.matrices.get("images"),
        "summary": _scalars(content.summary, content.labels),
        "figures": figures,
        "neighbour_method": NEIGHBOUR_METHOD,
        "kind_rule": content.kind_rule,
        "neighbour_chance": rounded([content.neighbour_chance])[0],
        "shown_images": [] if content.shown is None else content.shown.images_I.tolist(),
        "baseline": content.twins is not None,
        "twin_chance": dict(zip(content.twin_chance, rounded(list(content.twin_chance.values())))),
        "coherence": coherence_meta(content.coherence),
        "stability": "joint_stability" in content.frame.columns,
        "evidence": has_evidence(content),
    }


def _scalars(summary, labels):
    """The summary's numbers as ``{name: value}`` (nested dicts flattened with ' ' separators), a model's
    key shown as its display name (``labels``)."""
    flat = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            flat.update({f"{key} {inner}": v for inner, v in _scalars(value, labels).items()})
        elif isinstance(value, int) and not isinstance(value, bool):
            flat[labels.get(key, key)] = value
        elif isinstance(value, float):
            flat[labels.get(key, key)] = rounded([value])[0]
    return flat


def concept_record(content, k, actmax):
    """One concept's panel data.

    ``images``: store indices (thumbnails ``thumbs/<index>.jpg``); ``files``: their file names (empty
    without images); ``labels``: their dataset labels;
    ``heat``: per model, the ``len(images) x T`` uint8 codes (row-major over the grid) as
    :func:`encode_heatmaps` writes them, to be multiplied by ``scale`` / 255; ``top``: per model, positions
    in ``images`` that are its own top images;
    ``neighbours``: ``[concept, cosine]``; ``actmax``: images optimised for each model;
    ``twins``: per model, the independent-SAE twin ``{"atom", "cosine", "activation", "correlation"}``,
    with the baseline's top images ``"atom_images"``, ``"activation_images"``: ``[index, code, file]`` per
    image the twin fires on (absent without the baseline).
    """
    used = int((content.gallery[k] >= 0).sum())
    images = content.gallery[k, :used]
    return {
        "images": images.tolist(),
        "files": [file_name(content, i) for i in images],
        "labels": [content.image_labels[i] for i in images],
        "heat": {name: encode_heatmaps(content.heat_bytes[k, i, :used]) for i, name in enumerate(content.names)},
        "scale": dict(zip(content.names, rounded(content.heat_scale[k]))),
        "top": {name: np.flatnonzero(content.top[k, i, :used]).tolist() for i, name in enumerate(content.names)},
        "neighbours": [[int(j), rounded([c])[0]] for j, c in zip(content.neighbours[k], content.cosines[k]) if j >= 0],
        "actmax": actmax,
        **({} if content.twins is None else {"twins": twins_of(content, k)}),
        **({"evidence": evidence_of(content, k)} if has_evidence(content) else {}),
    }


def file_name(content, index):
    """The file name of the image at store index ``index`` ('' when the dataset has no images)."""
    return Path(content.image_paths[index]).name if content.image_paths else ""


def twins_of(content, k):
    """Concept ``k``'s twins as ``{model: {"atom", "cosine", "activation", "correlation"}}`` (ids as int),
    each with ``"<atom|activation>_images"``: ``[index, code, file]`` when the baseline's top images are known."""
    twins, out = content.twins, {}
    for i, name in enumerate(content.names):
        out[name] = {
            "atom": int(twins["atom"][i, k]),
            "cosine": rounded([twins["cosine"][i, k]])[0],
            "activation": int(twins["activation"][i, k]),
            "correlation": rounded([twins["correlation"][i, k]])[0],
        }
        for key in ("atom", "activation"):
            if f"{key}_images" in twins:
                images, codes = twins[f"{key}_images"][i, k], twins[f"{key}_codes"][i, k]
                out[name][f"{key}_images"] = [
                    [int(j), rounded([c])[0], file_name(content, j)] for j, c in zip(images, codes) if j >= 0
                ]
    return out


def to_base64(array):
    """Base64 text of an array's bytes."""
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def encode_heatmaps(bytes_UT):
    """One model's quantised heatmaps of a concept as JSON, sparse when that is smaller.

    Returns
    -------
    dict
        ``{"dense": base64 of the flat uint8 array}`` or, when fewer than a third of the values are
        non-zero, ``{"at": base64 of their flat positions (uint16, little-endian), "values": base64 of them}``.
    """
    flat = np.asarray(bytes_UT, dtype=np.uint8).ravel()
    at = np.flatnonzero(flat)
    if 3 * len(at) < len(flat) and len(flat) <= 1 << 16:
        return {"at": to_base64(at.astype("<u2")), "values": to_base64(flat[at])}
    return {"dense": to_base64(flat)}


def _save_jpeg(image, path, quality):
    image.convert("RGB").save(path, format="JPEG", quality=quality, optimize=True)


def write_thumbnails(image_paths, indices, out_dir, px, quality, sha256s=None):
    """One ``px`` x ``px`` JPEG per store index: the whole image resized to a square, as the models see it
    (no crop), so that the token grid lies exactly over it. With ``sha256s`` (the manifest's), each file is
    checked against its own first (:func:`usae.data.manifest.checked_image`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for index in indices:
        path = image_paths[index]
        image = read_image(path) if sha256s is None else checked_image(path, sha256s[index], "the val manifest")
        image = image.convert("RGB")
        _save_jpeg(image.resize((px, px), Image.Resampling.BICUBIC), out_dir / thumb_name(index), quality)


def write_actmax_images(actmax, out_dir, max_px, quality):
    """Copy activation-maximisation images as JPEGs of at most ``max_px`` a side.

    Returns
    -------
    dict of int to list of dict
        Per concept: ``{"model", "src" (site-relative), "activations"}``.
    """
    out = {}
    for concept, items in actmax.items():
        for item in items:
            name = f"{Path(item['path']).stem}.jpg"
            out_dir.mkdir(parents=True, exist_ok=True)
            image = read_image(item["path"])
            image.thumbnail((max_px, max_px), Image.Resampling.BICUBIC)
            _save_jpeg(image, out_dir / name, quality)
            activations = dict(zip(item["activations"], rounded(list(item["activations"].values()))))
            out.setdefault(int(concept), []).append(
                {"model": item["model"], "src": f"actmax/{name}", "activations": activations}
            )
    return out


def copy_figures(paths, out_dir):
    """Copy figure PNGs; return their site-relative paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in paths:
        shutil.copyfile(path, out_dir / Path(path).name)
        copied.append(f"figures/{Path(path).name}")
    return copied


def site_size(site_dir):
    """Bytes and files of a site folder: ``{"bytes", "files"}``, and bytes per top-level part."""
    parts, files = {}, 0
    for path in Path(site_dir).rglob("*"):
        if path.is_file():
            top = path.relative_to(site_dir).parts[0]
            parts[top] = parts.get(top, 0) + path.stat().st_size
            files += 1
    return {"bytes": sum(parts.values()), "files": files, "parts": parts}
