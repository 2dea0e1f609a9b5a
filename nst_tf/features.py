"""Pretrained CNN features: VGG19/VGG16 (the paper's) and SqueezeNet v1.1 (for CPUs).

Taught in notebooks/01_images_and_vgg_features.

``FeatureExtractor`` takes images in [0, 1], does the caffe preprocessing itself and returns the
activations of the layers you ask for, by the names you used. It keeps only the layers it needs:
nothing past the deepest requested layer, no classifier.

Names: Keras's (``block4_conv2``) and the paper's (``conv4_2`` or ``relu4_2``). Keras convolution
layers include their ReLU, so ``block4_conv2`` *is* the paper's relu4_2: the paper's loss layers
are always post-ReLU activations.
"""

from __future__ import annotations

import os
import re

import numpy as np
import tensorflow as tf

from . import config
from .config import WeightsError  # noqa: F401 (re-exported: nst_tf.features.WeightsError)
from .data import asset_path, download_failure, keras_home
from .keras_weights import KERAS_WEIGHTS as _KERAS_WEIGHTS  # the one dict: tests patch it here
from .keras_weights import (check_imagenet_offline, check_weights_file,  # noqa: F401 (re-exported)
                            imagenet_weights_available, keras_weights_path, local_imagenet_file,
                            missing_imagenet_weights)
from .recipes import NETWORK_RECIPES, RECIPES
from .step_cache import StepCache

# ImageNet channel means in BGR order, subtracted by Caffe-era models (VGG, SqueezeNet).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
NETWORKS = ("vgg19", "vgg16", "squeezenet")

# (content layers, style layers) per network, from its default recipe (recipes.NETWORK_RECIPES):
# VGG: the TF tutorial's block5_conv2 / block1_conv1 .. block5_conv1; SqueezeNet: the course's.
DEFAULT_LAYERS = {network: (list(RECIPES[name].content_layers), list(RECIPES[name].style_layers))
                  for network, name in NETWORK_RECIPES.items()}


def _vgg_blocks(network: str) -> list[int]:
    return [2, 2, 3, 3, 3] if network == "vgg16" else [2, 2, 4, 4, 4]


def layer_names(network: str) -> list[str]:
    """The layer names ``network`` accepts, in forward order (Keras names)."""
    _check_network(network)
    if network == "squeezenet":
        return ["conv1", "pool1", "fire2", "fire3", "pool3", "fire4", "fire5", "pool5",
                "fire6", "fire7", "fire8", "fire9"]
    names = []
    for block, convs in enumerate(_vgg_blocks(network), start=1):
        names += [f"block{block}_conv{i}" for i in range(1, convs + 1)] + [f"block{block}_pool"]
    return names


def canonical_layer(name: str, network: str = "vgg19") -> str:
    """Map a paper name (``conv4_2``, ``relu4_2``, ``pool4``) to the Keras name; check it exists."""
    valid = layer_names(network)
    key = name.strip()
    if network != "squeezenet":
        paper = re.fullmatch(r"(?:conv|relu)(\d)_(\d)", key)
        if paper:
            key = f"block{paper.group(1)}_conv{paper.group(2)}"
        elif re.fullmatch(r"pool(\d)", key):
            key = f"block{key[4:]}_pool"
    if key not in valid:
        raise ValueError(f"unknown layer {name!r} for {network}; valid names: {', '.join(valid)} "
                         + ("(or paper names such as conv4_2, relu4_2, pool4)"
                            if network != "squeezenet" else ""))
    return key


def _check_network(network: str) -> None:
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; choose one of {', '.join(NETWORKS)}")


def caffe_preprocess(images: tf.Tensor) -> tf.Tensor:
    """[0, 1] RGB -> what Caffe-trained nets expect: x255, RGB->BGR, ImageNet mean subtracted."""
    images = tf.convert_to_tensor(images)
    dtype = tf.float64 if images.dtype == tf.float64 else tf.float32  # float64: gradient checks
    bgr = tf.reverse(tf.cast(images, dtype), axis=[-1]) * 255.0
    return bgr - tf.constant(CAFFE_MEAN_BGR, dtype)


