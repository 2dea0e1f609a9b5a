"""Checker of lecture 01 (notebooks/01_images_and_vgg_features): ``caffe_preprocess``."""

from __future__ import annotations

import numpy as np

from .core import Exercise, Mistake
from .inputs import make_case

MEAN_BGR = np.array([103.939, 116.779, 123.68])  # the mean ImageNet pixel, in B, G, R order


def caffe_reference(images):
    """[B, H, W, 3] RGB in [0, 1] -> x255, channels reversed to BGR, ImageNet mean subtracted."""
    return images[..., ::-1] * 255.0 - MEAN_BGR


def _cases(rng):
    """Batches of 1 to 3 images, square and not; float64 comes as NumPy arrays (a float32-only
    ``tf.convert_to_tensor(images, tf.float32)`` accepts those, as the lecture's version does)."""
    shapes = [((1, 4, 6, 3), False), ((2, 5, 3, 3), True), ((3, 2, 2, 3), False), ((1, 7, 7, 3), True)]
    cases = [make_case("images", (rng.uniform(size=shape),), float64, numpy=float64)
             for shape, float64 in shapes]
    corners = np.array([[[[0, 0, 0], [1, 1, 1]], [[1, 0, 0], [0, 0, 1]]]], np.float64)  # black, white, red, blue
    return cases + [make_case("black/white/red/blue pixels", (corners,))]


def _torch(images):
    return (images - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])


MISTAKES = [
    Mistake("rgb_not_bgr", (lambda x: x * 255.0 - MEAN_BGR,),
            "the channels are still in RGB order",
            "VGG was trained on BGR images: reverse the last axis, tf.reverse(images, axis=[-1])"),
    Mistake("no_mean_subtraction", (lambda x: x[..., ::-1] * 255.0,),
            "the ImageNet mean is not subtracted",
            "subtract the mean pixel (103.939, 116.779, 123.68), given in BGR order"),
    Mistake("no_x255", (lambda x: x[..., ::-1] - MEAN_BGR,),
            "pixels are in [0, 1] when the mean is subtracted: the x255 is missing",
            "VGG expects pixel values 0..255: multiply by 255 before subtracting the mean"),
    Mistake("x255_twice", (lambda x: x[..., ::-1] * 255.0 ** 2 - MEAN_BGR,),
            "pixels are multiplied by 255 twice",
            "multiply by 255 exactly once; the course's images are already floats in [0, 1]"),
    Mistake("mean_wrong_order", (lambda x: x[..., ::-1] * 255.0 - MEAN_BGR[::-1],),
            "the mean is subtracted in RGB order from BGR pixels",
            "(103.939, 116.779, 123.68) is already B, G, R: subtract it as it is, after reversing"),
    Mistake("mean_added", (lambda x: x[..., ::-1] * 255.0 + MEAN_BGR,),
            "the mean is added instead of subtracted", "subtract it: x - mean"),
    Mistake("torch_normalization", (_torch, lambda x: _torch(x)[..., ::-1]),
            "this is the PyTorch/torchvision normalization ((x - mean) / std in [0, 1])",
            "Keras's VGG is the Caffe model: x255, BGR, minus (103.939, 116.779, 123.68), no std"),
    Mistake("reversed_wrong_axis", (lambda x: x[:, :, ::-1] * 255.0 - MEAN_BGR,
                                    lambda x: x[:, ::-1] * 255.0 - MEAN_BGR),
            "the image is flipped instead of its colour channels",
            "reverse the channel axis, axis=-1 (or 3), not the height or width axis"),
]

CAFFE_PREPROCESS = Exercise(
    name="caffe_preprocess", reference=caffe_reference, cases=_cases, mistakes=MISTAKES,
    hint="caffe_preprocess(x) = reverse(x, axis=-1) * 255 - (103.939, 116.779, 123.68)")
