"""Checks on numbers shared by ``arguments`` (``stylize``'s arguments), ``controls`` (masks) and
the command line.

A small module of its own so that neither ``arguments`` nor ``controls`` imports the other
(``arguments`` imports ``controls``, which needs the same check on its mask weights), and without
TensorFlow, so that the command line runs the same checks before its seconds of start-up.
"""

from __future__ import annotations

import math

import numpy as np

# Losses, weights and pixels are float32 in the compiled step: a weight above this is inf there.
FLOAT32_MAX = 3.4028234663852886e38


def check_weight(name: str, value) -> float:
    """``value`` as a float, or ``ValueError`` unless it is a finite number >= 0 that float32 holds."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    if value > FLOAT32_MAX:
        raise ValueError(f"{name} {value:g} is too large: the losses are float32, whose largest value is "
                         f"{FLOAT32_MAX:.3g} (weights that large also overflow the loss to inf)")
    return value


def check_learning_rate(value) -> float:
    """``value`` as a float, or ``ValueError`` unless it is in (0, 1]."""
    value = check_weight("learning_rate", value)
    if value == 0:
        raise ValueError("learning_rate must be > 0")
    if value > 1:  # Adam's step is ~learning_rate per pixel, whatever the gradient's size
        raise ValueError(f"learning_rate {value:g} is above 1: Adam moves each pixel by about "
                         f"learning_rate per step and pixels are in [0, 1], so every pixel would jump to "
                         f"0 or 1 (a few saturated colours); typical values are 0.005-0.05")
    return value


def check_scales(scales):
    """Coarse-to-fine long sides as a list (or None), or ``ValueError``."""
    if scales is None:
        return None
    scales = list(scales)
    if not scales or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 32 for s in scales):
        raise ValueError(f"scales must be long sides in px, each >= 32, got {scales!r}")
    if scales != sorted(scales):
        raise ValueError(f"scales must grow from coarse to fine, got {scales!r}")
    return scales
