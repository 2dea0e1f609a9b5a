"""Optimizing the pixels: the compiled update step, Adam or L-BFGS, and coarse-to-fine.

Taught in notebooks/04_optimizing_pixels (the step, Adam), notebooks/05 (the full recipe) and
notebooks/06_speed_and_scale (L-BFGS, precision, XLA, coarse-to-fine).

``stylize`` is the whole method of Gatys et al.: targets from the content and style images, an
image initialised from the content (or noise, or the style), and steps on
content_weight * content + style_weight * style + tv_weight * TV, with pixels kept in [0, 1].
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import tensorflow as tf

from . import color, controls, loss_scale
from .arguments import INITS, NETWORK_DEFAULTS, OPTIMIZERS, validated  # noqa: F401 (public here)
from .features import FeatureExtractor
from .lbfgs import lbfgs_minimize
from .objective import make_objective
from .progress import LOSS_KEYS, Recorder
from .resources import check_memory
from .scales import content_at_scale, styles_at_scale


class _NoRetracingNoise:
    """Each ``stylize`` run compiles its own step on purpose (new targets, new sizes); TF's
    "N out of the last M calls triggered tf.function retracing" warning then fires during
    sweeps and would teach the wrong lesson. Within a run the step is traced once (tested).
    The filter is on only while ``stylize`` runs, so a lecture's own retracing demo still shows
    TensorFlow's real warning (notebooks/04)."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


def _quiet_retracing(function):
    @functools.wraps(function)
    def quiet(*args, **kwargs):
        noise = _NoRetracingNoise()
        tf.get_logger().addFilter(noise)
        try:
            return function(*args, **kwargs)
        finally:
            tf.get_logger().removeFilter(noise)
    return quiet


