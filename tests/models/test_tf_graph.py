"""Frozen TensorFlow graphs read without TensorFlow: a GraphDef encoded in the test, TF-slim to PyTorch order."""

import numpy as np
import torch

from usae.models.loaders import load_state_dict_by_order
from usae.models.tf_graph import graph_constants, slim_state_dict


def _varint(value):
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _field(number, payload):
    """A length-delimited field (bytes) or a varint field (int)."""
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _const(name, array=None, dtype=1, floats=None):
    shape = b"" if array is None else b"".join(_field(2, _field(1, size)) for size in array.shape)
    tensor = _field(1, dtype) + _field(2, shape)
    tensor += (
        _field(4, array.astype("<f4").tobytes())
        if array is not None
        else _field(5, np.asarray(floats, "<f4").tobytes())
    )
    attr = _field(1, b"value") + _field(2, _field(8, tensor))
    return _field(1, _field(1, name.encode()) + _field(2, b"Const") + _field(5, attr))


def _slim_graph(rng):
    arrays = {
        "Net/Conv2d_1_pointwise/weights": rng.normal(size=(1, 1, 4, 5)),
        "Net/Conv2d_0/weights": rng.normal(size=(3, 3, 2, 4)),
        "Net/Conv2d_0/BatchNorm/gamma": rng.normal(size=4),
        "Net/Conv2d_0/BatchNorm/beta": rng.normal(size=4),
        "Net/Conv2d_0/BatchNorm/moving_mean": rng.normal(size=4),
        "Net/Conv2d_0/BatchNorm/moving_variance": rng.uniform(1, 2, size=4),
        "Net/Conv2d_1_depthwise/depthwise_weights": rng.normal(size=(3, 3, 4, 1)),
    }
    graph = b"".join(_const(name, array) for name, array in arrays.items())
    graph += _const("Net/Net/Conv2d_0/BatchNorm/batchnorm/add/y", floats=[1e-3])
    graph += _const("Net/shape", np.zeros(2), dtype=3)  # int32: not a weight
    graph += _field(1, _field(1, b"input") + _field(2, b"Placeholder"))
    return graph, {name: array.astype(np.float32) for name, array in arrays.items()}


def test_graph_constants_reads_float_consts(rng):
    graph, arrays = _slim_graph(rng)
    constants = graph_constants(graph)
    assert set(constants) == set(arrays) | {"Net/Net/Conv2d_0/BatchNorm/batchnorm/add/y"}
    assert all(np.array_equal(constants[name], array) for name, array in arrays.items())
    assert constants["Net/Net/Conv2d_0/BatchNorm/batchnorm/add/y"] == np.float32(1e-3)


def test_slim_state_dict_is_in_network_order_with_pytorch_layouts(rng):
    graph, arrays = _slim_graph(rng)
    state = slim_state_dict(graph_constants(graph), "Net/")
    assert [name.split("/", 1)[1] for name in state] == [
        "Conv2d_0/weights",
        "Conv2d_0/BatchNorm/gamma",
        "Conv2d_0/BatchNorm/beta",
        "Conv2d_0/BatchNorm/moving_mean",
        "Conv2d_0/BatchNorm/moving_variance",
        "Conv2d_0/BatchNorm/num_batches_tracked",
        "Conv2d_1_depthwise/depthwise_weights",
        "Conv2d_1_pointwise/weights",
    ]
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, bias=False),
        torch.nn.BatchNorm2d(4),
        torch.nn.Conv2d(4, 4, 3, groups=4, bias=False),
        torch.nn.Conv2d(4, 5, 1, bias=False),
    )
    load_state_dict_by_order(net, state, "graph")
    image_HWC = rng.normal(size=(3, 3, 2)).astype(np.float32)
    with torch.no_grad():
        conv = net[0](torch.from_numpy(image_HWC).permute(2, 0, 1)[None])[0, :, 0, 0].numpy()
    assert np.allclose(conv, np.einsum("hwi,hwio->o", image_HWC, arrays["Net/Conv2d_0/weights"]), atol=1e-5)
    depthwise = arrays["Net/Conv2d_1_depthwise/depthwise_weights"]
    assert np.array_equal(net[2].weight[:, 0].detach().numpy(), depthwise[:, :, :, 0].transpose(2, 0, 1))
