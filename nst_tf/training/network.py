"""The image transformation network of Johnson et al. (2016), with two later fixes.

Taught in notebooks/09_training_a_feed_forward_network.

J. Johnson, A. Alahi, L. Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution", ECCV 2016 (supplementary material, Table 1): a 9x9 convolution (32), two
stride-2 3x3 convolutions (64, 128), five residual blocks (128), two 2x upsampling stages (64, 32)
and a 9x9 convolution back to RGB. Two changes most implementations since have made:

- Instance normalization instead of batch normalization (D. Ulyanov, A. Vedaldi, V. Lempitsky,
  "Instance Normalization: The Missing Ingredient for Fast Stylization", arXiv:1607.08022, 2016):
  each image is normalized on its own, so its contrast does not leak into the style.
- Nearest-neighbour upsampling then a convolution, instead of transposed convolutions (A. Odena,
  V. Dumoulin, C. Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016): a stride-2
  transposed convolution paints some output pixels with more kernel taps than their neighbours,
  which shows as a checkerboard.

Every convolution pads by reflection (the image's own border pixels mirrored), not with zeros:
zeros are a dark frame the network would learn to paint around. ``width`` scales every channel
count; ``preset="realtime"`` (``REALTIME``: width 0.25, 3x3 first and last convolutions) is the
small network that paints a 384x384 frame in well under Magenta's time on a CPU.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops

CHANNELS = (32, 64, 128)  # the encoder's channels at width 1.0 (the decoder mirrors them)
RESIDUAL_BLOCKS = 5
OUTER_KERNEL = 9  # the first and the last convolution's kernel side (the paper's 9x9)
# The real-time variant: a quarter of the channels, and 3x3 instead of 9x9 at both ends. At 384x384
# the two 9x9 convolutions at full resolution cost more than three residual blocks at 1/4
# resolution, and measured slower per multiply (likely because 3 or 8 channels fill few of the
# CPU's vector lanes); the five residual blocks (the depth, most of the receptive field) stay.
# benchmarks/bench_training.py times it against Magenta's model: 0.6-0.7x its CPU time here.
REALTIME = dict(width=0.25, residual_blocks=5, kernel=3)
PRESETS = {"paper": dict(width=1.0, residual_blocks=RESIDUAL_BLOCKS, kernel=OUTER_KERNEL), "realtime": REALTIME}
NORMS = ("instance", "batch")


@keras.saving.register_keras_serializable(package="nst_tf")
class InstanceNormalization(layers.Layer):
    """Normalize each image and channel over its own H x W positions, then a learned scale and
    offset per channel: ``scale * (x - mean) / sqrt(var + epsilon) + offset``.

    ``var`` is the biased variance (divided by H*W), as ``tf.nn.moments`` computes it; ``epsilon``
    1e-3 is Keras's default (as the ``instance_norm`` exercise of notebooks/07). Unlike batch
    normalization there are no running statistics: training and inference compute the same thing.
    """

    def __init__(self, epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.scale = self.add_weight(shape=(channels,), initializer="ones", name="scale")
        self.offset = self.add_weight(shape=(channels,), initializer="zeros", name="offset")

    def call(self, inputs):
        mean, variance = ops.moments(inputs, axes=[1, 2], keepdims=True)
        return self.scale * (inputs - mean) * ops.rsqrt(variance + self.epsilon) + self.offset

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="nst_tf")
class ReflectionPadding2D(layers.Layer):
    """Pad H and W by ``padding`` pixels on each side, mirroring the border (edge not repeated)."""

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        return ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        grow = lambda side: None if side is None else side + 2 * self.padding  # noqa: E731
        return (input_shape[0], grow(input_shape[1]), grow(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="nst_tf")
class Upsample2x(layers.Layer):
    """Nearest-neighbour upsampling by 2: every pixel becomes a 2x2 block.

    Written as four copies of the channels rearranged by ``depth_to_space`` (channel block k of
    pixel (i, j) goes to pixel (2i + k // 2, 2j + k % 2)): the same numbers as
    ``resize(..., "nearest")``, but no output size to compute at run time, so TF Lite's XNNPACK
    runs it, and a gradient (space_to_depth, slices) with deterministic GPU kernels, which
    nearest-resize backprop lacks (``seed_everything``'s deterministic mode refuses it)."""

    def call(self, inputs):
        return tf.nn.depth_to_space(tf.concat([inputs] * 4, axis=-1), 2)

    def compute_output_shape(self, input_shape):
        twice = lambda side: None if side is None else 2 * side  # noqa: E731
        return (input_shape[0], twice(input_shape[1]), twice(input_shape[2]), input_shape[3])


class _Builder:
    """Makes the named layers of one network; seeded initializers, one seed per layer."""

    def __init__(self, norm: str, seed: int | None):
        self.norm, self.seed, self.count = norm, seed, 0

    def initializer(self):
        self.count += 1
        seed = None if self.seed is None else self.seed * 1000 + self.count
        return keras.initializers.GlorotUniform(seed=seed)

    def conv(self, x, filters, kernel, name, strides=1, norm=True, relu=True):
        x = ReflectionPadding2D(kernel // 2, name=f"{name}_pad")(x)
        x = layers.Conv2D(filters, kernel, strides=strides, padding="valid", use_bias=not norm,
                          kernel_initializer=self.initializer(), name=f"{name}_conv")(x)
        if norm:  # a bias before a normalization is subtracted again with the mean: left out
            x = (InstanceNormalization(name=f"{name}_in")(x) if self.norm == "instance"
                 else layers.BatchNormalization(name=f"{name}_bn")(x))
        return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def residual_block(builder: _Builder, x, name: str):
    """conv-norm-ReLU-conv-norm, added to the input (He et al. 2016): the block learns a change."""
    y = builder.conv(x, x.shape[-1], 3, f"{name}_a")
    y = builder.conv(y, x.shape[-1], 3, f"{name}_b", relu=False)
    return layers.Add(name=f"{name}_add")([x, y])


def upsample_conv(builder: _Builder, x, filters: int, name: str):
    """Odena et al.'s resize-convolution: nearest 2x, then a 3x3 convolution (no checkerboard)."""
    x = Upsample2x(name=f"{name}_up")(x)
    return builder.conv(x, filters, 3, name)


def scaled(channels: int, width: float) -> int:
    """``channels * width``, rounded, at least 1."""
    return max(1, int(round(channels * width)))


def architecture(preset: str | None = None, width: float | None = None, residual_blocks: int | None = None,
                 kernel: int | None = None) -> dict:
    """The network's shape as a dict (width, residual_blocks, kernel): the ``preset``'s values
    ("paper" when None), each replaced by an argument that is not None. Checks every value."""
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    given = dict(width=width, residual_blocks=residual_blocks, kernel=kernel)
    shape = {**PRESETS[preset or "paper"], **{k: v for k, v in given.items() if v is not None}}
    width, blocks, kernel = shape["width"], shape["residual_blocks"], shape["kernel"]
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 4:
        raise ValueError(f"width must be a number in (0, 4], got {width!r}")
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
        raise ValueError(f"residual_blocks must be an integer >= 0, got {blocks!r}")
    if isinstance(kernel, bool) or not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel must be an odd integer >= 1, got {kernel!r}")
    return {**shape, "width": float(width)}


def build_transformer_net(width: float | None = None, norm: str = "instance", name: str | None = None,
                          seed: int | None = 0, residual_blocks: int | None = None, kernel: int | None = None,
                          preset: str | None = None) -> keras.Model:
    """Johnson et al.'s image transformation network as a Keras model.

    Input and output: RGB images [B, H, W, 3] in [0, 1], H and W multiples of 4 (two stride-2
    stages down, two 2x stages up). ``width`` scales every channel count (1.0: 32-64-128 as in the
    paper; 0.25: 8-16-32). ``norm``: "instance" (Ulyanov et al., the default) or "batch" (the
    paper's). ``residual_blocks``: 5 in the paper. ``kernel``: the side of the first and the last
    convolution, 9 in the paper. ``preset``: "paper" (the default: width 1, 5 blocks, 9x9) or
    "realtime" (``REALTIME``); an argument given explicitly replaces the preset's value.
    ``seed``: seeded initial weights (None: unseeded). The last layer's sigmoid keeps the output
    in [0, 1] (Johnson et al. used a scaled tanh, the same curve).
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    shape = architecture(preset, width, residual_blocks, kernel)
    width, kernel = shape["width"], shape["kernel"]
    small, middle, large = (scaled(c, width) for c in CHANNELS)
    builder = _Builder(norm, seed)
    inputs = keras.Input((None, None, 3), name="photo")
    x = builder.conv(inputs, small, kernel, "down1")
    x = builder.conv(x, middle, 3, "down2", strides=2)
    x = builder.conv(x, large, 3, "down3", strides=2)
    for block in range(1, shape["residual_blocks"] + 1):
        x = residual_block(builder, x, f"res{block}")
    x = upsample_conv(builder, x, middle, "up1")
    x = upsample_conv(builder, x, small, "up2")
    x = builder.conv(x, 3, kernel, "out", norm=False, relu=False)
    outputs = layers.Activation("sigmoid", name="stylized")(x)
    name = name or (f"transformer_{preset}_{norm}" if preset and shape == architecture(preset)
                    else f"transformer_w{width:g}_{norm}")
    return keras.Model(inputs, outputs, name=name)


def check_image_size(height: int, width: int) -> None:
    """``ValueError`` unless both sides are multiples of 4 (what the network maps to itself)."""
    if height % 4 or width % 4:
        raise ValueError(f"image sides must be multiples of 4 for the transformer network, got {width}x{height} px")