@dataclass
class StylizeResult:
    """What ``stylize`` returns: the image, the per-step losses and how it was made."""

    image: tf.Tensor  # [1, H, W, 3] float32 in [0, 1]
    history: dict = field(default_factory=dict)  # step, total, content, style, tv, seconds, scale; style_layers
    settings: dict = field(default_factory=dict)
    feature_weights: str = "imagenet"  # "imagenet", "random" or a weights file path
    trace_count: int = 0  # traces of the compiled function per image size: 1 means compiled once
    final_step: int | None = None  # the history step that ``final`` reads; None: the last

    @property
    def untrained(self) -> bool:
        """True when made with random features: *not* a style-transfer result."""
        return self.feature_weights == "random"

    @property
    def final(self) -> dict[str, float]:
        """The losses of the returned ``image`` (of the optimized tensor, before any colour control
        recombines it), from ``history`` at ``final_step``.

        Adam: the last step's losses, measured just before that step's update. L-BFGS: ``history``
        has every loss evaluation, including line-search trials that were rejected, and ``image`` is
        the last accepted point, so ``final`` is that point's evaluation rather than the last one.
        Accepted points decrease monotonically and rejected trials are normally higher, so this is
        the lowest total of the (last) scale.
        """
        index = -1 if self.final_step is None else self.final_step - 1
        return {k: self.history[k][index] for k in LOSS_KEYS}


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
    float16 extractor the objective's dynamic loss scale (``loss_scale.py``) decides: a step
    whose gradient is not finite is skipped, as Keras's ``LossScaleOptimizer`` does (the image,
    Adam's moments and its ``iterations``, hence the learning-rate schedule, stay as they were)
    and the scale halves; ``step.objective.scaler`` counts the skipped steps.
    """
    if objective is None:
        objective = make_objective(extractor, image.shape, content_targets=content_targets,
                                   style_targets=style_targets, content_weight=content_weight,
                                   style_weight=style_weight, tv_weight=tv_weight, tv_kind=tv_kind,
                                   style_layer_weights=style_layer_weights, jit_compile=jit_compile)
    jit_compile = jit_compile and getattr(objective, "jit_compile", True)  # XLA may have been refused
    scaler = getattr(objective, "scaler", None)
    if scaler is not None and not optimizer.built:
        optimizer.build([image])  # its slots must exist before the step's conditional update

    def update(gradient):
        optimizer.apply_gradients([(gradient, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))

    @tf.function(jit_compile=jit_compile)
    def step():
        losses, gradient = objective(tf.convert_to_tensor(image))
        if scaler is None:
            update(gradient)
        else:
            tf.cond(scaler.update(gradient), lambda: update(gradient), lambda: None)
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


@_quiet_retracing
def stylize(content_image, style_image, *, num_steps=None, network: str = "vgg19",
            weights=None, pooling: str = "max", content_weight=None, style_weight=None,
            tv_weight=None, tv_kind: str = "l1", content_layers=None, style_layers=None,
            style_layer_weights=None, init: str = "content", optimizer: str = "adam",
            learning_rate: float = 0.02, lr_decay: float = 0.96, lr_decay_every: int = 100,
            precision: str | None = "auto", jit_compile: bool = False, scales=None,
            seed: int = 0, callback=None, callback_every: int | None = None, progress: bool = True,
            estimate: bool = True, extractor: FeatureExtractor | None = None,
            preserve_color: str | None = None, style_blend=None,
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
      weight >= 0, normalized to sum 1, and the style targets are the blended Gram matrices
      A_l = sum_i w_i A_l^i. (Blending the style *losses* instead, sum_i w_i ||G - A^i||^2, is the
      same objective up to a constant when sum_i w_i = 1, so it follows the identical path:
      notebooks/08 derives it and tests/test_controls.py checks the gradients are equal.)
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
    run = validated(content_image, style_image, num_steps=num_steps, network=network,
                    content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
                    tv_kind=tv_kind, content_layers=content_layers, style_layers=style_layers,
                    style_layer_weights=style_layer_weights, init=init, optimizer=optimizer,
                    learning_rate=learning_rate, lr_decay=lr_decay, lr_decay_every=lr_decay_every,
                    precision=precision, jit_compile=jit_compile, scales=scales, seed=seed,
                    callback_every=callback_every, extractor=extractor, preserve_color=preserve_color,
                    style_blend=style_blend, masks=masks, mask_styles=mask_styles,
                    mask_weights=mask_weights, style_scale=style_scale, strength=strength)
    extractor = _extractor_for(run, extractor, pooling=pooling, weights=weights)
    seen_content, seen_styles = color.seen_by_network(run.content_image, run.styles, run.preserve_color)
    recorder = Recorder(sum(run.steps_per_scale), run.style_layers, progress, callback, callback_every, estimate)
    image, traces, style_sizes = None, [], []
    for size, steps in zip(run.sizes, run.steps_per_scale):
        content = content_at_scale(seen_content, size, run.scales)
        styles = styles_at_scale(seen_styles, size, content_long_side=max(content.shape[1:3]),
                                 scales=run.scales, style_scale=run.style_scale)
        style_sizes.append([tuple(int(d) for d in s.shape[1:3]) for s in styles])
        start = _starting_image(run, content, styles[0], previous=image)
        if run.preserve_color in ("luminance", "luma-swap"):
            chroma = color.to_luminance(content_at_scale(run.content_image, size, run.scales))[1]
            recorder.view = functools.partial(color.recombine, chroma=chroma,
                                              swap=run.preserve_color == "luma-swap")
        objective = _objective(run, extractor, content, styles, start.shape)
        minimize = _run_lbfgs if run.optimizer == "lbfgs" else _run_adam
        image, stopped = minimize(objective, start, steps, recorder, size, run)
        traces.append(objective.experimental_get_tracing_count())
        if stopped:
            break
    recorder.bar.close()
    if recorder.view is not None:
        image = recorder.view(image)
    return StylizeResult(image=tf.convert_to_tensor(image), history=recorder.history,
                         settings=run.as_dict(pooling=extractor.pooling, style_sizes=style_sizes),
                         feature_weights=extractor.weights, trace_count=max(traces),
                         final_step=recorder.returned)


def _extractor_for(run, extractor, *, pooling, weights) -> FeatureExtractor:
    """The given extractor if it computes every layer, else a new one; then the memory check,
    so that a size that cannot fit fails before the first step."""
    if extractor is None:
        extractor = FeatureExtractor(run.style_layers, run.content_layers, network=run.network, pooling=pooling,
                                     weights=weights, precision=run.precision)
    else:
        absent = set(run.style_layers + run.content_layers) - set(extractor.layers)
        if absent:
            raise ValueError(f"the extractor does not compute layer(s) {sorted(absent)}")
    height, width = int(run.content_image.shape[1]), int(run.content_image.shape[2])
    factor = run.sizes[-1] / max(height, width) if run.scales else 1.0
    check_memory(run.network, round(height * factor), round(width * factor), extractor.deepest_layer,
                 run.precision)
    return extractor


def _starting_image(run, content: tf.Tensor, style: tf.Tensor, previous) -> tf.Tensor:
    """``initial_image`` at the first scale, the previous scale's result upsampled after that."""
    if previous is not None:
        start = tf.image.resize(previous, content.shape[1:3], method="bicubic")
    else:
        start = initial_image(content, style, run.init, run.seed)
        if run.preserve_color == "luminance":
            start = start[..., :1]  # the optimized tensor is the luminance channel alone
    return tf.clip_by_value(start, 0.0, 1.0)


