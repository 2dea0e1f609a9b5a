"""Optimizing the pixels: the compiled update step, Adam or L-BFGS, and coarse-to-fine.

Taught in notebooks/04_optimizing_pixels (the step, Adam), notebooks/05 (the full recipe) and
notebooks/06_speed_and_scale (L-BFGS, precision, XLA, coarse-to-fine).

``stylize`` is the whole method of Gatys et al.: targets from the content and style images, an
image initialised from the content (or noise, or the style), and steps on
content_weight * content + style_weight * style + tv_weight * TV, with pixels kept in [0, 1].
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from . import config, controls
from .features import DEFAULT_LAYERS, FeatureExtractor
from .lbfgs import lbfgs_minimize
from .losses import gram_matrix
from .objective import make_objective
from .precision import resolve_precision
from .resources import check_memory

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


class _NoRetracingNoise:
    """Each ``stylize`` run compiles its own step on purpose (new targets, new sizes); TF's
    "N out of the last M calls triggered tf.function retracing" warning then fires during
    sweeps and would teach the wrong lesson. Within a run the step is traced once (tested)."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


tf.get_logger().addFilter(_NoRetracingNoise())
OPTIMIZERS = ("adam", "lbfgs")
_KEYS = ("total", "content", "style", "tv")


@dataclass
class StylizeResult:
    """What ``stylize`` returns: the image, the per-step losses and how it was made."""

    image: tf.Tensor  # [1, H, W, 3] float32 in [0, 1]
    history: dict = field(default_factory=dict)  # step, total, content, style, tv, seconds, scale; style_layers
    settings: dict = field(default_factory=dict)
    feature_weights: str = "imagenet"  # "imagenet", "random" or a weights file path
    trace_count: int = 0  # traces of the compiled function per image size: 1 means compiled once

    @property
    def untrained(self) -> bool:
        """True when made with random features: *not* a style-transfer result."""
        return self.feature_weights == "random"

    @property
    def final(self) -> dict[str, float]:
        return {k: self.history[k][-1] for k in _KEYS}


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
              tv_kind: str = "l1", style_layer_weights=None, jit_compile: bool = False, objective=None):
    """Build the compiled Adam step: losses and gradient, one update, clip to [0, 1].

    It takes no arguments (everything it needs is captured), so ``tf.function`` traces it once
    and every later call runs the same graph. Returns the losses *before* the update. With a
    float16 extractor a step whose gradient overflowed is skipped and the loss scale halved.
    """
    if objective is None:
        objective = make_objective(extractor, image.shape, content_targets=content_targets,
                                   style_targets=style_targets, content_weight=content_weight,
                                   style_weight=style_weight, tv_weight=tv_weight, tv_kind=tv_kind,
                                   style_layer_weights=style_layer_weights, jit_compile=jit_compile)
    scale = objective.loss_scale

    @tf.function(jit_compile=jit_compile)
    def step():
        losses, gradient = objective(tf.convert_to_tensor(image))
        if not objective.uses_loss_scale:
            optimizer.apply_gradients([(gradient, image)])
        else:
            finite = tf.reduce_all(tf.math.is_finite(gradient))
            safe = tf.where(finite, gradient, tf.zeros_like(gradient))
            optimizer.apply_gradients([(safe, image)])
            scale.assign(tf.where(finite, scale, scale / 2.0))
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return losses

    step.objective = objective
    return step


def keras_schedule(learning_rate: float, lr_decay: float, every: int):
    """``learning_rate * lr_decay ** (step // every)``: the staircase decay of the TF tutorial."""
    if lr_decay == 1.0:
        return learning_rate
    import keras

    return keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps=every,
                                                       decay_rate=lr_decay, staircase=True)


def _scaled(image: tf.Tensor, long_side: int) -> tf.Tensor:
    height, width = int(image.shape[1]), int(image.shape[2])
    factor = long_side / max(height, width)
    size = (max(1, round(height * factor)), max(1, round(width * factor)))
    return tf.clip_by_value(tf.image.resize(image, size, antialias=True), 0.0, 1.0)


