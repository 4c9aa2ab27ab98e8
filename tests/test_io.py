import os
import time

import matplotlib.pyplot as plt

from usae.analysis.plots import save_figure
from usae.io import atomic_path, write_json


def test_atomic_path_removes_temps_a_killed_write_left(tmp_path):
    stale = [tmp_path / ".log.csv.abcd1234.tmp", tmp_path / ".log.csv.zz_9zz9z.tmp"]
    others = [tmp_path / ".log.csv.x.abcd1234.tmp", tmp_path / ".log.abcd1234.tmp", tmp_path / ".log.csv.notes"]
    for path in stale + others:
        path.write_text("partial")
    (tmp_path / ".log.csv.dir_1234.tmp").mkdir()  # a killed checkpoint-style folder
    with atomic_path(tmp_path / "log.csv") as tmp:
        tmp.write_text("new")
    assert (tmp_path / "log.csv").read_text() == "new"
    assert not any(path.exists() for path in stale) and not (tmp_path / ".log.csv.dir_1234.tmp").exists()
    assert all(path.exists() for path in others)


def test_failed_write_leaves_nothing(tmp_path):
    write_json(tmp_path / "a.json", {"x": 1})
    try:
        with atomic_path(tmp_path / "a.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError
    except RuntimeError:
        pass
    assert sorted(os.listdir(tmp_path)) == ["a.json"]


def _figure():
    figure, axis = plt.subplots()
    axis.plot([0, 1, 2], [2, 0, 1], label="x")
    axis.legend()
    return figure


def test_saved_figures_are_byte_reproducible(tmp_path):
    save_figure(_figure(), [tmp_path / "a.png", tmp_path / "a.pdf"])
    time.sleep(1.1)  # a PDF CreationDate has one-second resolution
    save_figure(_figure(), [tmp_path / "b.png", tmp_path / "b.pdf"])
    for suffix in (".png", ".pdf"):
        assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes(), suffix
    assert b"CreationDate" not in (tmp_path / "a.pdf").read_bytes()