def _objective(run, extractor, content: tf.Tensor, styles: list, image_shape):
    """The compiled loss and gradient of this scale: content targets, then the style terms."""
    content_features = extractor(content)
    terms = controls.style_terms(extractor, styles, content_features, run.style_layers, run.blend,
                                 run.regions, run.strength)
    # One whole-image term with weight 1 is the plain Gatys objective: give it as plain targets.
    plain = len(terms) == 1 and terms[0].weight == 1.0 and terms[0].masks is None
    return make_objective(
        extractor, image_shape, content_targets={n: content_features[n] for n in run.content_layers},
        style_targets=terms[0].targets if plain else None, style_terms=None if plain else terms,
        content_weight=run.content_weight, style_weight=run.style_weight, tv_weight=run.tv_weight,
        tv_kind=run.tv_kind, style_layer_weights=run.style_layer_weights, jit_compile=run.jit_compile,
        image_transform=color.grey if run.preserve_color == "luminance" else None)


def _run_adam(objective, start, steps, recorder, size, run):
    import keras

    image = tf.Variable(start, name="image")
    # A fresh optimizer per run (and per scale): a Keras 3 optimizer refuses variables it was
    # not built with. Building it now creates its slots, so the step traces only once.
    adam = keras.optimizers.Adam(learning_rate=keras_schedule(run.learning_rate, run.lr_decay, run.lr_decay_every),
                                 beta_1=0.99, epsilon=1e-1)
    adam.build([image])
    step = make_step(None, image, adam, content_targets=None, style_targets=None, content_weight=0,
                     style_weight=0, tv_weight=0, jit_compile=run.jit_compile, objective=objective)
    for _ in range(steps):
        losses = step()
        if not recorder(image, losses, size):
            return tf.convert_to_tensor(image), True
    return tf.convert_to_tensor(image), False


def _run_lbfgs(objective, start, steps, recorder, size, run):
    stopped = []
    # The history also holds rejected line-search trials, so its last entry need not describe the
    # point lbfgs_minimize returns. That point is one of the evaluated tensors and stays alive
    # from its evaluation on, so no later tensor can reuse its id: id -> history step finds it.
    step_of = {}

    def value_and_gradient(x):
        losses, gradient = loss_scale.evaluate(objective, x)  # float16: halve and retry, never inf
        return losses["total"], gradient, losses

    def on_evaluation(evaluation, x, value, losses):
        going_on = recorder(x, losses, size)
        step_of[id(x)] = len(recorder.history["step"])
        if not going_on:
            stopped.append(True)
        return going_on

    image, _, _ = lbfgs_minimize(value_and_gradient, start, max_evaluations=steps, callback=on_evaluation)
    recorder.returned = step_of[id(image)]
    return image, bool(stopped)
