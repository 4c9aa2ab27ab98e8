"""Atomic file writes: a reader never sees a half-written output, and a crash loses nothing old."""

import glob
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

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


def write_text(path, text):
    """Write ``text`` to ``path``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj):
    """Write ``obj`` as indented JSON, atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path):
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def write_bytes_if_changed(path, data):
    """Write ``data`` to ``path`` atomically unless the file already holds exactly these bytes."""
    path = Path(path)
    if path.exists() and path.read_bytes() == data:
        return
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


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
