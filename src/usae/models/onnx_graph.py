"""Cut an ONNX vision model down to the part that computes one tensor, ready to convert to torch.

The ``onnx`` loader reads any ONNX model: the layer is named by its graph tensor, the input by its graph input
(a siamese graph has two). :func:`layer_graph` keeps only the nodes between the two, frees the input's spatial
sides (exporters often fix them at the training size; a convolutional part runs at any size) and checks that
the tensor has a spatial grid. onnx2torch then converts the result (:func:`usae.models.loaders.load_token_model`).
"""

import difflib

import onnx
from onnx import shape_inference

from usae.errors import UserError


def read_graph(path):
    """Parse an ONNX file.

    Raises
    ------
    usae.errors.UserError
        The file does not parse as an ONNX model; the message names it.
    """
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as error:  # protobuf's DecodeError, onnx's ValidationError: all mean "not an ONNX model"
        raise UserError(f"{path}: not a valid ONNX model ({type(error).__name__})") from None
    return model


def layer_graph(model, input_name, layer, source, layout="NCHW"):
    """The subgraph of ``model`` from graph input ``input_name`` to tensor ``layer``, with free spatial sides.

    Parameters
    ----------
    model : onnx.ModelProto
    input_name : str
        The graph input that takes the images; ``""`` for the graph's only input.
    layer : str
        The tensor to read: ``(N, C, H, W)`` feature maps or ``(N, T, D)`` tokens.
    source : str
        Where the model came from, for messages (the model_zoo key).
    layout : str
        ``NCHW`` or ``NHWC``: the order of the input's axes, whose spatial ones are freed.

    Returns
    -------
    onnx.ModelProto
        One input, one output (``layer``).

    Raises
    ------
    usae.errors.UserError
        Unknown input or tensor (the message lists what there is), or a tensor of a rank with no spatial grid.
    """
    inputs = [value.name for value in model.graph.input if value.name not in {i.name for i in model.graph.initializer}]
    if not input_name and len(inputs) == 1:
        input_name = inputs[0]
    if input_name not in inputs:
        raise UserError(
            f"{source}.arch: '{input_name}' is not an input of the ONNX graph (inputs: {', '.join(inputs)})"
        )
    tensors = [output for node in model.graph.node for output in node.output]
    if layer not in tensors:
        nearby = difflib.get_close_matches(layer, tensors, n=3) or tensors[-3:]
        raise UserError(f"{source}.layer: no tensor '{layer}' in the ONNX graph (e.g. {', '.join(nearby)})")
    cut = onnx.utils.Extractor(shape_inference.infer_shapes(model)).extract_model([input_name], [layer])
    rank = len(cut.graph.output[0].type.tensor_type.shape.dim)
    if rank not in (3, 4):
        raise UserError(
            f"{source}.layer: ONNX tensor '{layer}' has rank {rank}, no spatial grid "
            "(read a (N, C, H, W) feature map or (N, T, D) tokens)"
        )
    spatial = (2, 3) if layout == "NCHW" else (1, 2)
    for axis in spatial:
        cut.graph.input[0].type.tensor_type.shape.dim[axis].dim_param = f"side{axis}"
    del cut.graph.value_info[:]  # shapes inferred at the fixed size would contradict another size
    for dim in cut.graph.output[0].type.tensor_type.shape.dim[1:]:
        dim.dim_param = "free"
    return cut
