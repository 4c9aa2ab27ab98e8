"""No text of a figure overlaps another: every figure function drawn with long model names, its rendered
text boxes (titles, axis and tick labels, legends, cell values, row labels) checked pairwise."""

import itertools

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from tests.analysis.frames import concept_frame
from usae.analysis import evidence_plots, plots, upset_plot
from usae.analysis.firing_sets import firing_sets

NAMES = ["dinov2_vits14_imgfocus_block8", "efficientnet_lite0", "mobilenet_v2"]
LABELS = {
    "dinov2_vits14_imgfocus_block8": "DINOv2-S block 8",
    "efficientnet_lite0": "EfficientNet-Lite0",
    "mobilenet_v2": "MobileNet-V2",
}
PAD = 1.0  # pixels: texts closer than this "run together"


def _drawn_texts(figure):
    """Visible, non-empty texts that are drawn: tick labels only for ticks inside their axis' view."""
    ticks = set()
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                if not low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    ticks.update({id(tick.label1), id(tick.label2)})
    return [
        text
        for text in figure.findobj(matplotlib.text.Text)
        if text.get_visible() and text.get_text().strip() and id(text) not in ticks
    ]


def overlapping_texts(figure):
    """Pairs of drawn texts whose boxes (grown by PAD pixels) overlap."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = [(text, text.get_window_extent(renderer).expanded(1, 1).padded(PAD)) for text in _drawn_texts(figure)]
    return [
        (a.get_text(), b.get_text())
        for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
        if box_a.overlaps(box_b)
    ]


@pytest.fixture
def drawn(monkeypatch):
    """The overlaps of every figure saved while the test runs (instead of writing files)."""
    found = {}

    def check(figure, paths):
        found[str(paths[0])] = overlapping_texts(figure)
        matplotlib.pyplot.close(figure)

    monkeypatch.setattr(plots, "save_figure", check)
    monkeypatch.setattr(evidence_plots, "save_figure", check)
    monkeypatch.setattr(upset_plot, "save_figure", check)
    return found


def _frame(rng):
    rename = dict(zip("abc", NAMES))
    return concept_frame(rng, m=300).rename(
        columns=lambda c: c[:-1] + rename[c[-1]] if c[-2:-1] == "_" and c[-1] in rename else c
    )


@pytest.mark.parametrize("labels", [None, LABELS], ids=["registry names", "display names"])
def test_no_text_overlaps_in_any_figure(drawn, rng, labels):
    frame = _frame(rng)
    plots.r2_heatmap([[0.8, -0.1, 0.4], [0.3, 0.7, 0.2], [0.1, 0.6, 0.5]], NAMES, ["r2"], labels=labels)
    plots.entropy_histogram(np.concatenate([np.full(100, 0.97), np.full(60, 0.62), rng.uniform(0, 1, 140)]), ["ent"], 3)
    plots.cofire_proportion_curves(frame, NAMES, ["cfp"], top=100, labels=labels)
    plots.cofire_energy_scatter(frame, {"all": {"r": 0.5}, "frequent": {"r": 0.6}}, 20, ["ce"])
    image = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
    panels = [
        {
            "concept": k,
            "label": f"concept {k}\n({plots.label_of(NAMES[0], labels)} only)",
            "rows": {name: [(image, rng.random((4, 4)))] * 4 for name in NAMES},
        }
        for k in range(2)
    ]
    plots.concept_gallery(
        panels, NAMES, ["gallery"], "Universal concepts: top images per model (Fig. 4)", labels=labels
    )
    plots.concept_gallery([], NAMES, ["empty"], "Model-specific concepts (Figs. 9-12)", "No model-specific concept.")
    log = pd.DataFrame(
        {
            "step": np.arange(100),
            "loss": rng.random(100),
            "lr": np.linspace(0, 1e-3, 100),
            "l0": 31.9 + 0.1 * rng.random(100),
            "dead": rng.random(100),
        }
    )
    for source, target in itertools.product(NAMES, NAMES):
        log[f"r2_{source}->{target}"] = rng.random(100)
    plots.training_curves(log, ["curves"], "usae training (" + ", ".join(NAMES) + ")", labels=labels)
    plots.matching_figure(
        {name: rng.random(50) for name in NAMES} | {f"random ({n})": rng.random(50) for n in NAMES},
        ["match"],
        "Independent SAE vs USAE concepts, Hungarian matching by atom cosine (Fig. 7)",
        labels,
    )
    table = pd.DataFrame([{"concept": 3, "optimised_for": name, **dict.fromkeys(NAMES, 0.5)} for name in NAMES])
    images = {(3, name): torch.rand(1, 3, 16, 16) for name in NAMES}
    plots.actmax_figure(images, table, [(3, "concept 3 (universal)")], NAMES, ["actmax"], labels)
    _evidence_figures(frame, rng, labels)
    families = {NAMES[0]: "ViT", NAMES[1]: "EfficientNet", NAMES[2]: "MobileNet"}
    upset_plot.firing_sets_figure(firing_sets(frame, NAMES), NAMES, ["sets"], labels, families, min_cofiring=0.5)
    expected = ["r2", "ent", "cfp", "ce", "gallery", "empty", "curves", "match", "actmax", "coh", "stab", "sets"]
    assert sorted(drawn) == sorted(expected)
    assert {name: pairs for name, pairs in drawn.items() if pairs} == {}


def _evidence_figures(frame, rng, labels):
    """Label coherence against its null and seed stability by kind, on random values."""
    kinds = np.array(["universal", "mixed", *(f"only {name}" for name in NAMES)], dtype=object)
    frame = frame.assign(kind=rng.choice(kinds, len(frame)))
    for name in NAMES:
        frame[f"label_share_{name}"] = np.where(
            rng.random(len(frame)) < 0.8, rng.integers(1, 9, len(frame)) / 8, np.nan
        )
    per_model = {name: {"tested": 240, "coherent_share": 0.2} for name in NAMES}
    null = [0.0, 0.3, 0.4, 0.2, 0.07, 0.03, 0.0, 0.0, 0.0]
    evidence = {
        "run": True,
        "top_images": 8,
        "fdr": 0.05,
        "per_model": per_model,
        "null_label_share_distribution": null,
    }
    evidence_plots.coherence_null_figure(frame, evidence, NAMES, ["coh"], labels)
    rows = [
        {"pair": pair, "model": name, "method": method, "kind": kind, "mean": rng.random()}
        for pair in ("r0-r1", "r0-r2", "r1-r2")
        for name in NAMES
        for method in evidence_plots.METHODS
        for kind in evidence_plots.KINDS
    ]
    evidence_plots.stability_figure(pd.DataFrame(rows), NAMES, ["stab"], labels)


def test_training_curves_legends_use_the_display_names(monkeypatch, rng):
    legends = []

    def keep(figure, paths):
        legends.extend(
            text.get_text() for axes in figure.axes if axes.get_legend() for text in axes.get_legend().get_texts()
        )
        matplotlib.pyplot.close(figure)

    monkeypatch.setattr(plots, "save_figure", keep)
    log = pd.DataFrame(
        {
            "step": np.arange(10),
            "loss": rng.random(10),
            "lr": np.linspace(0, 1e-3, 10),
            **{f"dead_{name}": rng.random(10) for name in NAMES[:2]},
            f"r2_{NAMES[0]}->{NAMES[2]}": rng.random(10),
        }
    )
    plots.training_curves(log, ["curves"], "usae training", labels=LABELS)
    assert legends == ["DINOv2-S block 8 \u2192 MobileNet-V2", "dead DINOv2-S block 8", "dead EfficientNet-Lite0", "lr"]
