"""Fast/full mode, seeding and the environment report.

Taught in notebooks/00_welcome_and_setup.

Fast mode (``NST_FAST=1``) exists so that every lecture runs top to bottom in well under two
minutes on a 2-core CPU: tiny images and a handful of steps. Full mode (the default) is what a
student runs on a Colab GPU and what ``make figures`` publishes.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np

_TRUE = {"1", "true", "yes", "on"}

# Where the course lives on GitHub: the Colab badges and the notebooks' pip install use it.
COURSE_REPO = "nst-course/nst-course"
COURSE_REF = "main"  # a tag or commit once the course is released


def fast_mode() -> bool:
    """True when ``NST_FAST`` is set to 1/true/yes/on (read at call time, so tests can flip it)."""
    return os.environ.get("NST_FAST", "0").strip().lower() in _TRUE


FAST = fast_mode()


@dataclass(frozen=True)
class ModeSettings:
    """Sizes and step counts for one mode; lectures derive their own numbers from these."""

    image_size: int  # long side of the optimized image, px
    num_steps: int
    preview_size: int  # size for grids of many small runs (sweeps, galleries)
    preview_steps: int


FAST_SETTINGS = ModeSettings(image_size=128, num_steps=30, preview_size=64, preview_steps=10)
FULL_SETTINGS = ModeSettings(image_size=512, num_steps=500, preview_size=256, preview_steps=200)


def settings(fast: bool | None = None) -> ModeSettings:
    """The settings of fast or full mode (``fast=None``: read ``NST_FAST``)."""
    return FAST_SETTINGS if (fast_mode() if fast is None else fast) else FULL_SETTINGS


def default_vgg_weights() -> str:
    """What ``weights=None`` means for VGG: ``NST_VGG_WEIGHTS`` or ``"imagenet"``.

    Offline machines without the Keras ImageNet file set ``NST_VGG_WEIGHTS=random`` to run the
    pipeline with untrained features (results are then *not* style transfer).
    """
    return os.environ.get("NST_VGG_WEIGHTS", "").strip() or "imagenet"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow so a rerun draws the same numbers."""
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # also seeds tf.random


def has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def environment_report() -> str:
    """One line a student can paste into a question: versions, device, mode."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = f"GPU: {', '.join(g.name for g in gpus)}" if gpus else (
        "no GPU: runs on the CPU (on Colab: Runtime > Change runtime type > T4 GPU; "
        "on a CPU use network='squeezenet' or fast mode)")
    mode = "fast" if fast_mode() else "full"
    return (f"TensorFlow {tf.__version__}, Keras {keras.__version__}, NumPy {np.__version__}; "
            f"{device}; mode: {mode}; VGG weights: {default_vgg_weights()}")
