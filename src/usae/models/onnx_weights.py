"""Read PyTorch parameters back out of an ONNX graph exported from PyTorch.

The exporter keeps most parameters as initializers under their module path (``backbone.encoder...``),
but stores each ``nn.Linear`` weight transposed, ``(in, out)``, as the second input of a ``MatMul`` node
named after the module (``/backbone/encoder/layer.0/mlp/fc1/MatMul``), and may fold a parameter into a
constant that feeds one or more nodes (e.g. DINOv2's position table, split into its CLS and patch parts).
"""

import numpy as np

# Parameters that an exporter folded into constants, per architecture: parameter name (without the
# file prefix) -> nodes, relative to the prefix's path, whose first inputs are concatenated (token axis).
FOLDED_PARAMETERS = {
    "dinov2": {"embeddings.position_embeddings": ("embeddings/Concat_6", "embeddings/Reshape_1")},
}


def node_path(prefix):
    """The ONNX node-name path of the submodule with parameter prefix ``prefix`` (``backbone.``: ``/backbone/``)."""
    module = prefix.strip(".")
    return f"/{module.replace('.', '/')}/" if module else "/"


def linear_weight_name(node_name, prefix):
    """Map a ``MatMul`` node name to the PyTorch weight it multiplies by, or None.

    Parameters
    ----------
    node_name : str
        ONNX node name, e.g. ``/backbone/encoder/layer.0/mlp/fc1/MatMul``.
    prefix : str
        Parameter-name prefix of the submodule, e.g. ``backbone.``; ``""`` for the whole graph.

    Returns
    -------
    str or None
        ``encoder.layer.0.mlp.fc1.weight`` (prefix removed), or None when the node is not a Linear's
        ``MatMul`` under ``prefix``.
    """
    path = node_path(prefix)
    if not node_name.startswith(path) or not node_name.endswith("/MatMul"):
        return None
    module = node_name[len(path) : -len("/MatMul")]
    return module.replace("/", ".") + ".weight" if module else None


def onnx_state_dict(graph, prefix, folded=None):
    """Collect the parameters of the submodule ``prefix`` from an ONNX graph as NumPy arrays.

    Parameters
    ----------
    graph : onnx.GraphProto
    prefix : str
        Keep initializers whose names start with it (removed from the keys).
    folded : dict, optional
        Parameter name -> node names (relative to ``prefix``) whose first inputs, concatenated along
        axis 1, make the parameter (see ``FOLDED_PARAMETERS``).

    Returns
    -------
    dict of str -> numpy.ndarray
        Linear weights are returned ``(out, in)``, as PyTorch stores them.
    """
    from onnx import numpy_helper

    initializers = {tensor.name: tensor for tensor in graph.initializer}

    def array(name):  # a writable copy (torch refuses read-only buffers)
        return np.array(numpy_helper.to_array(initializers[name]))

    state = {name[len(prefix) :]: array(name) for name in initializers if name.startswith(prefix)}
    nodes = {node.name: node for node in graph.node}
    for node in graph.node:
        name = linear_weight_name(node.name, prefix) if node.op_type == "MatMul" else None
        if name is not None and len(node.input) == 2 and node.input[1] in initializers:
            state[name] = np.ascontiguousarray(array(node.input[1]).T)
    base = node_path(prefix)
    for name, node_names in (folded or {}).items():
        missing = [n for n in node_names if base + n not in nodes or nodes[base + n].input[0] not in initializers]
        if missing:
            raise ValueError(f"ONNX graph: no constant input for '{name}' at node(s) {', '.join(missing)}")
        parts = [array(nodes[base + n].input[0]) for n in node_names]
        state[name] = np.concatenate(parts, axis=1)
    return state
