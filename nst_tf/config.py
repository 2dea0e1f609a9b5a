"""Fast/full mode, seeding, the environment report and the course's install spec.

Taught in notebooks/00_welcome_and_setup.

Fast mode exists so that every lecture runs top to bottom in well under two minutes on a 2-core
CPU: tiny images and a handful of steps. Full mode is what a student runs on a Colab GPU and what
``make figures`` publishes. ``NST_FAST=1`` or ``0`` chooses; unset, the hardware chooses: full mode
with a GPU, fast mode without one (a CPU would need most of an hour per full-mode lecture).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, replace

import numpy as np

from . import __version__

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

# Where the course lives on GitHub: the Colab badges, the notebooks' install line and the CI badge
# use it. Before publishing, set it to the real "owner/name" and tag the release v{__version__}
# (see README, "Publishing"); tests/test_notebooks_hygiene.py checks the notebooks agree.
COURSE_REPO = "nst-course/nst-course"
COURSE_REF = f"v{__version__}"  # the release tag the notebooks install: never a moving branch
# The one pip spec every notebook installs on Colab: the package at the release tag, with the
# extras the lectures use (TF Hub, LiteRT, widgets). TensorFlow itself is a range, so Colab's stays.
INSTALL_SPEC = f"nst-course[notebooks] @ git+https://github.com/{COURSE_REPO}@{COURSE_REF}"


def fast_from_environment() -> bool | None:
    """``NST_FAST`` as a bool, or None when it is not set."""
    value = os.environ.get("NST_FAST", "").strip().lower()
    if value and value not in _TRUE | _FALSE:
        raise ValueError(f"NST_FAST must be 1 or 0 (or true/false), got {os.environ['NST_FAST']!r}")
    return (value in _TRUE) if value else None


def mode_and_reason(fast: bool | None = None) -> tuple[bool, str]:
    """(fast, why): ``fast`` if given, else ``NST_FAST`` if set, else fast exactly when there is no GPU."""
    if fast is not None:
        return bool(fast), "FAST was set in the parameters cell"
    from_environment = fast_from_environment()
    if from_environment is not None:
        return from_environment, f"NST_FAST={os.environ['NST_FAST'].strip()}"
    if has_gpu():
        return False, "a GPU is present and NST_FAST is not set"
    return True, "no GPU found and NST_FAST is not set"


def fast_mode() -> bool:
    """Fast mode? ``NST_FAST`` when set (read at call time, so tests can flip it), else no GPU."""
    return mode_and_reason()[0]


@dataclass(frozen=True)
class ModeSettings:
    """Sizes and step counts for one mode; lectures derive their own numbers from these."""

    image_size: int  # long side of the optimized image, px
    num_steps: int
    preview_size: int  # size for grids of many small runs (sweeps, galleries)
    preview_steps: int

    def limited(self, image_size: int, num_steps: int) -> "ModeSettings":
        """These settings with a smaller ``image_size``/``num_steps`` (toy-size runs of full mode in
        CI): previews never exceed the main run, so a 64 px full-mode run stays 64 px everywhere."""
        return replace(self, image_size=image_size, num_steps=num_steps,
                       preview_size=min(self.preview_size, image_size),
                       preview_steps=min(self.preview_steps, num_steps))


FAST_SETTINGS = ModeSettings(image_size=128, num_steps=30, preview_size=64, preview_steps=10)
FULL_SETTINGS = ModeSettings(image_size=512, num_steps=500, preview_size=256, preview_steps=200)


def settings(fast: bool | None = None) -> ModeSettings:
    """The settings of fast or full mode (``fast=None``: ``NST_FAST``, else the hardware decides)."""
    return FAST_SETTINGS if (fast_mode() if fast is None else fast) else FULL_SETTINGS


class WeightsError(ValueError):
    """Weights that cannot be found or loaded; the message says which file and what to do.
    (Here, not in ``features``, so that ``default_weights`` needs no TensorFlow.)"""


def default_weights(network: str) -> str:
    """What ``weights=None`` means: "imagenet" for SqueezeNet, ``default_vgg_weights()`` for VGG;
    ``WeightsError`` for an NST_VGG_WEIGHTS that is not 'imagenet', 'random' or a file."""
    if network == "squeezenet":
        return "imagenet"
    weights = default_vgg_weights()
    if weights not in ("imagenet", "random") and not os.path.isfile(weights):
        raise WeightsError(f"the environment variable NST_VGG_WEIGHTS={weights!r} is not 'imagenet', "
                           f"'random' or an existing weights file")
    return weights


def default_vgg_weights() -> str:
    """What ``weights=None`` means for VGG: ``NST_VGG_WEIGHTS`` or ``"imagenet"``.

    Offline machines without the Keras ImageNet file set ``NST_VGG_WEIGHTS=random`` to run the
    pipeline with untrained features (results are then *not* style transfer).
    """
    return os.environ.get("NST_VGG_WEIGHTS", "").strip() or "imagenet"


def seed_everything(seed: int, *, announce: bool = True) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow's kernels deterministic, so a rerun
    draws the same numbers and paints the same image, bit for bit (same machine, same versions).

    Deterministic kernels (``tf.config.experimental.enable_op_determinism``) stay on for the rest
    of the process; the first call says so in one line (``announce=False``: silent, and the next
    announcing call says it). On a GPU, cuDNN then uses its deterministic convolution algorithms,
    expected to be a little slower; on the CPU we measured bit-identical images with and without
    it and no slowdown beyond noise (SqueezeNet, 128 px, 20 Adam steps).
    Ops with no deterministic GPU kernel raise UnimplementedError (fused batch-norm, nearest-resize and
    crop_and_resize backprop, bincount, sparse-dense matmul, adjust_contrast); the optimization path
    (conv2d, max/avg pool and their gradients, resize forward, einsum, reductions) uses none of them.
    Except under XLA: no deterministic XLA max-pool gradient (CPU too), so ``make_objective`` then
    drops ``jit_compile`` for max-pooling networks, with a warning.
    """
    import keras
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # also seeds tf.random
    tf.config.experimental.enable_op_determinism()
    if announce and not getattr(seed_everything, "announced", False):  # once per process, not per cell
        seed_everything.announced = True
        print(f"seeded {seed}; deterministic kernels on "
              "(reruns give identical images, GPU kernels a little slower)")


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
    fast, why = mode_and_reason()
    mode = f"{'fast' if fast else 'full'} ({why})"
    return (f"TensorFlow {tf.__version__}, Keras {keras.__version__}, NumPy {np.__version__}; "
            f"{device}; mode: {mode}; VGG weights: {default_vgg_weights()}")
