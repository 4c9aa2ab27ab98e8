"""The onnx loader: any ONNX vision graph becomes a usae model, equal to onnxruntime on real photographs."""

import numpy as np
import pytest
import torch

from usae.errors import UserError
from usae.models.loaders import load_token_model, model_spec, preprocess

onnx = pytest.importorskip("onnx", reason="onnx is pinned in requirements.lock")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is pinned in requirements.lock")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

CAFFE_MEAN = [103.939, 116.779, 123.68]


def _tiny_tf_style_graph(path):
    """A Keras-like export: NHWC input 'image' at a fixed 32 px -> Transpose -> Conv (stride 2) 'conv' -> Relu
    'relu' -> GlobalAveragePool -> Flatten 'pooled' (N, 5), written to ``path``."""
    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.normal(0, 0.01, (5, 3, 3, 3)).astype(np.float32), "kernel"),
        numpy_helper.from_array(rng.normal(0, 0.1, 5).astype(np.float32), "bias"),
    ]
    nodes = [
        helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "kernel", "bias"], ["conv"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["pooled"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 32, 32, 3])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["N", 5])],
        weights,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def _entry(path, **changes):
    return {
        "loader": "onnx",
        "arch": "image",
        "weights": {"path": str(path)},
        "layer": "conv",
        "image_size": 48,  # not the graph's 32: the spatial sides are freed
        "mean": CAFFE_MEAN,
        "std": [1.0, 1.0, 1.0],
        "input_layout": "NHWC",
        "channel_order": "BGR",
        "pixel_scale": 255.0,
        **changes,
    }


def _photos():
    import skimage.data
    from PIL import Image

    return [Image.fromarray(skimage.data.chelsea()), Image.fromarray(skimage.data.coffee())]


def _caffe_input(photos, size, mean=CAFFE_MEAN):
    """The graph's input as a Caffe user builds it: uint8 RGB resized, reversed to BGR, minus the means, NHWC."""
    from PIL import Image

    resized = [np.asarray(p.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)) for p in photos]
    return np.stack([r[..., ::-1].astype(np.float32) - np.float32(mean) for r in resized])


def test_a_built_graph_read_at_a_named_tensor_equals_onnxruntime_on_photographs(tmp_path):
    path = _tiny_tf_style_graph(tmp_path / "tiny.onnx")
    spec = model_spec("tiny", {"tiny": _entry(path)})
    token_model = load_token_model(spec)
    with torch.no_grad():
        grid = token_model(torch.stack([preprocess(photo, spec) for photo in _photos()])).numpy()
    session = ort.InferenceSession(
        helper.make_model(
            helper.make_graph(
                onnx.load(path).graph.node[:2],
                "conv",
                [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", "H", "W", 3])],
                [helper.make_tensor_value_info("conv", TensorProto.FLOAT, None)],
                onnx.load(path).graph.initializer,
            ),
            opset_imports=[helper.make_opsetid("", 13)],
        ).SerializeToString(),
        providers=["CPUExecutionProvider"],
    )
    expected = session.run(None, {"image": _caffe_input(_photos(), 48)})[0]
    assert grid.shape == expected.shape == (2, 5, 24, 24)
    assert np.abs(grid - expected).max() < 1e-4
    # The format matters: read as RGB in [0, 1], the same graph gives other tokens.
    plain = model_spec("plain", {"plain": _entry(path, channel_order="RGB", pixel_scale=1.0, mean=[0.5] * 3)})
    with torch.no_grad():
        other = load_token_model(plain)(torch.stack([preprocess(photo, plain) for photo in _photos()])).numpy()
    assert np.abs(other - expected).max() > 1.0


def test_the_input_format_is_part_of_the_spec_only_when_it_is_not_the_default(tmp_path):
    described = model_spec("tiny", {"tiny": _entry(tmp_path / "tiny.onnx")}).describe()
    assert described["input_layout"] == "NHWC" and described["channel_order"] == "BGR"
    assert described["pixel_scale"] == 255.0
    assert not {"input_layout", "channel_order", "pixel_scale"} & set(model_spec("mobilenet_v2").describe())


def test_bad_graphs_tensors_and_inputs_are_refused_in_one_line(tmp_path):
    path = _tiny_tf_style_graph(tmp_path / "tiny.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(path.read_bytes()[:200])
    cases = [
        (_entry(broken), f"^{broken}: not a valid ONNX model"),
        (_entry(tmp_path / "absent.onnx"), f"^model_zoo.m.weights.path: no file '{tmp_path}/absent.onnx'$"),
        (_entry(path, layer="conv9"), "^model_zoo.m.layer: no tensor 'conv9' in the ONNX graph \\(e.g. conv"),
        (_entry(path, layer="pooled"), "^model_zoo.m.layer: ONNX tensor 'pooled' has rank 2, no spatial grid"),
        (
            _entry(path, arch="input_2"),
            "^model_zoo.m.arch: 'input_2' is not an input of the ONNX graph \\(inputs: image\\)$",
        ),
    ]
    for entry, message in cases:
        with pytest.raises(UserError, match=message):
            load_token_model(model_spec("m", {"m": entry}))
    with pytest.raises(UserError, match="onnx loader needs {package, file} or {path}, got 'pretrained'"):
        load_token_model(model_spec("m", {"m": _entry(path, weights="pretrained")}))
    assert load_token_model(model_spec("m", {"m": _entry(path, arch="")})) is not None  # its only input


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50_1by2_opennsfw", "vgg16_capspot"])
def test_shipped_onnx_networks_equal_onnxruntime_on_photographs(name):
    """The converted networks give onnxruntime's activations on the shipped graphs (benchmarks/onnx_parity.py
    prints the figures at every size the configs use)."""
    from tests.models.test_loaders import _shipped_token_model
    from usae.models.loaders import weights_file
    from usae.models.onnx_graph import layer_graph, read_graph

    token_model = _shipped_token_model(name)
    spec = token_model.spec
    pixels = torch.stack([preprocess(photo, spec) for photo in _photos()])
    with torch.no_grad():
        grid = token_model(pixels).numpy()
    graph = layer_graph(read_graph(weights_file(spec.weights, name)), spec.arch, spec.layer, name, spec.input_layout)
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, {spec.arch: _caffe_input(_photos(), spec.image_size, spec.mean)})[0]
    assert grid.shape == expected.shape
    assert np.abs(grid - expected).max() < 1e-4 * np.abs(expected).max()
