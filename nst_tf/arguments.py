"""``stylize``'s arguments, checked before any work: defaults filled in, mistakes as ``ValueError``.

Taught in notebooks/05_total_variation_and_full_recipe (the weights per network) and used by
``optimize.stylize``, which re-exports ``NETWORK_DEFAULTS``, ``INITS`` and ``OPTIMIZERS``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from . import config, controls
from .features import DEFAULT_LAYERS
from .precision import resolve_precision
from .recipes import NETWORK_RECIPES, RECIPES
from .schedules import (COARSE_FROM, COARSE_SHARE, DEFAULT_SCHEDULE, SCHEDULES, auto_scales,  # noqa: F401 (re-exported)
                        chosen_optimizer)
from .validation import check_learning_rate, check_scales, check_weight  # noqa: F401 (check_weight re-exported)

# Loss weights per network, in the course's convention (losses are means; see losses.py), from
# the network's default recipe (recipes.py): VGG, the TF tutorial's objective exactly (its TV of 30
# on a sum is 30 * 3 * 384 * 512 here, at its 512 px working size); SqueezeNet, tuned by the course.
NETWORK_DEFAULTS = {network: {key: getattr(RECIPES[name], key)
                              for key in ("content_weight", "style_weight", "tv_weight")}
                    for network, name in NETWORK_RECIPES.items()}
INITS = ("content", "noise", "style")
OPTIMIZERS = ("adam", "lbfgs")

@dataclass
class Settings:
    """The checked arguments of one ``stylize`` run (images as [1, H, W, 3] float32 tensors)."""

    content_image: tf.Tensor
    styles: list  # one or more style images
    network: str
    precision: str
    num_steps: object  # as given (int or one per scale); steps_per_scale is the checked list
    steps_per_scale: list
    sizes: list  # the long side of each scale; without scales, the content's own
    scales: list | None
    content_layers: list
    style_layers: list
    style_layer_weights: dict | None
    content_weight: float
    style_weight: float
    tv_weight: float
    tv_kind: str
    init: str
    optimizer: str
    learning_rate: float
    lr_decay: float
    lr_decay_every: int | None  # None: smoothly by lr_decay over each scale's steps
    schedule: str
    jit_compile: bool
    seed: int
    preserve_color: str | None
    blend: list | None  # normalized style_blend; None with masks
    regions: list | None  # controls.Region per mask
    style_scale: float | None
    strength: float

    def as_dict(self, *, pooling: str, style_sizes: list) -> dict:
        """``StylizeResult.settings``: the arguments as they were used."""
        names = ("num_steps", "content_weight", "style_weight", "tv_weight", "tv_kind", "content_layers",
                 "style_layers", "style_layer_weights", "init", "optimizer", "learning_rate", "lr_decay",
                 "lr_decay_every", "schedule", "precision", "jit_compile", "scales", "seed", "preserve_color")
        regions = self.regions
        return dict(network=self.network, pooling=pooling, **{n: getattr(self, n) for n in names},
                    style_blend=self.blend,
                    mask_styles=[r.style for r in regions] if regions else None,
                    mask_weights=[r.weight for r in regions] if regions else None,
                    style_scale=self.style_scale, strength=self.strength, style_sizes=style_sizes)


def as_image(image, name: str) -> tf.Tensor:
    """One RGB image [1, H, W, 3] float32 from a tensor, an array [(1,) H, W, 3] or a file path."""
    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        from .images import load_image

        image = load_image(image)
    image = tf.convert_to_tensor(image, tf.float32)
    if image.shape.rank == 3:
        image = image[tf.newaxis]
    if image.shape.rank != 4 or image.shape[0] != 1 or image.shape[-1] != 3:
        raise ValueError(f"{name} must be one RGB image [1, H, W, 3], got shape {image.shape}")
    return image


def _steps_per_scale(num_steps, scales) -> list[int]:
    counts = num_steps if isinstance(num_steps, (list, tuple)) else [num_steps] * len(scales)
    if len(counts) != len(scales):
        raise ValueError(f"num_steps has {len(counts)} entries for {len(scales)} scales")
    for n in counts:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"num_steps must be an integer >= 1 (or one per scale), got {num_steps!r}")
    return [int(n) for n in counts]


def _layers(network, extractor, content_layers, style_layers, style_layer_weights):
    default_content, default_style = DEFAULT_LAYERS[network]
    if extractor is not None:
        default_content = extractor.content_layers or default_content
        default_style = extractor.style_layers or default_style
    content_layers = list(content_layers or default_content)
    style_layers = list(style_layers or default_style)
    if style_layer_weights is not None:
        unknown = set(style_layer_weights) - set(style_layers)
        missing = set(style_layers) - set(style_layer_weights)
        if unknown or missing:
            raise ValueError(f"style_layer_weights must have one weight per style layer "
                             f"{style_layers}; unknown {sorted(unknown)}, missing {sorted(missing)}")
        style_layer_weights = {n: check_weight(f"style_layer_weights[{n!r}]", w)
                               for n, w in style_layer_weights.items()}
    return content_layers, style_layers, style_layer_weights


def _style_images(style_image) -> list:
    if not isinstance(style_image, (list, tuple)):
        return [as_image(style_image, "style_image")]
    if not style_image:
        raise ValueError("style_image is an empty list; give at least one style image")
    return [as_image(s, f"style_image[{i}]") for i, s in enumerate(style_image)]


def _style_scale(style_scale, styles, final_long) -> float | None:
    if style_scale is None:
        return None
    style_scale = check_weight("style_scale", style_scale)
    if style_scale == 0:
        raise ValueError("style_scale must be > 0 (0.5 = strokes half as large, 2 = twice as large)")
    for i, s in enumerate(styles):
        short = style_scale * final_long * min(s.shape[1:3]) / max(s.shape[1:3])
        if round(short) < 32:
            raise ValueError(f"style_scale {style_scale} makes style image {i} {round(short)} px on its "
                             f"short side at {final_long} px; at least 32 px are needed")
    return style_scale


def validated(content_image, style_image, *, num_steps, network, content_weight, style_weight, tv_weight,
              tv_kind, content_layers, style_layers, style_layer_weights, init, optimizer, learning_rate,
              lr_decay, lr_decay_every, precision, jit_compile, scales, seed, callback_every, extractor,
              preserve_color, style_blend, masks, mask_styles, mask_weights, style_scale,
              strength, schedule=DEFAULT_SCHEDULE) -> Settings:
    """Check every argument of ``stylize`` (see there) and fill in the defaults (the optimizer's
    from ``schedule``, "fast" unless given); ``ValueError`` names the first mistake. Loads
    image files but builds no model."""
    if num_steps is None:  # a library call is full mode unless NST_FAST=1 asks otherwise
        num_steps = config.settings(fast=bool(config.fast_from_environment())).num_steps
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    given = dict(optimizer=chosen_optimizer(schedule, optimizer, learning_rate, lr_decay, lr_decay_every),
                 learning_rate=learning_rate, lr_decay=lr_decay, lr_decay_every=lr_decay_every, scales=scales)
    optimizer, learning_rate, lr_decay, lr_decay_every, scales = (
        SCHEDULES[schedule][k] if v is None else v for k, v in given.items())
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    network = extractor.network if extractor is not None else network
    if network not in NETWORK_DEFAULTS:
        raise ValueError(f"unknown network {network!r}; choose one of {', '.join(NETWORK_DEFAULTS)}")
    weights = {name: check_weight(name, NETWORK_DEFAULTS[network][name] if value is None else value)
               for name, value in (("content_weight", content_weight), ("style_weight", style_weight),
                                   ("tv_weight", tv_weight))}
    learning_rate = check_learning_rate(learning_rate)
    lr_decay = check_weight("lr_decay", lr_decay)
    if not 0 < lr_decay <= 1:
        raise ValueError(f"lr_decay must be in (0, 1], got {lr_decay}")
    if tv_kind not in ("l1", "l2"):
        raise ValueError(f"tv_kind must be 'l1' or 'l2', got {tv_kind!r}")
    if lr_decay_every is not None and (isinstance(lr_decay_every, bool) or not isinstance(lr_decay_every, (int, np.integer))
                                       or lr_decay_every < 1):
        raise ValueError(f"lr_decay_every must be an integer >= 1, or None (smoothly over each scale's "
                         f"steps), got {lr_decay_every!r}")
    if callback_every is not None and (not isinstance(callback_every, int) or callback_every < 1):
        raise ValueError(f"callback_every must be an integer >= 1, got {callback_every!r}")
    precision = extractor.precision if extractor is not None else resolve_precision(precision)
    content_image = as_image(content_image, "content_image")
    if isinstance(scales, str):
        if scales != "auto":
            raise ValueError(f"scales must be long sides in px or 'auto', got {scales!r}")
        # Coarse-to-fine pays with L-BFGS; with Adam the jump to full size cost more than the
        # coarse steps gained (bench_quality.py), so Adam stays at one scale.
        long_side = max(int(content_image.shape[1]), int(content_image.shape[2]))
        scales, per_scale = auto_scales(long_side, num_steps) if optimizer == "lbfgs" else (None, num_steps)
    else:
        per_scale = num_steps
    scales = check_scales(scales)
    content_layers, style_layers, style_layer_weights = _layers(network, extractor, content_layers,
                                                                style_layers, style_layer_weights)
    styles = _style_images(style_image)
    sizes = scales or [max(int(content_image.shape[1]), int(content_image.shape[2]))]
    steps_per_scale = _steps_per_scale(per_scale, sizes)
    if preserve_color not in (None, *controls.PRESERVE_COLOR):
        raise ValueError(f"preserve_color must be None or one of {', '.join(controls.PRESERVE_COLOR)}, "
                         f"got {preserve_color!r}")
    strength = check_weight("strength", strength)
    if strength > 1:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    style_scale = _style_scale(style_scale, styles, sizes[-1])
    regions = controls.check_regions(masks, mask_styles, mask_weights, len(styles), content_image.shape)
    if regions is not None and style_blend is not None:
        raise ValueError("style_blend blends the styles over the whole image; with masks, each region "
                         "names its own style in mask_styles")
    blend = controls.blend_weights(style_blend, len(styles)) if regions is None else None
    return Settings(content_image=content_image, styles=styles, network=network, precision=precision,
                    num_steps=num_steps, steps_per_scale=steps_per_scale, sizes=sizes, scales=scales,
                    content_layers=content_layers, style_layers=style_layers,
                    style_layer_weights=style_layer_weights, **weights, tv_kind=tv_kind, init=init,
                    optimizer=optimizer, learning_rate=learning_rate, lr_decay=lr_decay,
                    lr_decay_every=lr_decay_every, schedule=schedule, jit_compile=jit_compile, seed=seed,
                    preserve_color=preserve_color, blend=blend, regions=regions,
                    style_scale=style_scale, strength=strength)


def check_size_fits(path, long_side: int, *, network: str, precision, layers=(), optimizer: str | None = None) -> None:
    """The memory check (``resources.check_memory``) for the image file ``path`` scaled to
    ``long_side`` px, from its header alone: before it is decoded and resized, so that a size
    that cannot fit (``--image-size 100000``) is refused with the size that would, instead of
    running out of memory in the resize. ``layers``: the loss layers (default: the network's).
    Raises ``resources.ResourceError`` (a ``ValueError``); files it cannot read are left to
    ``load_image``, which says why. ``optimizer``: the run's (L-BFGS keeps more copies of the image;
    by default the default run's, as in ``check_memory``)."""
    from .features import canonical_layer, layer_names
    from .images import ImageError, image_dimensions
    from .resources import check_memory

    try:
        width, height = image_dimensions(path)
    except ImageError:
        return
    factor = long_side / max(width, height)
    names = [canonical_layer(n, network) for n in (layers or sum(DEFAULT_LAYERS[network], []))]
    order = layer_names(network)
    check_memory(network, max(1, round(height * factor)), max(1, round(width * factor)),
                 max(names, key=order.index), resolve_precision(precision), optimizer=optimizer)