class _Recorder:
    """Collects the history, drives the progress bar and the callback; False means stop."""

    def __init__(self, total_steps, style_layers, progress, callback, callback_every, estimate):
        from tqdm.auto import tqdm

        self.history = {k: [] for k in ("step", *_KEYS, "seconds", "scale")}
        self.history["style_layers"] = {n: [] for n in style_layers}
        self.total_steps, self.callback, self.every = total_steps, callback, callback_every
        self.estimate = estimate and progress
        self.bar = tqdm(total=total_steps, disable=not progress, desc="stylize", unit="step",
                        mininterval=1.0)
        self.start = time.perf_counter()
        self.view = None  # optimized tensor -> the RGB image a callback sees (colour controls)

    def __call__(self, image, losses, scale) -> bool:
        h = self.history
        i = len(h["step"]) + 1
        h["step"].append(i)
        for key in _KEYS:
            h[key].append(float(losses[key]))
        for name, value in losses["style_layers"].items():
            h["style_layers"][name].append(float(value))
        h["seconds"].append(time.perf_counter() - self.start)
        h["scale"].append(scale)
        if not math.isfinite(h["total"][-1]):
            self.bar.close()
            raise FloatingPointError(f"the loss became {h['total'][-1]} at step {i}; "
                                     "lower learning_rate or the loss weights")
        if self.estimate and i == 3 and self.total_steps > 3:  # steps 1-2 include tracing
            per_step = h["seconds"][2] - h["seconds"][1]
            self.bar.write(f"estimate: ~{per_step * self.total_steps:.0f} s for {self.total_steps} "
                           f"steps ({per_step * 1000:.0f} ms per step measured)")
        self.bar.update(1)
        if i % 10 == 0 or i == self.total_steps:
            self.bar.set_postfix(loss=f"{h['total'][-1]:.4g}", refresh=False)
        if self.callback is not None and ((self.every and i % self.every == 0) or i == self.total_steps):
            shown = tf.identity(image) if self.view is None else self.view(image)
            return self.callback(i, shown, {k: h[k][-1] for k in _KEYS}) is not False
        return True


def _validate_steps(num_steps, scales):
    counts = num_steps if isinstance(num_steps, (list, tuple)) else [num_steps] * len(scales)
    if len(counts) != len(scales):
        raise ValueError(f"num_steps has {len(counts)} entries for {len(scales)} scales")
    for n in counts:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"num_steps must be an integer >= 1 (or one per scale), got {num_steps!r}")
    return [int(n) for n in counts]


