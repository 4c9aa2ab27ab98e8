"""Atomic file writes (a reader never sees a half-written output, and a crash loses nothing old) and
checked reads of JSON files usae did not write in this run, refused in one line.

A *sealed* JSON object records, under :data:`SEAL`, the sha256 of its other keys as canonical JSON
(:func:`seal_json`); :func:`check_json_seal` refuses one whose contents no longer match.
"""

import glob
import hashlib
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from usae.errors import ImageError, UserError

# Key of a sealed JSON object's own digest.
SEAL = "sha256"

_UMASK = os.umask(0)
os.umask(_UMASK)


def remove_stale_temps(path):
    """Delete the temporary siblings of ``path`` (``.<name>.<8 random chars>.tmp``, files or folders).

    Left by a killed writer; writers of ``path`` call it before making their own (one writer per
    output at a time, as the workflow runs them).
    """
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        if not pattern.fullmatch(stale.name):
            continue
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale)
        else:
            stale.unlink()


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    Temporary files a killed earlier write of ``path`` left behind are deleted first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_folder(directory):
    """Yield an empty temporary folder beside ``directory``; on success it replaces ``directory``.

    An existing ``directory`` is moved aside in one rename, the new one renamed into place, and the old
    one deleted, so ``directory`` is never half written. Temporaries a killed earlier write left behind
    are deleted first; on an error the temporary folder is removed and ``directory`` is untouched.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(directory)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.", suffix=".tmp"))
    try:
        yield tmp
        old = None
        if directory.exists():
            old = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.", suffix=".tmp"))
            os.replace(directory, old)  # onto the new empty folder
        os.replace(tmp, directory)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_text(path, text):
    """Write ``text`` to ``path``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj):
    """Write ``obj`` as indented JSON, atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path):
    return json.loads(Path(path).read_text())


def read_json_object(path, required=None, error=UserError):
    """A JSON file holding an object, with the ``required`` keys (key -> JSON type); else one-line ``error``."""
    try:
        value = read_json(path)
    except FileNotFoundError:
        raise error(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise error(f"{path}: not JSON ({exc.__class__.__name__})") from None
    if not isinstance(value, dict):
        raise error(f"{path}: not what usae writes (not a JSON object)")
    check_keys(path, value, required or {}, error)
    return value


def check_keys(path, value, required, error):
    """Raise ``error`` naming the first ``required`` key (key -> type) that ``value`` lacks or has of another type."""
    wrong = [
        key
        for key, kind in required.items()
        if key not in value or not isinstance(value[key], kind) or isinstance(value[key], bool)
    ]
    if wrong:
        raise error(f"{path}: not what usae writes (key '{wrong[0]}' missing or of the wrong type)")


def is_plain_name(name):
    """Whether ``name`` is a string naming an entry of a folder: not empty, '.' or '..', no path separator."""
    return isinstance(name, str) and name not in ("", ".", "..") and not any(c in name for c in "/\\\0")


def read_image(path):
    """The image file at ``path``, decoded (a PIL image): the one reader of every image usae opens.

    Raises
    ------
    usae.errors.ImageError
        One line naming the file, when it cannot be decoded: missing, not an image, cut short, or a
        decompression bomb (a header claiming more pixels than PIL's limit, refused before decoding).
    """
    from PIL import Image

    try:
        image = Image.open(path)
        image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageError(
            path, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'cannot decode'}"
        ) from None
    return image


def file_sha256(path):
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def json_sha256(obj):
    """sha256 (hex) of ``obj`` as canonical JSON: sorted keys, as it reads back from a JSON file."""
    canonical = json.dumps(json.loads(json.dumps(obj)), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def seal_json(obj):
    """``obj`` with its own digest under :data:`SEAL`."""
    return {**obj, SEAL: json_sha256({key: value for key, value in obj.items() if key != SEAL})}


def check_json_seal(path, obj, error):
    """Raise ``error`` if ``obj``, read from ``path``, records a seal that its other keys do not match.

    An object without a seal (written by another program, or edited by hand with its seal removed) passes.
    """
    if SEAL in obj and obj[SEAL] != json_sha256({key: value for key, value in obj.items() if key != SEAL}):
        raise error(
            f"{path}: damaged or edited (its contents differ from their '{SEAL}'; remove that key to "
            "accept a hand edit)"
        )


def write_bytes_if_changed(path, data):
    """Write ``data`` to ``path`` atomically unless the file already holds exactly these bytes."""
    path = Path(path)
    if path.exists() and path.read_bytes() == data:
        return
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_npz(path, arrays):
    """Write ``{name: array}`` to an ``.npz`` file atomically (:func:`numpy.savez`, uncompressed)."""
    import numpy as np

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


def write_csv(frame, path):
    """Write a DataFrame as CSV, atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def write_table(frame, paths):
    """Write ``frame`` to each of ``paths`` as CSV or Markdown, by suffix, atomically."""
    for path in paths:
        with atomic_path(path) as tmp:
            if str(path).endswith(".md"):
                tmp.write_text(frame.to_markdown(index=False, floatfmt=".3f") + "\n")
            else:
                frame.to_csv(tmp, index=False)


def read_concepts(concepts_csv, stability_csv=None):
    """A metrics stage's ``concepts.csv``, joined on ``concept`` with the stability stage's per-concept table
    (``stability.csv``: matched atom cosine and code correlation per model, joint matched cosine) where given."""
    import pandas as pd

    frame = pd.read_csv(concepts_csv)
    if stability_csv is None:
        return frame
    return frame.merge(pd.read_csv(stability_csv).drop(columns="kind"), on="concept", how="left", validate="1:1")
