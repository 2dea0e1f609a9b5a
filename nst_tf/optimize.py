"""Optimizing the pixels: one compiled loss-and-update step, and the loop around it.

Taught in notebooks/04_optimizing_pixels; the full recipe in notebooks/05.

``stylize`` is the whole method of Gatys et al.: targets from the content and style images, an
image variable initialised from the content (or noise, or the style), and Adam steps on
content_weight * content + style_weight * style + tv_weight * TV, with pixels clipped to [0, 1].
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from . import config
from .features import DEFAULT_LAYERS, FeatureExtractor
from .losses import content_loss, gram_matrix, style_layer_losses, total_variation_loss

# Loss weights per network, in the course's convention (losses are means; see losses.py).
# VGG: the TF tutorial's 1e4 / 1e-2 are already in this convention; its tv_weight of 30 on a
# *summed* TV at 512x384x3 is 30 * 589,824 ~ 1.8e7 here (worked out in notebooks/03).
# SqueezeNet: tuned on the course images at 256-512 px (notebooks/05).
NETWORK_DEFAULTS = {
    "vgg19": dict(content_weight=1e4, style_weight=1e-2, tv_weight=1.8e7),
    "vgg16": dict(content_weight=1e4, style_weight=1e-2, tv_weight=1.8e7),
    "squeezenet": dict(content_weight=1.0, style_weight=1e-2, tv_weight=5e2),
}
INITS = ("content", "noise", "style")
OPTIMIZERS = ("adam",)


@dataclass
class StylizeResult:
    """What ``stylize`` returns: the image, the per-step losses and how it was made."""

    image: tf.Tensor  # [1, H, W, 3] float32 in [0, 1]
    history: dict = field(default_factory=dict)  # step, total, content, style, tv, seconds; style_layers
    settings: dict = field(default_factory=dict)
    feature_weights: str = "imagenet"  # "imagenet", "random" or a weights file path
    trace_count: int = 0  # how often the step was traced: 1 means compiled once

    @property
    def untrained(self) -> bool:
        """True when made with random features: *not* a style-transfer result."""
        return self.feature_weights == "random"

    @property
    def final(self) -> dict[str, float]:
        return {k: self.history[k][-1] for k in ("total", "content", "style", "tv")}


def _as_image(image, name: str) -> tf.Tensor:
    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        from .images import load_image

        image = load_image(image)
    image = tf.convert_to_tensor(image, tf.float32)
    if image.shape.rank == 3:
        image = image[tf.newaxis]
    if image.shape.rank != 4 or image.shape[0] != 1 or image.shape[-1] != 3:
        raise ValueError(f"{name} must be one RGB image [1, H, W, 3], got shape {image.shape}")
    return image


def _check_weight(name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def initial_image(content_image: tf.Tensor, style_image: tf.Tensor, init: str, seed: int) -> tf.Tensor:
    """The starting pixels: the content photo, seeded uniform noise, or the style resized."""
    if init == "content":
        return tf.identity(content_image)
    if init == "noise":
        return tf.random.stateless_uniform(tf.shape(content_image), seed=[seed, 0], dtype=tf.float32)
    if init == "style":
        return tf.image.resize(style_image, tf.shape(content_image)[1:3], antialias=True)
    raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")


def make_step(extractor: FeatureExtractor, image: tf.Variable, optimizer, *, content_targets,
              style_targets, content_weight: float, style_weight: float, tv_weight: float,
              tv_kind: str = "l1", style_layer_weights=None):
    """Build the compiled step: losses, gradient, one optimizer update, clip to [0, 1].

    It takes no arguments (everything it needs is captured), so ``tf.function`` traces it once
    and every later call runs the same graph. Returns the losses *before* the update.
    """
    weights = style_layer_weights or {name: 1.0 / len(style_targets) for name in style_targets}
    content_weight, style_weight, tv_weight = (tf.constant(w, tf.float32)
                                               for w in (content_weight, style_weight, tv_weight))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            features = extractor(image)
            c_loss = content_loss({n: features[n] for n in content_targets}, content_targets)
            per_layer = style_layer_losses(features, style_targets)
            s_loss = tf.add_n([weights[n] * per_layer[n] for n in per_layer])
            tv = total_variation_loss(image, tv_kind)
            total = content_weight * c_loss + style_weight * s_loss + tv_weight * tv
        gradient = tape.gradient(total, image)
        optimizer.apply_gradients([(gradient, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return {"total": total, "content": c_loss, "style": s_loss, "tv": tv, "style_layers": per_layer}

    return step


def stylize(content_image, style_image, *, num_steps: int | None = None, network: str = "vgg19",
            weights=None, pooling: str = "max", content_weight=None, style_weight=None,
            tv_weight=None, tv_kind: str = "l1", content_layers=None, style_layers=None,
            style_layer_weights=None, init: str = "content", optimizer: str = "adam",
            learning_rate: float = 0.02, lr_decay: float = 0.96, lr_decay_every: int = 100,
            seed: int = 0, callback=None, callback_every: int | None = None, progress: bool = True,
            extractor: FeatureExtractor | None = None) -> StylizeResult:
    """Neural style transfer by optimizing pixels (Gatys et al. 2016).

    ``content_image``/``style_image``: [1, H, W, 3] in [0, 1] (or file paths); they may differ in
    size; the result has the content's size. Weights left as ``None`` take the defaults of
    ``network`` (``NETWORK_DEFAULTS``), layers those of ``DEFAULT_LAYERS``. ``lr_decay``
    multiplies the learning rate every ``lr_decay_every`` steps. ``callback(step, image, losses)``
    runs every ``callback_every`` steps and after the last; returning ``False`` stops early.
    Pass a prebuilt ``extractor`` to reuse one across many runs (sweeps).

    Taught in notebooks/04_optimizing_pixels and notebooks/05_total_variation_and_full_recipe.
    """
    # Validate everything before any model is built or any step is taken.
    num_steps = config.settings().num_steps if num_steps is None else num_steps
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    network = extractor.network if extractor is not None else network
    if network not in NETWORK_DEFAULTS:
        raise ValueError(f"unknown network {network!r}; choose one of {', '.join(NETWORK_DEFAULTS)}")
    defaults = NETWORK_DEFAULTS[network]
    content_weight = _check_weight("content_weight", defaults["content_weight"] if content_weight is None else content_weight)
    style_weight = _check_weight("style_weight", defaults["style_weight"] if style_weight is None else style_weight)
    tv_weight = _check_weight("tv_weight", defaults["tv_weight"] if tv_weight is None else tv_weight)
    learning_rate = _check_weight("learning_rate", learning_rate)
    if learning_rate == 0:
        raise ValueError("learning_rate must be > 0")
    lr_decay = _check_weight("lr_decay", lr_decay)
    if not 0 < lr_decay <= 1:
        raise ValueError(f"lr_decay must be in (0, 1], got {lr_decay}")
    if tv_kind not in ("l1", "l2"):
        raise ValueError(f"tv_kind must be 'l1' or 'l2', got {tv_kind!r}")
    if callback_every is not None and (not isinstance(callback_every, int) or callback_every < 1):
        raise ValueError(f"callback_every must be an integer >= 1, got {callback_every!r}")
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
        style_layer_weights = {n: _check_weight(f"style_layer_weights[{n!r}]", w)
                               for n, w in style_layer_weights.items()}
    content_image = _as_image(content_image, "content_image")
    style_image = _as_image(style_image, "style_image")

    if extractor is None:
        extractor = FeatureExtractor(style_layers, content_layers, network=network,
                                     pooling=pooling, weights=weights)
    else:
        absent = set(style_layers + content_layers) - set(extractor.layers)
        if absent:
            raise ValueError(f"the extractor does not compute layer(s) {sorted(absent)}")

    content_features = extractor(content_image)
    content_targets = {n: content_features[n] for n in content_layers}
    style_features = extractor(style_image)
    style_targets = {n: gram_matrix(style_features[n]) for n in style_layers}

    image = tf.Variable(initial_image(content_image, style_image, init, seed), name="image")
    schedule = keras_schedule(learning_rate, lr_decay, lr_decay_every)
    import keras

    # A fresh optimizer per run: a Keras 3 optimizer refuses variables it was not built with.
    adam = keras.optimizers.Adam(learning_rate=schedule, beta_1=0.99, epsilon=1e-1)
    adam.build([image])  # create the slots now, so the first call traces only once
    step = make_step(extractor, image, adam, content_targets=content_targets,
                     style_targets=style_targets, content_weight=content_weight,
                     style_weight=style_weight, tv_weight=tv_weight, tv_kind=tv_kind,
                     style_layer_weights=style_layer_weights)

    history = {k: [] for k in ("step", "total", "content", "style", "tv", "seconds")}
    history["style_layers"] = {n: [] for n in style_layers}
    bar = _progress_bar(num_steps, progress)
    start = time.perf_counter()
    for i in range(1, num_steps + 1):
        losses = step()
        history["step"].append(i)
        for key in ("total", "content", "style", "tv"):
            history[key].append(float(losses[key]))
        for name, value in losses["style_layers"].items():
            history["style_layers"][name].append(float(value))
        history["seconds"].append(time.perf_counter() - start)
        if not math.isfinite(history["total"][-1]):
            bar.close()
            raise FloatingPointError(f"the loss became {history['total'][-1]} at step {i}; "
                                     "lower learning_rate or the loss weights")
        bar.update(1)
        if i % 10 == 0 or i == num_steps:
            bar.set_postfix(loss=f"{history['total'][-1]:.4g}", refresh=False)
        if callback is not None and ((callback_every and i % callback_every == 0) or i == num_steps):
            if callback(i, tf.identity(image), {k: history[k][-1] for k in ("total", "content", "style", "tv")}) is False:
                break
    bar.close()
    settings = dict(network=extractor.network, pooling=extractor.pooling, num_steps=num_steps,
                    content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
                    tv_kind=tv_kind, content_layers=content_layers, style_layers=style_layers,
                    style_layer_weights=style_layer_weights, init=init, optimizer=optimizer,
                    learning_rate=learning_rate, lr_decay=lr_decay, lr_decay_every=lr_decay_every,
                    seed=seed)
    return StylizeResult(image=tf.convert_to_tensor(image), history=history, settings=settings,
                         feature_weights=extractor.weights,
                         trace_count=step.experimental_get_tracing_count())


def keras_schedule(learning_rate: float, lr_decay: float, every: int):
    """``learning_rate * lr_decay ** (step // every)``: the staircase decay of the TF tutorial era."""
    if lr_decay == 1.0:
        return learning_rate
    import keras

    return keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps=every,
                                                       decay_rate=lr_decay, staircase=True)


def _progress_bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    # mininterval keeps notebook output small; the bar shows rate and ETA.
    return tqdm(total=total, disable=not enabled, desc="stylize", unit="step", mininterval=1.0,
                leave=True)