def stylize(content_image, style_image, *, num_steps=None, network: str = "vgg19",
            weights=None, pooling: str = "max", content_weight=None, style_weight=None,
            tv_weight=None, tv_kind: str = "l1", content_layers=None, style_layers=None,
            style_layer_weights=None, init: str = "content", optimizer: str = "adam",
            learning_rate: float = 0.02, lr_decay: float = 0.96, lr_decay_every: int = 100,
            precision: str | None = "auto", jit_compile: bool = False, scales=None,
            seed: int = 0, callback=None, callback_every: int | None = None, progress: bool = True,
            estimate: bool = True, extractor: FeatureExtractor | None = None,
            preserve_color: str | None = None, style_blend=None, blend_mode: str = "gram",
            masks=None, mask_styles=None, mask_weights=None, style_scale: float | None = None,
            strength: float = 1.0) -> StylizeResult:
    """Neural style transfer by optimizing pixels (Gatys et al. 2016).

    ``content_image``/``style_image``: [1, H, W, 3] in [0, 1] (or file paths); they may differ in
    size; the result has the content's size, or ``scales[-1]`` as its long side. Weights left as
    ``None`` take the defaults of ``network`` (``NETWORK_DEFAULTS``), layers ``DEFAULT_LAYERS``.

    - ``optimizer``: "adam" (``learning_rate`` decayed by ``lr_decay`` every ``lr_decay_every``
      steps) or "lbfgs" (the paper's; ``num_steps`` counts loss evaluations; see ``lbfgs.py``).
    - ``precision``: "float32", "mixed_bfloat16", "mixed_float16" or "auto"/None (the fastest safe
      one for this hardware, ``precision.detect_precision``). ``jit_compile``: XLA.
    - ``scales``: long sides, e.g. (256, 512, 1024): optimize at each size and start the next from
      the upsampled result (Gatys et al. 2017); ``num_steps`` is per scale (int or one per scale).
    - ``callback(step, image, losses)`` runs every ``callback_every`` steps and after the last;
      returning ``False`` stops early. ``estimate`` prints the expected time after 3 steps.
    - Pass a prebuilt ``extractor`` to reuse it across many runs (sweeps).

    Artistic controls (Gatys et al. 2017; notebooks/08_artistic_controls, ``controls.py``):

    - ``preserve_color``: None (the style's colours), "luminance" (optimize one luminance channel,
      YIQ's Y, which the network sees repeated to RGB, with the style's luminance mean/std matched
      to the content's; the result is that Y with the content's chroma I, Q), "histogram" (each
      style image first gets the content's colour mean and covariance, ``controls.match_color``)
      or "luma-swap" (post hoc: the usual result's Y with the content's chroma).
    - ``style_image`` may be a list of images; ``style_blend`` (default equal) gives each a
      weight >= 0, normalized to sum 1. ``blend_mode="gram"`` blends the Gram targets
      (A_l = sum_i w_i A_l^i), ``"loss"`` blends the style losses (sum_i w_i L_style^i).
    - ``masks``: one float [0, 1] array (or mask file) per region, any size with the content's
      aspect ratio; region r is styled with ``mask_styles[r]`` (an index into the style list, or
      None to keep it photographic: no style loss there) and weighted by ``mask_weights[r]``
      (default 1) through guided Gram matrices (``controls.guided_gram_matrix``). Defaults: region
      i gets style i when there are as many masks as styles, else every region gets style 0.
      Pixels outside every mask get no style loss. Not combined with ``style_blend``.
    - ``style_scale``: the style image is resized so that its long side is ``style_scale`` times
      the content's long side (at each scale), i.e. its long side is first set equal to the
      content's and then multiplied by ``style_scale``: 0.5 = strokes half as large (finer
      texture), 2 = twice as large. None keeps the style image's own size (as before).
    - ``strength`` in [0, 1]: every style target is moved towards the content's own Gram
      matrices, A = (1 - strength) * G(content) + strength * A_style (per region with masks).
      0 keeps the photo's statistics (starting from it, nothing changes), 1 (default) is the
      full style, 0.5 half-way in Gram space.

    Before any work, invalid arguments raise ``ValueError`` and a size that cannot fit in memory
    raises ``resources.ResourceError``.

    Taught in notebooks/04_optimizing_pixels and notebooks/06_speed_and_scale.
    """
    if num_steps is None:
        num_steps = config.settings().num_steps
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
    precision = extractor.precision if extractor is not None else resolve_precision(precision)
    if scales is not None:
        scales = list(scales)
        if not scales or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 32 for s in scales):
            raise ValueError(f"scales must be long sides in px, each >= 32, got {scales!r}")
        if scales != sorted(scales):
            raise ValueError(f"scales must grow from coarse to fine, got {scales!r}")
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
    several = isinstance(style_image, (list, tuple))
    if several and not style_image:
        raise ValueError("style_image is an empty list; give at least one style image")
    styles = ([_as_image(s, f"style_image[{i}]") for i, s in enumerate(style_image)] if several
              else [_as_image(style_image, "style_image")])
    sizes = scales or [max(int(content_image.shape[1]), int(content_image.shape[2]))]
    steps_per_scale = _validate_steps(num_steps, sizes)
    if preserve_color not in (None, *controls.PRESERVE_COLOR):
        raise ValueError(f"preserve_color must be None or one of {', '.join(controls.PRESERVE_COLOR)}, "
                         f"got {preserve_color!r}")
    if blend_mode not in controls.BLEND_MODES:
        raise ValueError(f"blend_mode must be one of {', '.join(controls.BLEND_MODES)}, got {blend_mode!r}")
    strength = _check_weight("strength", strength)
    if strength > 1:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    if style_scale is not None:
        style_scale = _check_weight("style_scale", style_scale)
        if style_scale == 0:
            raise ValueError("style_scale must be > 0 (0.5 = strokes half as large, 2 = twice as large)")
        final_long = sizes[-1]
        for i, s in enumerate(styles):
            short = style_scale * final_long * min(s.shape[1:3]) / max(s.shape[1:3])
            if round(short) < 32:
                raise ValueError(f"style_scale {style_scale} makes style image {i} {round(short)} px on its "
                                 f"short side at {final_long} px; at least 32 px are needed")
    regions = controls.check_regions(masks, mask_styles, mask_weights, len(styles), content_image.shape)
    if regions is not None and style_blend is not None:
        raise ValueError("style_blend blends the styles over the whole image; with masks, each region "
                         "names its own style in mask_styles")
    blend = controls.blend_weights(style_blend, len(styles)) if regions is None else None

    if extractor is None:
        extractor = FeatureExtractor(style_layers, content_layers, network=network, pooling=pooling,
                                     weights=weights, precision=precision)
    else:
        absent = set(style_layers + content_layers) - set(extractor.layers)
        if absent:
            raise ValueError(f"the extractor does not compute layer(s) {sorted(absent)}")
    height, width = int(content_image.shape[1]), int(content_image.shape[2])
    factor = sizes[-1] / max(height, width) if scales else 1.0
    check_memory(network, round(height * factor), round(width * factor), extractor.deepest_layer, precision)

    # Colour control before anything else: what the network sees as content and styles.
    luminance = preserve_color == "luminance"
    seen_content = content_image
    if preserve_color == "histogram":
        styles = [controls.match_color(s, content_image) for s in styles]
    elif luminance:
        content_y = controls.to_luminance(content_image)[0]
        seen_content = _grey(content_y)
        styles = [_grey(controls.match_luminance(controls.to_luminance(s)[0], content_y)) for s in styles]

    recorder = _Recorder(sum(steps_per_scale), style_layers, progress, callback, callback_every, estimate)
    image, traces, style_sizes = None, [], []
    for size, steps in zip(sizes, steps_per_scale):
        content = _scaled(seen_content, size) if scales else seen_content
        if style_scale is not None:
            scaled_styles = [_style_at_scale(s, max(content.shape[1:3]), style_scale) for s in styles]
        elif scales:
            scaled_styles = [_scaled(s, max(32, round(max(s.shape[1:3]) * size / sizes[-1]))) for s in styles]
        else:
            scaled_styles = styles
        style_sizes.append([tuple(int(d) for d in s.shape[1:3]) for s in scaled_styles])
        start = (initial_image(content, scaled_styles[0], init, seed) if image is None
                 else tf.image.resize(image, content.shape[1:3], method="bicubic"))
        if luminance and image is None:
            start = start[..., :1]  # the optimized tensor is the luminance channel alone
        content_features = extractor(content)
        terms = controls.style_terms(extractor, scaled_styles, content_features, style_layers, blend,
                                     blend_mode, regions, strength)
        plain = len(terms) == 1 and terms[0].weight == 1.0 and terms[0].masks is None
        if preserve_color in ("luminance", "luma-swap"):
            chroma = controls.to_luminance(_scaled(content_image, size) if scales else content_image)[1]
            recorder.view = functools.partial(_recombine, chroma=chroma, swap=not luminance)
        objective = make_objective(
            extractor, start.shape, content_targets={n: content_features[n] for n in content_layers},
            style_targets=terms[0].targets if plain else None, style_terms=None if plain else terms,
            content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
            tv_kind=tv_kind, style_layer_weights=style_layer_weights, jit_compile=jit_compile,
            image_transform=_grey if luminance else None)
        run = _run_lbfgs if optimizer == "lbfgs" else _run_adam
        image, stopped = run(objective, tf.clip_by_value(start, 0.0, 1.0), steps, recorder, size,
                             learning_rate=learning_rate, lr_decay=lr_decay, lr_decay_every=lr_decay_every,
                             jit_compile=jit_compile)
        traces.append(objective.experimental_get_tracing_count())
        if stopped:
            break
    recorder.bar.close()
    if recorder.view is not None:
        image = recorder.view(image)
    settings = dict(network=extractor.network, pooling=extractor.pooling, num_steps=num_steps,
                    content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
                    tv_kind=tv_kind, content_layers=content_layers, style_layers=style_layers,
                    style_layer_weights=style_layer_weights, init=init, optimizer=optimizer,
                    learning_rate=learning_rate, lr_decay=lr_decay, lr_decay_every=lr_decay_every,
                    precision=precision, jit_compile=jit_compile, scales=scales, seed=seed,
                    preserve_color=preserve_color, style_blend=blend, blend_mode=blend_mode,
                    mask_styles=[r.style for r in regions] if regions else None,
                    mask_weights=[r.weight for r in regions] if regions else None,
                    style_scale=style_scale, strength=strength, style_sizes=style_sizes)
    return StylizeResult(image=tf.convert_to_tensor(image), history=recorder.history, settings=settings,
                         feature_weights=extractor.weights, trace_count=max(traces))


