"""Optimizer schedules: the settings ``stylize`` fills in for optimizer arguments left as None.

Taught in notebooks/06_speed_and_scale (time to quality); measured by benchmarks/bench_quality.py
(issue 14). ``arguments.validated`` applies them; this module imports nothing from ``nst_tf``.
"""

from __future__ import annotations

import numpy as np

# "classic" (the default):
# Adam 0.02, x0.96 every 100 steps, one scale: the TF tutorial's optimizer plus a staircase decay.
# "fast": time to a given loss, not time per step, decides: L-BFGS, and from ``COARSE_FROM`` px
# most of its evaluations at half the side (a quarter of the pixels) before the full size; Adam,
# when asked for (by name or by giving one of its settings), starts at 0.05 and falls smoothly to
# a tenth over the run.
SCHEDULES = {
    "classic": dict(optimizer="adam", learning_rate=0.02, lr_decay=0.96, lr_decay_every=100, scales=None),
    "fast": dict(optimizer="lbfgs", learning_rate=0.05, lr_decay=0.1, lr_decay_every=None, scales="auto"),
}
COARSE_FROM = 384  # long sides from here on start at half the side ("fast", L-BFGS)
# The share of num_steps at half the side: at equal work, 140 + 65 L-BFGS evaluations (0.68)
# beat 200 + 50 (0.8) and 240 + 40 (0.86) at 512 px (notebooks/06).
COARSE_SHARE = 0.7


def auto_scales(long_side: int, num_steps):
    """The "fast" schedule's scales and steps: ``([long_side // 2, long_side], [coarse, fine])``
    with ``COARSE_SHARE`` of an integer ``num_steps`` at half the side; one scale (``None``)
    below ``COARSE_FROM`` px, with fewer than 2 steps, or for a list of steps."""
    if long_side < COARSE_FROM or isinstance(num_steps, (list, tuple)) or isinstance(num_steps, bool) \
            or not isinstance(num_steps, (int, np.integer)) or num_steps < 2:
        return None, num_steps
    coarse = min(int(num_steps) - 1, max(1, round(COARSE_SHARE * int(num_steps))))
    return [long_side // 2, long_side], [coarse, int(num_steps) - coarse]
