"""Stage sweep: one sweep's summary table and figure from its points' files."""

import pandas as pd
import pytest

from usae.io import read_json, write_json
from usae.stages.sweep import sweep


def _point(folder, r2, share):
    folder.mkdir()
    write_json(folder / "matrices.json", {"r2": [[r2, 0.1], [0.2, r2]]})
    write_json(
        folder / "summary.json",
        {"dead_share": 0.1, "entropy_above_0.9_share": 0.5, "top_cofire_proportion_mean": {"a": 0.3, "b": 0.3}},
    )
    write_json(
        folder / "scorecard.json",
        {"claims_holding": 1, "claims_not_holding": 0, "claims": [{"id": "fig5_cross_positive", "holds": "yes"}]},
    )
    pd.DataFrame(
        {"model": ["a", "random (a)", "b", "random (b)"], "share_cosine_above_0.5": [share, 0.0, share, 0.0]}
    ).to_csv(folder / "baseline.csv", index=False)
    return [folder / name for name in ("summary.json", "matrices.json", "scorecard.json", "baseline.csv")]


def test_summary_and_figure_of_a_sweep(tmp_path):
    points = {"k~4_lr~0.1": {"k": 4, "lr": 0.1}, "k~8_lr~0.1": {"k": 8, "lr": 0.1}}
    files = [_point(tmp_path / name, r2, share) for name, r2, share in zip(points, [0.4, 0.6], [0.1, 0.2])]
    table, figure = [tmp_path / "s.csv", tmp_path / "s.md"], [tmp_path / "m.png", tmp_path / "m.pdf"]
    frame = sweep(*map(list, zip(*files)), table, tmp_path / "s.json", figure, name="lr_k", points=points)
    assert list(frame["point"]) == list(points) and list(frame["usae_self_r2"]) == [0.4, 0.6]
    assert list(pd.read_csv(table[0])["fig7_matched_share"]) == [0.1, 0.2]
    assert "| k~8_lr~0.1 |" in table[1].read_text() and figure[0].stat().st_size > 1000
    assert read_json(tmp_path / "s.json")["k~8_lr~0.1"]["usae_self_r2"] == 0.6


def test_one_file_of_each_kind_per_point(tmp_path):
    files = _point(tmp_path / "p", 0.5, 0.1)
    with pytest.raises(ValueError, match="one summary, matrices, scorecard and baseline table per point"):
        sweep(
            *([path] for path in files),
            [tmp_path / "s.csv"],
            tmp_path / "s.json",
            [tmp_path / "m.png"],
            name="x",
            points={"a~1": {"a": 1}, "a~2": {"a": 2}},
        )