# --- building the backbones ------------------------------------------------------------------

def _build_squeezenet():
    """SqueezeNet v1.1 without classifier, weighted layers in the order of the released file."""
    import keras
    from keras import layers

    inputs = keras.Input((None, None, 3))
    x = layers.Conv2D(64, 3, strides=2, padding="valid", activation="relu", name="conv1")(inputs)
    for fire, (squeeze, expand) in zip(range(2, 10), [(16, 64)] * 2 + [(32, 128)] * 2
                                        + [(48, 192)] * 2 + [(64, 256)] * 2):
        s = layers.Conv2D(squeeze, 1, activation="relu", name=f"fire{fire}_squeeze1x1")(x)
        e1 = layers.Conv2D(expand, 1, activation="relu", name=f"fire{fire}_expand1x1")(s)
        e3 = layers.Conv2D(expand, 3, padding="same", activation="relu", name=f"fire{fire}_expand3x3")(s)
        x = layers.Concatenate(name=f"fire{fire}")([e1, e3])
    return keras.Model(inputs, x, name="squeezenet_v1_1")


def _build_backbone(network: str):
    import keras

    if network == "squeezenet":
        return _build_squeezenet()
    app = keras.applications.VGG19 if network == "vgg19" else keras.applications.VGG16
    return app(include_top=False, weights=None, input_shape=(None, None, 3))


