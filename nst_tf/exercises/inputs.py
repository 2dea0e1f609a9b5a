"""Random inputs for the checkers: the student's function gets TF tensors (float32 or float64),
the reference gets the very same numbers in float64 NumPy."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .core import Case


def for_student(value, float64: bool, numpy: bool = False):
    """Arrays (also inside dicts) as float32/float64 tensors, or NumPy arrays when ``numpy``."""
    if isinstance(value, dict):
        return {key: for_student(item, float64, numpy) for key, item in value.items()}
    if not isinstance(value, np.ndarray):
        return value
    array = value.astype(np.float64 if float64 else np.float32)
    return array if numpy else tf.constant(array)


def for_reference(value, float64: bool):
    """The same numbers in float64 (a float32 input is rounded to float32 first, as the student's is)."""
    if isinstance(value, dict):
        return {key: for_reference(item, float64) for key, item in value.items()}
    if not isinstance(value, np.ndarray):
        return value
    return value.astype(np.float64) if float64 else value.astype(np.float32).astype(np.float64)


def shape_tags(shape) -> set:
    tags = {"batch>1"} if shape[0] > 1 else set()
    return tags | ({"non-square"} if len(shape) == 4 and shape[1] != shape[2] else set())


def make_case(what: str, args: tuple, float64: bool = False, numpy: bool = False,
              tags=(), shape=None) -> Case:
    """A Case for ``fn(*args)``; ``shape`` (default: the first argument's) gives the label and tags."""
    shape = shape if shape is not None else np.shape(args[0])
    dtype = "float64" if float64 else "float32"
    return Case(label=f"{dtype} {what} {list(shape)}",
                args=tuple(for_student(a, float64, numpy) for a in args),
                ref_args=tuple(for_reference(a, float64) for a in args),
                tags=frozenset(shape_tags(shape) | set(tags) | ({"float64"} if float64 else set())))


def np_gram(features: np.ndarray) -> np.ndarray:
    """The course's Gram matrix in float64: [B, H, W, C] -> [B, C, C], averaged over positions."""
    _, height, width, _ = features.shape
    return np.einsum("bhwc,bhwd->bcd", features, features) / (height * width)


def weights_or_equal(targets: dict, layer_weights) -> dict:
    """The given {layer: weight}, or 1/L for each of the L layers when it is None."""
    if layer_weights is None:
        return {name: 1.0 / len(targets) for name in targets}
    return layer_weights
