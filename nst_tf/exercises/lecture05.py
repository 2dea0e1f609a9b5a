"""Checker of lecture 05 (notebooks/05_total_variation_and_full_recipe): ``total_variation_loss``."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .core import Exercise, Failure, Mistake
from .inputs import make_case


def _differences(image):
    """Neighbour differences along x (width, axis 2) and y (height, axis 1)."""
    return image[:, :, 1:] - image[:, :, :-1], image[:, 1:] - image[:, :-1]


def _tv(penalty=None, combine=lambda px, py: np.mean(px) + np.mean(py), differences=_differences):
    """A TV loss: ``combine`` of the penalized differences; penalty None: abs for l1, square for l2."""
    def loss(image, kind="l1"):
        f = penalty or (np.abs if kind == "l1" else np.square)
        dx, dy = differences(image)
        return combine(f(dx), f(dy))
    return loss


tv_reference = _tv()
tv_reference.__doc__ = "mean|dx| + mean|dy| (kind 'l1'), mean(dx**2) + mean(dy**2) (kind 'l2')."


def _cases(rng):
    """Both kinds; RGB and one-channel images; batches of 1 to 3; non-square; the default kind."""
    specs = [((2, 5, 7, 3), "l1", False), ((2, 5, 7, 3), "l2", False), ((1, 6, 4, 3), "l1", True),
             ((1, 6, 4, 3), "l2", True), ((3, 3, 8, 1), "l2", False), ((1, 5, 5, 3), "l1", False),
             ((1, 4, 9, 3), None, False)]
    cases = []
    for shape, kind, float64 in specs:
        image = rng.uniform(size=shape)
        args, tags = ((image,), {"defaults"}) if kind is None else ((image, kind), {kind})
        cases.append(make_case(f"{kind or 'default kind'}, image", args, float64, tags=tags))
    return cases


def _cropped(image):
    """keras-io's crop: both differences taken on image[:, :-1, :-1], losing the last row and column."""
    corner = image[:, :-1, :-1]
    return image[:, :-1, 1:] - corner, image[:, 1:, :-1] - corner


def _along_channels(image):
    return image[..., 1:] - image[..., :-1]


def _sums_per_image(px, py):
    """tf.image.total_variation: a sum per image, shape [B]."""
    return np.sum(px, axis=(1, 2, 3)) + np.sum(py, axis=(1, 2, 3))


MISTAKES = [
    Mistake("tv_one_direction", (_tv(combine=lambda px, py: np.mean(px)), _tv(combine=lambda px, py: np.mean(py))),
            "only one direction is penalized", "add both: differences along x (axis 2) and y (axis 1)"),
    Mistake("squares_for_l1", (_tv(penalty=np.square),), "kind='l1' squares the differences",
            "l1 takes absolute values (tf.abs), l2 squares (tf.square)"),
    Mistake("kind_ignored", (_tv(penalty=np.abs),), "kind='l2' gives the l1 loss: kind is ignored",
            "l2 squares the differences: penalty = tf.abs if kind == 'l1' else tf.square"),
    Mistake("sum_instead_of_mean", (_tv(combine=lambda px, py: np.sum(px) + np.sum(py)),),
            "the differences are summed instead of averaged",
            "use tf.reduce_mean for each direction, so the weight does not depend on the image size"),
    Mistake("tf_image_total_variation", (_tv(penalty=np.abs, combine=_sums_per_image),),
            "this is tf.image.total_variation: one sum per image, absolute values, any kind",
            "the course's loss is a scalar: mean|dx| + mean|dy| (squares for l2)"),
    Mistake("cropped_differences", (_tv(differences=_cropped),),
            "the last row and column are left out (keras-io's cropped differences)",
            "dx = x[:, :, 1:] - x[:, :, :-1] and dy = x[:, 1:] - x[:, :-1], each on the whole image"),
    Mistake("differences_along_channels", (_tv(differences=lambda x: (_differences(x)[0], _along_channels(x))),
                                           _tv(differences=lambda x: (_along_channels(x), _differences(x)[1]))),
            "one difference is taken along the channels (axis 3), not along x or y",
            "images are [B, H, W, C]: y is axis 1, x is axis 2"),
    Mistake("averaged_directions", (_tv(combine=lambda px, py: (np.mean(px) + np.mean(py)) / 2),),
            "the two directions are averaged instead of added",
            "add them: mean|dx| + mean|dy|"),
]


def _properties(fn, evaluate):
    """0 for a flat image; the same after adding a constant; the same for the transposed image."""
    rng = np.random.default_rng(5)
    image = rng.uniform(size=(1, 4, 6, 3)).astype(np.float32)
    for kind in ("l1", "l2"):
        value = float(evaluate(tf.constant(image), kind))
        checks = [("flat_image_not_zero", "a flat (constant) image has TV != 0",
                   float(evaluate(tf.fill([1, 5, 3, 3], 0.4), kind)), 0.0),
                  ("not_shift_invariant", "adding a constant to every pixel changes the TV",
                   float(evaluate(tf.constant(image + 0.25), kind)), value),
                  ("directions_unequal", "the TV of the transposed image (x and y swapped) is different",
                   float(evaluate(tf.constant(image.transpose(0, 2, 1, 3)), kind)), value)]
        for code, what, got, want in checks:
            if not np.isclose(got, want, rtol=1e-4, atol=1e-6):
                raise Failure(code, f"{what} (kind {kind!r})", "mean|dx| + mean|dy|, with squares for l2")


TOTAL_VARIATION_LOSS = Exercise(
    name="total_variation_loss", reference=tv_reference, cases=_cases, mistakes=MISTAKES,
    checks=[_properties],
    tag_hints={"defaults": ("wrong_defaults", "right with kind given but wrong when kind is left out",
                            "the default is kind='l1': def total_variation_loss(image, kind='l1')"),
               "l2": ("kind_ignored", "right for kind='l1' but wrong for kind='l2'",
                      "l2 squares the differences: penalty = tf.abs if kind == 'l1' else tf.square"),
               "l1": ("squares_for_l1", "right for kind='l2' but wrong for kind='l1'",
                      "l1 takes absolute values: tf.abs")},
    hint="total_variation_loss(x, 'l1') = mean|x[:, :, 1:] - x[:, :, :-1]| + mean|x[:, 1:] - x[:, :-1]|, "
         "'l2' squares")
