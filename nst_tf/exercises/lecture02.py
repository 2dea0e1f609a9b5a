"""Checkers of lecture 02 (notebooks/02_gram_matrices): ``gram_matrix`` and ``style_loss``."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .core import Exercise, Failure, Mistake
from .inputs import for_student, make_case, np_gram, weights_or_equal

# --- gram_matrix(features) -> [B, C, C] ---------------------------------------------------------


def gram_reference(features):
    """G[b, c, d] = sum over positions of F[b, h, w, c] * F[b, h, w, d], divided by H*W."""
    return np_gram(features)


def _gram_cases(rng):
    """Batches of 1 to 3, square and not, 2 to 7 channels (never H*W == C), float32 and float64."""
    shapes = [((1, 5, 7, 3), False), ((2, 4, 4, 6), True), ((3, 3, 8, 5), False),
              ((2, 6, 6, 2), False), ((1, 5, 3, 4), True), ((1, 4, 4, 7), False)]
    return [make_case("features", (rng.normal(size=shape),), float64) for shape, float64 in shapes]


def _scaled(divisor):
    """The Gram matrix summed over positions and divided by divisor(B, H, W, C) instead of H*W."""
    def gram(features):
        b, h, w, c = features.shape
        return np.einsum("bhwc,bhwd->bcd", features, features) / divisor(b, h, w, c)
    return gram


def _positions_gram(features):
    b, h, w, c = features.shape
    m = features.reshape(b, h * w, c)
    return m @ m.transpose(0, 2, 1) / (h * w)


GRAM_MISTAKES = [
    Mistake("sum_instead_of_mean", (_scaled(lambda b, h, w, c: 1),),
            "the sum over positions is not divided by H*W",
            "divide by the number of positions H*W, so the Gram does not grow with the image"),
    Mistake("divided_by_CHW", (_scaled(lambda b, h, w, c: c * h * w),),
            "divided by C*H*W (the PyTorch tutorial's Gram); the course divides by H*W",
            "divide by H*W only: the course's style loss is a mean over the C*C entries already"),
    Mistake("divided_by_HWC2", (_scaled(lambda b, h, w, c: h * w * c * c),),
            "divided by H*W*C^2; the course divides by H*W", "divide by H*W only"),
    Mistake("batch_mixing", (lambda f: np.einsum("bhwc,bhwd->cd", f, f) / (f.shape[1] * f.shape[2]),
                             lambda f: np_gram(f.reshape(1, -1, 1, f.shape[3])),
                             lambda f: np_gram(f[:1])),
            "the images of a batch are mixed into one Gram matrix (or only the first is used)",
            "sum over h and w only, never over b: einsum('bhwc,bhwd->bcd') gives one [C, C] per image"),
    Mistake("transposed_wrong_factor", (_positions_gram, lambda f: _positions_gram(f) * (f.shape[1] * f.shape[2])),
            "this is a [B, H*W, H*W] matrix: positions against positions",
            "with M = reshape(F, [B, H*W, C]) the Gram is M^T M: tf.matmul(M, M, transpose_a=True)"),
    Mistake("wrong_einsum_axes", (lambda f: np.einsum("bhwc,bhwc->bc", f, f) / (f.shape[1] * f.shape[2]),
                                  lambda f: np.einsum("bhwc,bhwd->bhw", f, f) / (f.shape[1] * f.shape[2])),
            "the einsum keeps the wrong letters (not one [C, C] matrix per image)",
            "two different channel letters, summed over h and w: einsum('bhwc,bhwd->bcd', F, F)"),
    Mistake("assumed_square", (_scaled(lambda b, h, w, c: h * h), _scaled(lambda b, h, w, c: w * w)),
            "divided by H*H or W*W: right only for square feature maps",
            "H is features.shape[1] and W is features.shape[2]; divide by H*W"),
]


def _explain_gram_error(case, err):
    text = str(err)
    if "size-incompatible" in text or "mismatch in its core dimension" in text:
        return Failure("no_transpose", f"matrix product of incompatible shapes (on {case.label})",
                       "with M = reshape(F, [B, H*W, C]), use M^T M: tf.matmul(M, M, transpose_a=True)")
    return None


def _gram_properties(fn, evaluate):
    """Blind to positions (shuffle them), quadratic (G(2F) = 4 G(F)), symmetric."""
    rng = np.random.default_rng(7)
    features = rng.normal(size=(2, 4, 5, 3)).astype(np.float32)
    gram = evaluate(tf.constant(features))
    order = rng.permutation(20)
    shuffled = features.reshape(2, 20, 3)[:, order].reshape(2, 4, 5, 3)
    checks = [("positions_matter", "the Gram changes when the positions are shuffled",
               evaluate(tf.constant(shuffled)), gram),
              ("not_quadratic", "gram_matrix(2F) is not 4 * gram_matrix(F)",
               evaluate(tf.constant(2 * features)), 4 * gram),
              ("not_symmetric", "the Gram matrix is not symmetric", np.swapaxes(gram, -1, -2), gram)]
    for code, what, got, want in checks:
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max()):
            raise Failure(code, what, "G = einsum('bhwc,bhwd->bcd', F, F) / (H*W)")


GRAM_MATRIX = Exercise(
    name="gram_matrix", reference=gram_reference, cases=_gram_cases, mistakes=GRAM_MISTAKES,
    checks=[_gram_properties], explain_error=_explain_gram_error,
    hint="gram_matrix(F) = einsum('bhwc,bhwd->bcd', F, F) / (H*W), shape [B, C, C]")

# --- style_loss(features, target_grams, layer_weights=None) -> scalar ------------------------------


def _style(per_layer, gram=np_gram, weights=weights_or_equal):
    """A style loss: sum over layers of weight * per_layer(gram(F_l), A_l, F_l)."""
    def loss(features, target_grams, layer_weights=None):
        w = weights(target_grams, layer_weights)
        return sum(w[name] * per_layer(gram(features[name]), target, features[name])
                   for name, target in target_grams.items())
    return loss


def _mse(g, a, f):
    return np.mean((g - a) ** 2)  # A [1, C, C] broadcasts: the mean is over the batch's [B, C, C]


style_reference = _style(_mse)
style_reference.__doc__ = "sum over layers l of w_l * mean((gram(F_l) - A_l)**2); w_l = 1/L by default."


def _paper(g, a, f):
    _, h, w, c = f.shape
    return np.sum((g - a) ** 2) / (4 * c ** 2 * (h * w) ** 2)


STYLE_MISTAKES = [
    Mistake("layers_not_weighted", (_style(_mse, weights=lambda t, w: {n: 1.0 for n in t}),),
            "the layers' losses are summed without their weights",
            "multiply each layer's loss by its weight: layer_weights[l], or 1/L when it is None"),
    Mistake("layer_weights_ignored", (_style(_mse, weights=lambda t, w: weights_or_equal(t, None)),),
            "layer_weights is ignored (every layer gets 1/L)",
            "use layer_weights[l] when it is given; 1/L each only when it is None"),
    Mistake("sum_instead_of_mean", (_style(lambda g, a, f: np.sum((g - a) ** 2)),),
            "each layer's loss sums the squared Gram differences instead of averaging them",
            "use tf.reduce_mean over the C*C entries, not tf.reduce_sum"),
    Mistake("unnormalized_gram", (_style(_mse, gram=lambda f: np_gram(f) * f.shape[1] * f.shape[2]),),
            "the Gram of the features is not divided by H*W, but the targets are",
            "use the course's gram_matrix (divided by H*W) for the features too"),
    Mistake("paper_normalization", (_style(_paper),),
            "the paper's 1/(4 N^2 M^2) is applied on top of the course's mean",
            "the course's Gram and mean already normalize: mean((gram(F) - A)**2), no extra factor"),
    Mistake("wrong_gram", (_style(_mse, gram=lambda f: np_gram(f) / f.shape[3]),
                           _style(_mse, gram=lambda f: np_gram(f) / f.shape[3] ** 2)),
            "the Gram matrix inside is divided by C*H*W or H*W*C^2",
            "first make check('gram_matrix', gram_matrix) pass, then use that gram_matrix here"),
]


def _style_inputs(rng, shapes, batch):
    """Features {layer: [B, H, W, C]} and the target Grams {layer: [1, C, C]} of another image."""
    features = {name: rng.normal(size=(batch,) + shape) for name, shape in shapes.items()}
    targets = {name: np_gram(rng.normal(size=(1,) + shape) * 1.3) for name, shape in shapes.items()}
    return features, targets


def _style_cases(rng):
    specs = [  # (layer shapes, batch, float64, layer_weights)
        ({"block1_conv1": (6, 8, 3), "block2_conv1": (3, 4, 8)}, 1, False, None),
        ({"a": (5, 5, 4), "b": (2, 3, 6), "c": (1, 2, 10)}, 2, True, None),
        ({"conv1": (4, 4, 5), "fire2": (2, 5, 7)}, 1, False, {"conv1": 0.7, "fire2": 0.3}),
        ({"a": (3, 6, 2), "b": (2, 2, 9)}, 1, True, {"a": 2.0, "b": 0.5}),
        ({"block3_conv1": (5, 4, 6)}, 2, False, None),
    ]
    cases = []
    for shapes, batch, float64, weights in specs:
        features, targets = _style_inputs(rng, shapes, batch)
        args = (features, targets) if weights is None else (features, targets, weights)
        first = (batch,) + next(iter(shapes.values()))
        tags = {"layer_weights"} if weights else set()
        case = make_case(f"{len(shapes)}-layer features, first", args, float64, tags=tags, shape=first)
        cases.append(case)
    return cases


def _style_gradient(fn, evaluate):
    """The loss's gradient (GradientTape, float64) against central finite differences."""
    rng = np.random.default_rng(11)
    features, targets = _style_inputs(rng, {"a": (4, 5, 3), "b": (2, 3, 6)}, 2)
    tensors, grams = for_student(features, True), for_student(targets, True)
    try:
        with tf.GradientTape() as tape:
            tape.watch(list(tensors.values()))
            loss = fn(tensors, grams)
        gradients = tape.gradient(loss, list(tensors.values())) if tf.is_tensor(loss) else None
    except Exception as err:
        raise Failure("raised", f"raised {type(err).__name__} under tf.GradientTape",
                      "use TensorFlow ops only inside the loss") from None
    if gradients is None:
        return  # a NumPy answer: right values, nothing to differentiate
    if any(g is None for g in gradients):
        raise Failure("no_gradient", "the loss has no gradient with respect to the features",
                      "no .numpy(), NumPy or tf.stop_gradient inside: the optimizer needs this gradient")
    direction = {name: rng.normal(size=f.shape) for name, f in features.items()}
    h = 1e-6
    shifted = [style_reference({n: features[n] + s * h * direction[n] for n in features}, targets)
               for s in (1, -1)]
    numeric = (shifted[0] - shifted[1]) / (2 * h)
    analytic = sum(float(np.sum(g.numpy() * direction[n])) for g, n in zip(gradients, tensors))
    if not np.isclose(analytic, numeric, rtol=1e-5, atol=1e-8):
        raise Failure("wrong_gradient", f"the gradient is off: {analytic:.6g} along a direction, "
                      f"finite differences give {numeric:.6g}",
                      "do not stop the gradient of any factor of the Gram (no tf.stop_gradient)")


STYLE_LOSS = Exercise(
    name="style_loss", reference=style_reference, cases=_style_cases, mistakes=STYLE_MISTAKES,
    checks=[_style_gradient],
    tag_hints={"layer_weights": ("layer_weights_ignored", "right with the default weights but wrong "
                                 "when layer_weights is given",
                                 "use layer_weights[l] when it is given; 1/L each only when it is None")},
    hint="style_loss = sum over layers of w_l * mean((gram_matrix(F_l) - A_l)**2), w_l = 1/L by default")
