"""The Gatys objective as one compiled function: image -> (losses, gradient).

Taught in notebooks/03_the_objective (the terms) and notebooks/06_speed_and_scale (compilation,
precision; loss scaling itself is ``loss_scale.py``).

Adam and L-BFGS both call the same ``value_and_gradient``: it is a ``tf.function`` with a fixed
input signature, so it is traced once per image size and every later call runs the same graph
(optionally XLA-compiled with ``jit_compile=True``).
"""

from __future__ import annotations

import warnings

import tensorflow as tf

from .loss_scale import DynamicLossScale
from .losses import content_loss, style_layer_losses, total_variation_loss


_XLA_REFUSES_MAX_POOL_GRADIENT = False


def xla_refuses_max_pool_gradient() -> bool:
    """True when XLA would raise UnimplementedError on the gradient of max pooling, which it does
    under deterministic kernels (``config.seed_everything``) on CPUs and GPUs alike: TensorFlow has
    no deterministic XLA max-pool gradient. Found out by compiling a 2x2 probe, not by version
    checks, so a TensorFlow that adds one is used at once. Determinism cannot be switched off
    again, so a True answer is remembered.
    """
    global _XLA_REFUSES_MAX_POOL_GRADIENT
    if not _XLA_REFUSES_MAX_POOL_GRADIENT:
        @tf.function(jit_compile=True)
        def probe(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.nn.max_pool2d(x, 2, 2, "VALID")
            return tape.gradient(y, x)

        try:
            probe(tf.zeros([1, 2, 2, 1]))
        except tf.errors.UnimplementedError:
            _XLA_REFUSES_MAX_POOL_GRADIENT = True
    return _XLA_REFUSES_MAX_POOL_GRADIENT


def make_objective(extractor, image_shape, *, content_targets, style_targets, content_weight: float,
                   style_weight: float, tv_weight: float, tv_kind: str = "l1",
                   style_layer_weights=None, jit_compile: bool = False, style_terms=None,
                   image_transform=None, scaler: DynamicLossScale | None = None):
    """Build ``value_and_gradient(image) -> (losses, gradient)`` for one image size.

    ``losses`` holds the weighted ``total`` and the unweighted ``content``, ``style``, ``tv`` and
    ``style_layers`` (per layer). With a float16 extractor the total is multiplied by a dynamic
    loss scale before differentiation and the gradient divided by it again, since float16
    gradients would otherwise underflow to zero: ``value_and_gradient.scaler`` is that
    ``loss_scale.DynamicLossScale`` (pass ``scaler=`` to choose its settings), and
    ``value_and_gradient.loss_scale`` its current scale (a ``tf.Variable``; 1 and ``scaler`` None
    without float16). The gradient returned is unscaled; a non-finite one means "skip this step
    and halve the scale", which the callers do (``make_step``, ``loss_scale.evaluate``).

    Artistic controls (notebooks/08_artistic_controls): ``style_terms``, a list of
    ``controls.StyleTerm`` (several styles blended by loss, guided Gram matrices of regions),
    replaces ``style_targets``; the style loss is then sum_t weight_t * style loss of term t.
    ``image_transform`` maps the optimized tensor to the RGB image the network and TV see (e.g.
    one luminance channel repeated to three); ``image_shape`` is the optimized tensor's shape.

    ``jit_compile=True`` with a max-pooling extractor under deterministic kernels would fail at
    the first call (``xla_refuses_max_pool_gradient``): the objective is then compiled without XLA
    and says so in a warning (``pooling="avg"`` keeps XLA). ``value_and_gradient.jit_compile``
    tells which one was built; ``make_step`` follows it.
    """
    if style_terms is not None:
        from .controls import term_layer_losses

        style_targets = style_terms[0].targets
    weights = style_layer_weights or {name: 1.0 / len(style_targets) for name in style_targets}
    # Targets and weights are values held in variables, not constants of the graph: ``retarget``
    # gives the same compiled function another run's (step_cache.py: one trace for a sweep).
    held_content = {n: tf.Variable(t, trainable=False) for n, t in content_targets.items()}
    held_style = None if style_terms is not None else {n: tf.Variable(t, trainable=False)
                                                        for n, t in style_targets.items()}
    held_weights = [tf.Variable(w, trainable=False, dtype=tf.float32)
                    for w in (content_weight, style_weight, tv_weight)]
    c_w, s_w, t_w = held_weights
    content_targets = held_content
    if held_style is not None:
        style_targets = held_style
    if jit_compile and getattr(extractor, "pooling", None) == "max" and xla_refuses_max_pool_gradient():
        warnings.warn("jit_compile=True ignored: with deterministic kernels (seed_everything) XLA has no "
                      "max-pool gradient; the objective runs as a plain compiled graph "
                      "(pooling='avg' keeps XLA)", RuntimeWarning, stacklevel=2)
        jit_compile = False
    use_scale = getattr(extractor, "precision", "float32") == "mixed_float16"
    if scaler is not None and not use_scale:
        raise ValueError("scaler= is for float16 extractors (precision='mixed_float16') only")
    if use_scale and scaler is None:
        scaler = DynamicLossScale()
    loss_scale = scaler.scale if use_scale else tf.Variable(1.0, trainable=False, name="loss_scale")

    def combined_style_losses(features):
        per_layer = {}
        for term in style_terms:
            for name, loss in term_layer_losses(features, term).items():
                loss = loss if term.weight == 1.0 else term.weight * loss
                per_layer[name] = per_layer[name] + loss if name in per_layer else loss
        return per_layer

    def losses_of(image):
        if image_transform is not None:
            image = image_transform(image)
        features = extractor(image)
        c_loss = content_loss({n: features[n] for n in content_targets}, content_targets)
        per_layer = (style_layer_losses(features, style_targets) if style_terms is None
                     else combined_style_losses(features))
        s_loss = tf.add_n([weights[n] * per_layer[n] for n in per_layer])
        tv = total_variation_loss(image, tv_kind)
        total = c_w * c_loss + s_w * s_loss + t_w * tv
        return {"total": total, "content": c_loss, "style": s_loss, "tv": tv, "style_layers": per_layer}

    @tf.function(input_signature=[tf.TensorSpec(image_shape, tf.float32)], jit_compile=jit_compile)
    def value_and_gradient(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            losses = losses_of(image)
            scaled = losses["total"] * loss_scale if use_scale else losses["total"]
        gradient = tape.gradient(scaled, image)
        if use_scale:
            gradient = gradient / loss_scale
        return losses, gradient

    def retarget(*, content_targets, style_targets, content_weight, style_weight, tv_weight):
        """Another run's targets (same layers and shapes) and weights, and a fresh loss scale."""
        if held_style is None:
            raise ValueError("an objective of style terms (artistic controls) cannot be retargeted")
        for held, new in ((held_content, content_targets), (held_style, style_targets)):
            if list(held) != list(new):
                raise ValueError(f"retarget needs the layers {list(held)}, got {list(new)}")
            for name, variable in held.items():
                variable.assign(new[name])  # a new shape raises: that is a new objective
        for variable, value in zip(held_weights, (content_weight, style_weight, tv_weight)):
            variable.assign(value)
        if scaler is not None:
            scaler.reset()

    value_and_gradient.retarget = retarget
    value_and_gradient.loss_scale = loss_scale
    value_and_gradient.uses_loss_scale = use_scale
    value_and_gradient.scaler = scaler
    value_and_gradient.jit_compile = jit_compile
    return value_and_gradient
