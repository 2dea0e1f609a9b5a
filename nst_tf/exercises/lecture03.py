"""Checker of lecture 03 (notebooks/03_the_objective): ``content_loss``."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .core import Exercise, Failure, Mistake
from .inputs import make_case, np_gram, weights_or_equal


def _content(per_layer, weights=weights_or_equal):
    """A content loss: per_layer(F, P) for one tensor; for dicts the weighted sum over layers."""
    def loss(features, target, layer_weights=None):
        if not isinstance(features, dict):
            return per_layer(features, target)
        w = weights(target, layer_weights)
        return sum(w[name] * per_layer(features[name], target[name]) for name in target)
    return loss


content_reference = _content(lambda f, p: np.mean((f - p) ** 2))
content_reference.__doc__ = ("mean((F - P)**2) for tensors; for dicts {layer: tensor} the sum over "
                             "layers of w_l * mean((F_l - P_l)**2), w_l = 1/L by default.")


def _cases(rng):
    """One tensor (4 shapes) and dicts of layers, with and without layer_weights."""
    cases = [make_case("features", (rng.normal(size=shape), rng.normal(size=shape)), float64)
             for shape, float64 in [((2, 5, 7, 3), False), ((1, 4, 6, 8), True),
                                    ((3, 2, 9, 5), False), ((1, 4, 4, 6), False)]]
    specs = [({"a": (1, 6, 5, 4), "b": (1, 3, 2, 16)}, False, None),
             ({"a": (2, 3, 3, 5), "b": (2, 2, 4, 3)}, True, {"a": 0.3, "b": 2.0}),
             ({"block4_conv2": (1, 4, 5, 8)}, False, None)]
    for shapes, float64, weights in specs:
        features = {name: rng.normal(size=shape) for name, shape in shapes.items()}
        target = {name: rng.normal(size=shape) for name, shape in shapes.items()}
        args = (features, target) if weights is None else (features, target, weights)
        tags = {"dict"} | ({"layer_weights"} if weights else set())
        cases.append(make_case(f"dict of {len(shapes)} layers, first", args, float64, tags=tags,
                               shape=next(iter(shapes.values()))))
    return cases


MISTAKES = [
    Mistake("sum_instead_of_mean", (_content(lambda f, p: np.sum((f - p) ** 2)),),
            "the squared differences are summed instead of averaged",
            "use tf.reduce_mean, so the weight means the same at every image size"),
    Mistake("paper_half_sum", (_content(lambda f, p: 0.5 * np.sum((f - p) ** 2)),),
            "this is the paper's 1/2 * sum; the course takes the mean",
            "content_loss = mean((F - P)**2); notebooks/03 converts the paper's weights"),
    Mistake("l1_instead_of_squared", (_content(lambda f, p: np.mean(np.abs(f - p))),),
            "absolute differences are averaged, not squared ones", "square the differences: tf.square(F - P)"),
    Mistake("norm_instead_of_squared", (_content(lambda f, p: np.sqrt(np.sum((f - p) ** 2))),
                                        _content(lambda f, p: np.sqrt(np.mean((f - p) ** 2)))),
            "this is a norm (a square root), not the mean squared difference",
            "no square root: tf.reduce_mean(tf.square(F - P))"),
    Mistake("content_loss_on_gram", (_content(lambda f, p: np.mean((np_gram(f) - np_gram(p)) ** 2)),),
            "the Gram matrices are compared: that is the style loss",
            "compare the features themselves: content keeps *where* things are, the Gram forgets it"),
    Mistake("layers_not_weighted", (_content(lambda f, p: np.mean((f - p) ** 2),
                                             weights=lambda t, w: {n: 1.0 for n in t}),),
            "the layers' losses are summed without their weights",
            "multiply each layer's loss by its weight: layer_weights[l], or 1/L when it is None"),
    Mistake("layer_weights_ignored", (_content(lambda f, p: np.mean((f - p) ** 2),
                                               weights=lambda t, w: weights_or_equal(t, None)),),
            "layer_weights is ignored (every layer gets 1/L)",
            "use layer_weights[l] when it is given; 1/L each only when it is None"),
]


def _zero_at_target(fn, evaluate):
    """The loss of the target itself is 0, and swapping the arguments changes nothing."""
    rng = np.random.default_rng(3)
    f, p = (tf.constant(rng.normal(size=(1, 3, 5, 4)), tf.float32) for _ in range(2))
    if abs(float(evaluate(f, f))) > 1e-6:
        raise Failure("not_zero_at_target", "content_loss(F, F) is not 0", "mean((F - P)**2) is 0 when F == P")
    if not np.isclose(float(evaluate(f, p)), float(evaluate(p, f)), rtol=1e-5):
        raise Failure("not_symmetric", "content_loss(F, P) != content_loss(P, F)", "square the difference")


CONTENT_LOSS = Exercise(
    name="content_loss", reference=content_reference, cases=_cases, mistakes=MISTAKES,
    checks=[_zero_at_target],
    tag_hints={"dict": ("no_dict_support", "right for one tensor but wrong on dicts {layer: features}",
                        "for dicts, return the sum over layers of w_l * content_loss(F_l, P_l), w_l = 1/L"),
               "layer_weights": ("layer_weights_ignored", "right with the default weights but wrong when "
                                 "layer_weights is given", "use layer_weights[l] when it is given")},
    hint="content_loss(F, P) = mean((F - P)**2); for dicts sum_l w_l * mean((F_l - P_l)**2), w_l = 1/L")
