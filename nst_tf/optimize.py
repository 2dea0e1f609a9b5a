"""Optimizing the pixels: ``stylize``, with Adam or L-BFGS, coarse-to-fine and checkpoints.

Taught in notebooks/04_optimizing_pixels (the step, Adam, checkpoints), notebooks/05 (the full
recipe) and notebooks/06_speed_and_scale (L-BFGS, precision, XLA, coarse-to-fine). The loops
themselves are ``loops.py``; checkpoints ``checkpoint.py``.

``stylize`` is the whole method of Gatys et al.: targets from the content and style images, an
image initialised from the content (or noise, or the style), and steps on
content_weight * content + style_weight * style + tv_weight * TV, with pixels kept in [0, 1].
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from . import color, controls
from .arguments import INITS, NETWORK_DEFAULTS, OPTIMIZERS, as_image, validated  # noqa: F401 (public here)
from .checkpoint import Checkpointer, run_identity
from .features import FeatureExtractor
from .loops import _NoRetracingNoise, _quiet_retracing, keras_schedule, make_step, run_adam, run_lbfgs  # noqa: F401
from .objective import make_objective
from .progress import LOSS_KEYS, Recorder
from .resources import check_memory
from .scales import content_at_scale, styles_at_scale
from .schedules import DEFAULT_SCHEDULE
from .step_cache import compiled_steps


@dataclass
class StylizeResult:
    """What ``stylize`` returns: the image, the per-step losses and how it was made."""

    image: tf.Tensor  # [1, H, W, 3] float32 in [0, 1]
    history: dict = field(default_factory=dict)  # step, total, content, style, tv, seconds, scale; style_layers
    settings: dict = field(default_factory=dict)
    feature_weights: str = "imagenet"  # "imagenet", "random" or a weights file path
    trace_count: int = 0  # traces of the compiled function per image size: 1 means compiled once
    final_step: int | None = None  # the history step whose losses belong to ``image``; None: the last
    best_step: int | None = None  # the same step: Adam's lowest loss, L-BFGS's last accepted point
    checkpoint: str | None = None  # the newest checkpoint file written or resumed from
    resumed_from: str | None = None  # the checkpoint this run continued, if any

    @property
    def untrained(self) -> bool:
        """True when made with random features: *not* a style-transfer result."""
        return self.feature_weights == "random"

    @property
    def final(self) -> dict[str, float]:
        """The losses of the returned ``image`` (of the optimized tensor, before any colour control
        recombines it), from ``history`` at ``final_step``.

        Adam returns the best image it saw: the one at which the lowest total was measured. The
        loss of step i is measured *before* update i, so that image is the one before the update
        (the image after the very last update is never measured, hence never returned). L-BFGS:
        ``history`` has every loss evaluation, including line-search trials that were rejected,
        and ``image`` is the last accepted point, so ``final`` is that point's evaluation rather
        than the last one. Accepted points decrease monotonically and rejected trials are normally
        higher, so this is the lowest total of the (last) scale.
        """
        index = -1 if self.final_step is None else self.final_step - 1
        return {k: self.history[k][index] for k in LOSS_KEYS}


def initial_image(content_image: tf.Tensor, style_image: tf.Tensor, init, seed: int) -> tf.Tensor:
    """The starting pixels: the content photo, seeded uniform noise, the style resized, or a given
    image (``init`` an [1, H, W, 3] tensor, as jcjohnson's ``-init image``) resized to the content."""
    if not isinstance(init, str):
        if init.shape[1:3] != content_image.shape[1:3]:
            init = tf.image.resize(init, tf.shape(content_image)[1:3], antialias=True)
        return tf.clip_by_value(init, 0.0, 1.0)
    if init == "content":
        return tf.identity(content_image)
    if init == "noise":
        return tf.random.stateless_uniform(tf.shape(content_image), seed=[seed, 0], dtype=tf.float32)
    if init == "style":
        return tf.image.resize(style_image, tf.shape(content_image)[1:3], antialias=True)
    raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")


@_quiet_retracing
def stylize(content_image, style_image, *, num_steps=None, network: str = "vgg19",
            weights=None, pooling: str = "max", content_weight=None, style_weight=None,
            tv_weight=None, tv_kind: str = "l1", content_layers=None, style_layers=None,
            style_layer_weights=None, init: str = "content", optimizer: str | None = None,
            learning_rate: float | None = None, lr_decay: float | None = None, lr_decay_every=None,
            precision: str | None = "auto", jit_compile: bool = False, scales=None, schedule: str = DEFAULT_SCHEDULE,
            seed: int = 0, callback=None, callback_every: int | None = None, progress: bool = True,
            estimate: bool = True, extractor: FeatureExtractor | None = None,
            preserve_color: str | None = None, style_blend=None,
            masks=None, mask_styles=None, mask_weights=None, style_scale: float | None = None,
            strength: float = 1.0, checkpoint_dir=None, checkpoint_every: int | None = None,
            resume: bool = False) -> StylizeResult:
    """Neural style transfer by optimizing pixels (Gatys et al. 2016).

    ``content_image``/``style_image``: [1, H, W, 3] in [0, 1] (or file paths); they may differ in
    size; the result has the content's size, or ``scales[-1]`` as its long side. Weights left as
    ``None`` take the defaults of ``network`` (``NETWORK_DEFAULTS``), layers ``DEFAULT_LAYERS``.

    - ``schedule`` fills in the optimizer settings left as None (``schedules.SCHEDULES``;
      notebooks/06_speed_and_scale, benchmarks/bench_quality.py). "fast" (the default; time to a
      given loss decides, issue 14: L-BFGS reaches the tutorial's 1000-step loss in ~300-400
      evaluations at 512 px): L-BFGS, and for
      images of ``schedules.COARSE_FROM`` (384) px and more (``scales="auto"``) 70% of an integer
      ``num_steps`` at half the side, the rest at full size: ``num_steps`` is then the total, and
      more steps still means a better image. Under "fast", giving ``learning_rate``, ``lr_decay``
      or ``lr_decay_every`` asks for Adam (one scale; 0.05 falling smoothly to a tenth over the
      run unless given). "classic" (the old default, bit for bit): Adam 0.02 x0.96 every 100
      steps, at one scale, the TF tutorial's optimizer.
    - ``optimizer``: "adam" (``learning_rate`` decayed by ``lr_decay`` every ``lr_decay_every``
      steps, or smoothly over the scale's steps when it is None) or "lbfgs" (the paper's;
      ``num_steps`` counts loss evaluations; see ``lbfgs.py``).
    - ``precision``: "float32", "mixed_bfloat16", "mixed_float16" or "auto"/None (the fastest safe
      one for this hardware, ``precision.detect_precision``). ``jit_compile``: XLA.
    - ``scales``: long sides, e.g. (256, 512, 1024): optimize at each size and start the next from
      the upsampled result (Gatys et al. 2017); ``num_steps`` is per scale (int or one per scale).
      None: the schedule's (one scale for "classic", "auto" for "fast"); ``scales=[size]`` is
      one scale under any schedule.
    - ``init``: "content", "noise", "style", or an image (array or file path; resized to the
      content's size). Adam returns the *best* image it measured (``StylizeResult.best_step``).
    - ``callback(step, image, losses)`` runs every ``callback_every`` steps and after the last;
      returning ``False`` stops early. ``estimate`` prints the expected time after 3 steps.
    - Pass a prebuilt ``extractor`` to reuse it across many runs (sweeps): runs of the same image
      size and layers then also share one compiled step (``step_cache.py``), with their own values.

    Long runs (``checkpoint.py``; notebooks/04_optimizing_pixels): ``checkpoint_dir`` gets a
    checkpoint every ``checkpoint_every`` steps, at the end of each scale, when a callback stops
    the run and on Ctrl-C (which then raises ``checkpoint.Interrupted``, a KeyboardInterrupt).
    ``resume=True`` continues from the newest checkpoint there (``ValueError`` naming the
    difference if it was made with other settings; from the start if there is none); with the
    same seed the result is the image an uninterrupted run gives (bit for bit on the CPU, with
    ``config.seed_everything``). ``num_steps`` may grow on resume,
    except under a smooth learning-rate decay (``lr_decay_every=None``, "fast" with Adam),
    which spans the run's steps. ``resume=False`` refuses a
    folder that holds checkpoints already.

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
    if (checkpoint_every is not None or resume) and checkpoint_dir is None:
        raise ValueError("checkpoint_every and resume need checkpoint_dir, the folder of the checkpoints")
    init_image = _init_image(init, preserve_color)
    run = validated(content_image, style_image, num_steps=num_steps, network=network,
                    content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
                    tv_kind=tv_kind, content_layers=content_layers, style_layers=style_layers,
                    style_layer_weights=style_layer_weights, init="content" if init_image is not None else init,
                    optimizer=optimizer,
                    learning_rate=learning_rate, lr_decay=lr_decay, lr_decay_every=lr_decay_every,
                    precision=precision, jit_compile=jit_compile, scales=scales, seed=seed,
                    callback_every=callback_every, extractor=extractor, preserve_color=preserve_color,
                    style_blend=style_blend, masks=masks, mask_styles=mask_styles,
                    mask_weights=mask_weights, style_scale=style_scale, strength=strength,
                    schedule=schedule)
    if init_image is not None:
        run.init = "image"
    extractor = _extractor_for(run, extractor, pooling=pooling, weights=weights)
    ckpt = None
    if checkpoint_dir is not None:
        identity = run_identity(run, pooling=extractor.pooling, weights=extractor.weights, init_image=init_image)
        ckpt = Checkpointer(checkpoint_dir, checkpoint_every, identity, resume=resume,
                            steps_per_scale=run.steps_per_scale)
        if resume:
            print(ckpt.describe_resume(), file=sys.stderr)
    restored = ckpt.restored if ckpt is not None else None
    seen_content, seen_styles = color.seen_by_network(run.content_image, run.styles, run.preserve_color)
    recorder = Recorder(sum(run.steps_per_scale), run.style_layers, progress, callback, callback_every, estimate,
                        history=restored.history if restored is not None else None)
    image, traces, style_sizes = None, [], []
    try:
        with ckpt.guard if ckpt is not None else contextlib.nullcontext():
            for index, (size, steps) in enumerate(zip(run.sizes, run.steps_per_scale)):
                content = content_at_scale(seen_content, size, run.scales)
                styles = styles_at_scale(seen_styles, size, content_long_side=max(content.shape[1:3]),
                                         scales=run.scales, style_scale=run.style_scale)
                style_sizes.append([tuple(int(d) for d in s.shape[1:3]) for s in styles])
                if restored is not None and index < restored.scale:
                    continue  # done before the checkpoint
                start = _starting_image(run, content, styles[0], previous=image, init_image=init_image)
                if run.preserve_color in ("luminance", "luma-swap"):
                    chroma = color.to_luminance(content_at_scale(run.content_image, size, run.scales))[1]
                    recorder.view = functools.partial(color.recombine, chroma=chroma,
                                                      swap=run.preserve_color == "luma-swap")
                minimize = run_lbfgs if run.optimizer == "lbfgs" else run_adam
                here = restored if restored is not None and index == restored.scale else None
                with _objective(run, extractor, content, styles, start.shape) as objective:
                    image, stopped = minimize(objective, start, steps, recorder, size, run, scale=index, ckpt=ckpt,
                                              restored=here)
                traces.append(objective.experimental_get_tracing_count())
                if stopped:
                    break
    finally:
        recorder.bar.close()  # also on Ctrl-C: no progress line may follow the caller's message
    if recorder.view is not None:
        image = recorder.view(image)
    return StylizeResult(image=tf.convert_to_tensor(image), history=recorder.history,
                         settings=run.as_dict(pooling=extractor.pooling, style_sizes=style_sizes),
                         feature_weights=extractor.weights, trace_count=max(traces, default=0),
                         final_step=recorder.returned, best_step=recorder.returned,
                         checkpoint=None if ckpt is None or ckpt.newest is None else str(ckpt.newest),
                         resumed_from=None if restored is None else str(restored.path))


def _init_image(init, preserve_color):
    """An init image (array or file) as [1, H, W, 3], or None for "content"/"noise"/"style"
    (other strings that name no file are left to ``validated``'s message)."""
    if isinstance(init, str) and (init in INITS or not (Path(init).suffix or os.sep in init or Path(init).exists())):
        return None
    image = as_image(init, "init")
    if preserve_color == "luminance":  # the optimized tensor is the luminance: start from the init's
        image = color.seen_by_network(image, [], "luminance")[0]
    return image


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
                 run.precision, optimizer=run.optimizer)
    return extractor


def _starting_image(run, content: tf.Tensor, style: tf.Tensor, previous, init_image=None) -> tf.Tensor:
    """``initial_image`` at the first scale, the previous scale's result upsampled after that."""
    if previous is not None:
        start = tf.image.resize(previous, content.shape[1:3], method="bicubic")
    else:
        start = initial_image(content, style, run.init if init_image is None else init_image, run.seed)
        if run.preserve_color == "luminance":
            start = start[..., :1]  # the optimized tensor is the luminance channel alone
    return tf.clip_by_value(start, 0.0, 1.0)


def _objective(run, extractor, content: tf.Tensor, styles: list, image_shape):
    """The compiled loss and gradient of this scale (a context manager): content targets, then
    the style terms. A plain objective comes from the extractor's ``step_cache``: a sweep's runs
    of the same shape share one trace, each with its own targets and weights."""
    content_features = extractor(content)
    terms = controls.style_terms(extractor, styles, content_features, run.style_layers, run.blend,
                                 run.regions, run.strength)
    # One whole-image term with weight 1 is the plain Gatys objective: give it as plain targets.
    plain = len(terms) == 1 and terms[0].weight == 1.0 and terms[0].masks is None
    targets = dict(content_targets={n: content_features[n] for n in run.content_layers},
                   style_targets=terms[0].targets if plain else None, content_weight=run.content_weight,
                   style_weight=run.style_weight, tv_weight=run.tv_weight)
    transform = color.grey if run.preserve_color == "luminance" else None

    def build():
        return make_objective(
            extractor, image_shape, **targets, style_terms=None if plain else terms, tv_kind=run.tv_kind,
            style_layer_weights=run.style_layer_weights, jit_compile=run.jit_compile, image_transform=transform)

    key = None  # style terms (artistic controls) hold their masks in the graph: not shared
    if plain:
        shapes = lambda tensors: tuple((n, tuple(t.shape), t.dtype.name) for n, t in tensors.items())
        weights = None if run.style_layer_weights is None else tuple(run.style_layer_weights.items())
        key = (tuple(image_shape), shapes(targets["content_targets"]), shapes(targets["style_targets"]), weights,
               run.tv_kind, bool(run.jit_compile), transform is not None)
    return compiled_steps(extractor).objective(key, build, **targets)