def _randomize(model, seed: int, upto: str | None = None) -> None:
    """Seeded He-normal kernels, zero biases: untrained, but activations keep their scale.

    Layers after ``upto`` (a Keras layer name) keep Keras's initial values: nothing computes them,
    and drawing in forward order gives the layers before the same numbers either way (VGG19's last
    two convolutions are a quarter of its weights, ~0.3 s of CPU to draw)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            fan_in = int(np.prod(kernel.shape[:-1]))
            layer.set_weights([rng.normal(0.0, np.sqrt(2.0 / fan_in), kernel.shape).astype(np.float32),
                               np.zeros_like(bias)])
        if layer.name == upto:
            break


def _imagenet_file(network: str) -> str:
    if network == "squeezenet":
        return str(asset_path("squeezenet_v1_1_notop"))
    local = local_imagenet_file(network)  # hash-checked
    if local is not None:
        return str(local)
    check_imagenet_offline(network, "imagenet")  # the error the command line gives before TensorFlow
    import keras

    filename, url, md5 = _KERAS_WEIGHTS[network]
    try:  # what keras.applications does for weights="imagenet": download once, check, cache
        return keras.utils.get_file(filename, url, cache_dir=str(keras_home()),
                                    cache_subdir="models", file_hash=md5)
    except Exception as err:
        raise missing_imagenet_weights(network, download_failure(err)) from None


def _load_weights(model, network: str, weights: str, upto: str | None = None) -> str:
    """Load ``weights`` into the full backbone (random ones up to the layer ``upto``); return a short
    description for banners."""
    if weights == "random":
        _randomize(model, seed=0, upto=upto)
        return "random"
    check_weights_file(weights)
    path = _imagenet_file(network) if weights == "imagenet" else weights
    try:
        model.load_weights(path)
    except Exception as err:  # h5py, shape and layer-count errors all mean "not this network's file"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise WeightsError(f"{path}: cannot load as {network} weights ({first})") from None
    return "imagenet" if weights == "imagenet" else str(path)


# --- the extractor ---------------------------------------------------------------------------

class FeatureExtractor:
    """Activations of chosen layers of a pretrained CNN, for images in [0, 1].

    >>> extractor = FeatureExtractor(style_layers=["conv1_1"], content_layers=["conv4_2"])
    >>> features = extractor(image)          # {"conv1_1": [1, H, W, 64], "conv4_2": [...]}

    ``weights``: ``"imagenet"`` (Keras's own download, hash-checked and cached), a path to a
    weights file of the same format, or ``"random"`` (seeded, untrained: for offline tests only,
    *not* style transfer). ``None`` means ``NST_VGG_WEIGHTS`` or ``"imagenet"``; SqueezeNet's
    ImageNet weights come from the course's asset list. ``pooling="avg"`` swaps every max-pool
    for an average pool with the same weights (Gatys et al. found it gives smoother results).

    Taught in notebooks/01_images_and_vgg_features.
    """

    def __init__(self, style_layers=(), content_layers=(), network: str = "vgg19",
                 pooling: str = "max", weights: str | os.PathLike | None = None,
                 precision: str = "float32"):
        from .precision import PRECISIONS, dtype_policy

        _check_network(network)
        if precision not in PRECISIONS + ("float64",):  # float64: for gradient checks only
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.precision = precision
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
        if isinstance(style_layers, str) or isinstance(content_layers, str):
            raise ValueError("style_layers and content_layers are lists of layer names")
        self.network, self.pooling = network, pooling
        self.style_layers, self.content_layers = list(style_layers), list(content_layers)
        requested = self.style_layers + [n for n in self.content_layers if n not in self.style_layers]
        if not requested:
            raise ValueError("ask for at least one layer (style_layers or content_layers)")
        self._keras_name = {name: canonical_layer(name, network) for name in requested}
        if weights is None:
            weights = config.default_weights(network)
        weights = str(weights)
        self.compiled_steps = StepCache()  # stylize's compiled objectives, reused by a sweep
        with dtype_policy(precision):  # weights stay float32; convolutions run in `precision`
            backbone = _build_backbone(network)
            self.weights = _load_weights(backbone, network, weights, upto=self.deepest_layer)
            self.model = self._truncate(backbone)

    @property
    def untrained(self) -> bool:
        """True for random weights: images made with them are not style transfer."""
        return self.weights == "random"

    def _truncate(self, backbone):
        """A new model that reuses the backbone's weighted layers up to the deepest one needed."""
        import keras
        from keras import layers

        order = layer_names(self.network)
        deepest = max(order.index(k) for k in self._keras_name.values())
        inputs = keras.Input((None, None, 3), name="preprocessed_bgr",
                             dtype="float64" if self.precision == "float64" else "float32")
        x, taps = inputs, {}
        for name in order[:deepest + 1]:
            if "pool" in name:
                size, stride, pad = (3, 2, "valid") if self.network == "squeezenet" else (2, 2, "valid")
                pool = layers.MaxPooling2D if self.pooling == "max" else layers.AveragePooling2D
                x = pool(size, strides=stride, padding=pad, name=name)(x)
            elif name.startswith("fire"):
                squeeze = backbone.get_layer(f"{name}_squeeze1x1")(x)
                x = layers.Concatenate(name=name)([backbone.get_layer(f"{name}_expand1x1")(squeeze),
                                                   backbone.get_layer(f"{name}_expand3x3")(squeeze)])
            else:
                x = backbone.get_layer(name)(x)
            taps[name] = x
        outputs = {user: taps[keras_name] for user, keras_name in self._keras_name.items()}
        return keras.Model(inputs, outputs, name=f"{self.network}_{self.pooling}_features")

    @property
    def layers(self) -> list[str]:
        """The requested layer names, as passed (keys of the returned dict)."""
        return list(self._keras_name)

    def __call__(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """Images [B, H, W, 3] in [0, 1] -> {layer name: activations [B, h, w, C]}."""
        images = tf.convert_to_tensor(images)
        if images.shape.rank != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected images of shape [B, H, W, 3], got {images.shape}")
        return self.model(caffe_preprocess(images), training=False)

    def __repr__(self) -> str:
        return (f"FeatureExtractor(network={self.network!r}, pooling={self.pooling!r}, "
                f"weights={self.weights!r}, precision={self.precision!r}, layers={self.layers})")

    @property
    def deepest_layer(self) -> str:
        """The Keras name of the deepest layer computed (what the memory estimate needs)."""
        order = layer_names(self.network)
        return max(self._keras_name.values(), key=order.index)
