"""Read the weights of a frozen TensorFlow graph (``GraphDef`` ``.pb``) without TensorFlow.

A frozen graph stores every variable as a ``Const`` node holding a ``TensorProto``. The protobuf wire
format is read directly (fields used: ``GraphDef.node``, ``NodeDef.name/op/attr``, ``AttrValue.tensor``,
``TensorProto.dtype/tensor_shape/tensor_content/float_val``), then TF-slim scopes are turned into a
PyTorch-ordered state dict.
"""

import re

import numpy as np
import torch

DT_FLOAT = 1
# TF-slim variables of one conv scope, in the order of PyTorch's conv (+ bias) + BatchNorm parameters.
SLIM_VARIABLES = (
    "weights",
    "depthwise_weights",
    "biases",
    "BatchNorm/gamma",
    "BatchNorm/beta",
    "BatchNorm/moving_mean",
    "BatchNorm/moving_variance",
)


def _varint(buffer, position):
    value = shift = 0
    while True:
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def proto_fields(buffer):
    """Yield ``(field_number, value)`` of a serialized protobuf message.

    ``value`` is an int (varint), or a memoryview (length-delimited, fixed32, fixed64).
    """
    buffer, position = memoryview(buffer), 0
    sizes = {1: 8, 5: 4}
    while position < len(buffer):
        key, position = _varint(buffer, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _varint(buffer, position)
        elif wire_type == 2:
            size, position = _varint(buffer, position)
            value, position = buffer[position : position + size], position + size
        elif wire_type in sizes:
            value, position = buffer[position : position + sizes[wire_type]], position + sizes[wire_type]
        else:
            raise ValueError(f"protobuf: unsupported wire type {wire_type} (field {number})")
        yield number, value


def _tensor(message):
    dtype, shape, content, floats = DT_FLOAT, [], None, []
    for number, value in proto_fields(message):
        if number == 1:
            dtype = value
        elif number == 2:
            shape = [dict(proto_fields(dim)).get(1, 0) for n, dim in proto_fields(value) if n == 2]
        elif number == 4:
            content = bytes(value)
        elif number == 5:  # packed (length-delimited) or one fixed32 per entry
            floats.extend(np.frombuffer(value, dtype="<f4").tolist())
    if dtype != DT_FLOAT:
        return None
    if content is not None:
        return np.frombuffer(content, dtype="<f4").reshape(shape).copy()
    values = np.asarray(floats, dtype=np.float32)
    if values.size == int(np.prod(shape)):
        return values.reshape(shape)
    return np.full(shape, values[-1], dtype=np.float32)  # TensorFlow repeats the last value


def graph_constants(graph_bytes):
    """Return the float ``Const`` nodes of a serialized ``GraphDef`` as ``{node name: numpy array}``."""
    constants = {}
    for number, node in proto_fields(graph_bytes):
        if number != 1:
            continue
        fields = list(proto_fields(node))
        name = next((bytes(v).decode() for n, v in fields if n == 1), "")
        if next((bytes(v).decode() for n, v in fields if n == 2), "") != "Const":
            continue
        for n, entry in fields:
            attr = dict(proto_fields(entry)) if n == 5 else {}
            if attr and bytes(attr.get(1, b"")) == b"value":
                tensor_field = dict(proto_fields(attr[2])).get(8)
                array = _tensor(tensor_field) if tensor_field is not None else None
                if array is not None:
                    constants[name] = array
    return constants


def _scope_order(scope):
    """Order TF-slim scopes as the network runs: ``Conv2d_<i>[_depthwise|_pointwise]``, then the rest."""
    match = re.search(r"Conv2d_(\d+)(_depthwise|_pointwise)?$", scope)
    if match is None:
        return (1, 0, 0, scope)
    return (0, int(match.group(1)), match.group(2) != "_depthwise", scope)


def _torch_layout(name, array):
    if name.endswith("depthwise_weights"):  # (H, W, C, multiplier) -> (C * multiplier, 1, H, W)
        height, width, channels, multiplier = array.shape
        return array.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, height, width)
    if array.ndim == 4:  # HWIO -> OIHW
        return array.transpose(3, 2, 0, 1)
    return array


def slim_state_dict(constants, prefix):
    """Order the TF-slim variables under ``prefix`` as a PyTorch state dict of the same network.

    Per scope, in network order: the kernel (PyTorch layout), biases, then BatchNorm gamma, beta,
    moving mean, moving variance and a zero ``num_batches_tracked``: the order of a PyTorch
    conv + BatchNorm, to be paired with :func:`usae.models.loaders.load_state_dict_by_order`.
    """
    scopes = {}
    for name, array in constants.items():
        scope, _, variable = name.rpartition("/")
        if scope.endswith("/BatchNorm"):
            scope, variable = scope[: -len("/BatchNorm")], f"BatchNorm/{variable}"
        if name.startswith(prefix) and variable in SLIM_VARIABLES:
            scopes.setdefault(scope, []).append((SLIM_VARIABLES.index(variable), name, array))
    state = {}
    for scope in sorted(scopes, key=_scope_order):
        for _, name, array in sorted(scopes[scope], key=lambda item: item[0]):
            state[name] = torch.from_numpy(np.ascontiguousarray(_torch_layout(name, array)))
        if f"{scope}/BatchNorm/moving_variance" in state:
            state[f"{scope}/BatchNorm/num_batches_tracked"] = torch.tensor(0)
    return state
