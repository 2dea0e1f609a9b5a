"""Checks on numbers shared by ``arguments`` (``stylize``'s arguments) and ``controls`` (masks).

A small module of its own so that neither imports the other: ``arguments`` imports ``controls``,
and ``controls`` needs the same check on its mask weights.
"""

from __future__ import annotations

import math

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
