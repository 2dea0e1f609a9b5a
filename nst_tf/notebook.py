"""One call that prepares a lecture: versions, GPU, mode and why, seeds, the untrained banner.

Taught in notebooks/00_welcome_and_setup; every lecture calls it right after its parameters cell:

>>> NB = nst_tf.notebook_setup(FAST, SEED, IMAGE_SIZE, NUM_STEPS)

It prints a few lines a student can paste into a question and returns what the lecture needs
(``NotebookSetup``). Nothing here is specific to one lecture.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from . import config
from .config import ModeSettings


@dataclass(frozen=True)
class NotebookSetup:
    """What a lecture needs after setup; the names match the lectures' own variables."""

    fast: bool
    why: str  # why this mode: a parameter, NST_FAST, or the hardware
    seed: int
    image_size: int  # long side of the main runs, px
    num_steps: int
    mode: ModeSettings  # the mode's settings, limited to image_size/num_steps (toy-size full mode)
    vgg_weights: str  # "imagenet", "random" or a file
    gpu: str | None  # "Tesla T4 (compute capability 7.5)", or None on a CPU
    precision: str  # what stylize(precision="auto") chooses here

    @property
    def untrained(self) -> bool:
        """VGG features are untrained here: VGG images are pipeline checks, not style transfer."""
        return self.vgg_weights == "random"

    @property
    def banner(self) -> str | None:
        """The red banner every untrained-VGG figure carries (``show_images(banner=...)``), or None."""
        from .plotting import UNTRAINED_BANNER

        return UNTRAINED_BANNER if self.untrained else None

    @property
    def full_quality(self) -> bool:
        """Full mode at its real size, step count and weights: what an assert about the *look* of a
        result needs. False in fast mode, in toy-size full-mode runs (CI) and with untrained VGG."""
        full = config.FULL_SETTINGS
        return (not self.fast and not self.untrained and self.image_size >= full.image_size
                and self.num_steps >= full.num_steps)


def gpu_description() -> str | None:
    """The first GPU's name and compute capability, or None without a GPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    details = tf.config.experimental.get_device_details(gpus[0])
    name = details.get("device_name", gpus[0].name)
    capability = details.get("compute_capability")
    more = f" and {len(gpus) - 1} more" if len(gpus) > 1 else ""
    return f"{name} (compute capability {capability[0]}.{capability[1]}){more}" if capability else name + more


def notebook_setup(fast: bool | None = None, seed: int = 0, image_size: int | None = None,
                   num_steps: int | None = None, *, show: bool = True) -> NotebookSetup:
    """Set up a lecture from its parameters cell and print what a student should know.

    ``fast=None``: ``NST_FAST`` when set, else fast mode exactly when there is no GPU.
    ``image_size``/``num_steps`` ``None``: the mode's defaults; smaller values (CI runs full mode at
    toy size) also shrink the mode's preview sizes. Seeds Python, NumPy and TensorFlow
    (``config.seed_everything``). ``show=False`` prints nothing (tests).
    """
    from .precision import resolve_precision

    fast, why = config.mode_and_reason(fast)
    mode = config.settings(fast)
    image_size, num_steps = int(image_size or mode.image_size), int(num_steps or mode.num_steps)
    if image_size < 32 or num_steps < 1:
        raise ValueError(f"IMAGE_SIZE must be >= 32 and NUM_STEPS >= 1, got {image_size} and {num_steps}")
    setup = NotebookSetup(fast=fast, why=why, seed=seed, image_size=image_size, num_steps=num_steps,
                          mode=mode.limited(image_size, num_steps),
                          vgg_weights=config.default_vgg_weights(), gpu=gpu_description(),
                          precision=resolve_precision(None))
    if show:
        _report(setup)
    config.seed_everything(seed, announce=show)
    if show and setup.untrained:
        _show_untrained_warning()
    return setup


def _report(setup: NotebookSetup) -> None:
    import keras
    import numpy as np
    import tensorflow as tf

    from . import __version__

    print(f"nst_tf {__version__}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"NumPy {np.__version__}, Python {sys.version.split()[0]}")
    if setup.gpu:
        print(f"GPU: {setup.gpu}; precision {setup.precision}")
    else:
        print(f"no GPU: runs on the CPU, precision {setup.precision} "
              "(on Colab: Runtime > Change runtime type > T4 GPU)")
    other = "FAST = False (full mode: slow without a GPU)" if setup.fast else "FAST = True (fast mode)"
    print(f"{'fast' if setup.fast else 'full'} mode, {setup.image_size} px, {setup.num_steps} steps: "
          f"{setup.why}. To change it, set {other} in the parameters cell or NST_FAST.")
    print(f"VGG weights: {setup.vgg_weights}")


def _show_untrained_warning() -> None:
    text = ("**⚠ Untrained VGG features.** No ImageNet VGG weights on this machine "
            "(`NST_VGG_WEIGHTS=random`): VGG images below are pipeline checks, **not** style transfer, "
            "and carry a red banner. Stylized *results* use the real pretrained SqueezeNet instead.")
    try:
        from IPython.display import Markdown, display

        display(Markdown("> " + text))
    except ImportError:
        print(text.replace("**", "").replace("`", ""))