def _grey(luminance: tf.Tensor) -> tf.Tensor:
    """One luminance channel [1, H, W, 1] repeated to the RGB image the network sees."""
    return tf.tile(luminance, [1, 1, 1, 3])


def _recombine(image: tf.Tensor, *, chroma: tf.Tensor, swap: bool) -> tf.Tensor:
    """The optimized luminance (or, ``swap``, the luminance of an RGB result) with the content's
    chroma, clipped to [0, 1]."""
    luminance = controls.to_luminance(image)[0] if swap else tf.convert_to_tensor(image)
    return tf.clip_by_value(controls.from_luminance(luminance, chroma), 0.0, 1.0)


def _style_at_scale(style: tf.Tensor, content_long_side: int, style_scale: float) -> tf.Tensor:
    """``controls.scale_style``, kept >= 32 px on the short side at coarse scales (the final scale
    was checked before any work)."""
    height, width = int(style.shape[1]), int(style.shape[2])
    long_side = max(style_scale * content_long_side, 32 * max(height, width) / min(height, width))
    return controls.scale_style(style, long_side, 1.0)


def _run_adam(objective, start, steps, recorder, size, *, learning_rate, lr_decay, lr_decay_every,
              jit_compile):
    import keras

    image = tf.Variable(start, name="image")
    # A fresh optimizer per run (and per scale): a Keras 3 optimizer refuses variables it was
    # not built with. Building it now creates its slots, so the step traces only once.
    adam = keras.optimizers.Adam(learning_rate=keras_schedule(learning_rate, lr_decay, lr_decay_every),
                                 beta_1=0.99, epsilon=1e-1)
    adam.build([image])
    step = make_step(None, image, adam, content_targets=None, style_targets=None, content_weight=0,
                     style_weight=0, tv_weight=0, jit_compile=jit_compile, objective=objective)
    for _ in range(steps):
        losses = step()
        if not recorder(image, losses, size):
            return tf.convert_to_tensor(image), True
    return tf.convert_to_tensor(image), False


def _run_lbfgs(objective, start, steps, recorder, size, **_):
    stopped = []

    def value_and_gradient(x):
        losses, gradient = objective(x)
        return losses["total"], gradient, losses

    def on_evaluation(evaluation, x, value, losses):
        if not recorder(x, losses, size):
            stopped.append(True)
            return False
        return True

    image, _, _ = lbfgs_minimize(value_and_gradient, start, max_evaluations=steps, callback=on_evaluation)
    return image, bool(stopped)
