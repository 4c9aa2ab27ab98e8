import numpy as np
import pandas as pd

from usae.analysis import plots
from usae.analysis.gallery import firing_top, model_specific_concepts, universal_concepts


def _frame():
    return pd.DataFrame(
        {
            "concept": [0, 1, 2, 3],
            "entropy": [0.95, 0.99, 0.5, 0.97],
            "cofires": [40, 1, 50, 0],
            "energy_total": [1.0, 9.0, 5.0, 8.0],
            "fires_a": [10, 1, 20, 0],
            "fires_b": [10, 1, 0, 30],
            "energy_a": [1, 1, 5, 0],
            "energy_b": [1, 1, 0, 8],
        }
    )


def test_universal_concepts_need_the_scaled_cofires_not_a_single_one():
    assert universal_concepts(_frame(), 5, min_cofires=32) == [0]  # concept 1 co-fires once: chance, not universal
    assert universal_concepts(_frame(), 5, min_cofires=0) == [1, 0]  # at least one co-fire, always


def test_model_specific_concepts_are_each_models_highest_energy_own_concepts():
    assert model_specific_concepts(_frame(), ["a", "b"]) == [(2, "a"), (3, "b")]
    assert model_specific_concepts(_frame(), ["a", "b"], min_share=1.01) == []


def test_border_share_reads_a_background_concept_as_one():
    import numpy as np

    from usae.analysis.gallery import border_share

    ring = np.ones((14, 14))
    ring[1:-1, 1:-1] = 0
    centre = 1 - ring
    assert border_share([ring]) == 1.0 and border_share([centre]) == 0.0
    assert abs(border_share([np.ones((14, 14))]) - 52 / 196) < 1e-12
    assert np.isnan(border_share([np.zeros((14, 14))]))


def test_a_concept_that_never_fires_in_a_model_has_no_top_images_there():
    indices = np.array([[[4, 7], [5, 8]], [[1, 2], [3, 0]]])  # (M=2, n=2, m=2): arbitrary ties at code 0
    values = np.array([[[0.9, 0.0], [0.2, 0.0]], [[0.0, 0.3], [0.0, 0.1]]])
    np.testing.assert_array_equal(firing_top(indices, values), [[[4, -1], [5, -1]], [[-1, 2], [-1, 0]]])


def test_the_gallery_says_never_fires_for_a_model_without_top_images(monkeypatch):
    drawn = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, paths: drawn.append(figure))
    image, heat = np.zeros((8, 8, 3), np.uint8), np.ones((2, 2))
    panel = {"concept": 3, "label": "concept 3", "rows": {"a": [(image, heat)] * 2, "b": []}}
    plots.concept_gallery([panel], ["a", "b"], [], "title", labels={"a": "A", "b": "B"})
    texts = [text.get_text() for axis in drawn[0].axes for text in axis.texts]
    assert texts == ["never fires\nin this model"]
    labels = [axis.get_ylabel() for axis in drawn[0].axes if axis.get_ylabel().startswith("concept 3")]
    assert labels == ["concept 3\nA", "concept 3\nB"]  # the empty row keeps its label
