"""Checkers of lecture 08 (notebooks/08_artistic_controls): ``guided_gram_matrix`` and
``match_color``."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .core import Exercise, Failure, Mistake
from .inputs import make_case, np_gram

# --- guided_gram_matrix(features, mask) -> [B, C, C] ----------------------------------------------


def _guided(weigh=lambda f, m: (f * m, f * m), divisor=lambda m, f: np.sum(m ** 2)):
    def gram(features, mask):
        left, right = weigh(features, mask)
        return np.einsum("bhwc,bhwd->bcd", left, right) / divisor(mask, features)
    return gram


guided_reference = _guided()
guided_reference.__doc__ = ("Features [B, h, w, C] times the mask [1, h, w, 1], then the Gram, "
                            "divided by the sum of mask**2 (not by H*W, not by the sum of the mask).")


def _cases(rng):
    """Soft masks (values in (0, 1)), a 0/1 mask and an all-ones mask; batches of 1 and 2."""
    specs = [((1, 5, 6, 4), "soft", False), ((2, 4, 7, 3), "soft", True), ((1, 6, 6, 5), "binary", False),
             ((2, 3, 5, 2), "soft", False), ((1, 4, 4, 3), "ones", True)]
    cases = []
    for shape, kind, float64 in specs:
        mask_shape = (1,) + shape[1:3] + (1,)
        mask = {"soft": rng.uniform(0.05, 1, size=mask_shape), "ones": np.ones(mask_shape),
                "binary": (rng.uniform(size=mask_shape) < 0.5).astype(float)}[kind]
        cases.append(make_case(f"{kind} mask, features", (rng.normal(size=shape), mask), float64,
                               tags={"soft"} if kind == "soft" else set()))
    return cases


GUIDED_MISTAKES = [
    Mistake("divided_by_mask_sum", (_guided(divisor=lambda m, f: np.sum(m)),),
            "divided by the sum of the mask; with soft masks it must be the sum of mask**2",
            "both factors carry the mask, so divide by tf.reduce_sum(tf.square(mask))"),
    Mistake("divided_by_all_positions", (_guided(divisor=lambda m, f: f.shape[1] * f.shape[2]),),
            "divided by H*W, so a small region gets a small Gram",
            "divide by the sum of mask**2: the region's own size"),
    Mistake("mask_applied_once", (_guided(weigh=lambda f, m: (f * m, f), divisor=lambda m, f: np.sum(m)),
                                  _guided(weigh=lambda f, m: (f * m, f))),
            "the mask multiplies only one factor of the Gram", "mask both: masked = features * mask"),
    Mistake("mask_ignored", (lambda f, m: np_gram(f),), "the mask is not used: this is the plain Gram",
            "multiply the features by the mask before the Gram"),
]


def _mask_scale(fn, evaluate):
    """Normalizing by sum(mask**2) makes the result blind to the mask's scale: m and 2m agree."""
    rng = np.random.default_rng(9)
    features = tf.constant(rng.normal(size=(1, 4, 5, 3)), tf.float32)
    mask = rng.uniform(0.1, 1, size=(1, 4, 5, 1)).astype(np.float32)
    if not np.allclose(evaluate(features, tf.constant(2 * mask)), evaluate(features, tf.constant(mask)), rtol=1e-4):
        raise Failure("mask_scale_matters", "doubling the mask changes the result",
                      "divide by tf.reduce_sum(tf.square(mask))")


GUIDED_GRAM_MATRIX = Exercise(
    name="guided_gram_matrix", reference=guided_reference, cases=_cases, mistakes=GUIDED_MISTAKES,
    checks=[_mask_scale],
    tag_hints={"soft": ("divided_by_mask_sum", "right for 0/1 masks but wrong for soft masks",
                        "divide by the sum of mask**2, which is the sum of the mask only for 0/1 masks")},
    hint="guided_gram_matrix(F, m) = einsum('bhwc,bhwd->bcd', F*m, F*m) / sum(m**2)")

# --- match_color(source, reference) -> source recoloured ------------------------------------------


def _power(cov, power):
    values, vectors = np.linalg.eigh(cov)
    return (vectors * values ** power) @ vectors.T


def _color(transform, mean=lambda s, r: r.mean(0), transpose=True, swap=False):
    """Each pixel x -> A (x - mean_s) + mean_r with A = transform(cov_s, cov_r)."""
    def match(source, reference):
        if swap:
            source, reference = reference, source
        x, r = np.reshape(source, (-1, 3)), np.reshape(reference, (-1, 3))
        a = transform(np.cov(x, rowvar=False, bias=True), np.cov(r, rowvar=False, bias=True))
        out = (x - x.mean(0)) @ (a.T if transpose else a) + mean(x, r)
        return out.reshape(np.shape(source))
    return match


def _cholesky_map(cov_s, cov_r):
    return np.linalg.cholesky(cov_r) @ np.linalg.inv(np.linalg.cholesky(cov_s))


def _sqrt_map(cov_s, cov_r):
    return _power(cov_r, 0.5) @ _power(cov_s, -0.5)


match_reference = _color(_sqrt_map)
match_reference.__doc__ = ("source with reference's colour mean and covariance: A = cov_r^(1/2) "
                           "cov_s^(-1/2) (symmetric roots), x -> A (x - mean_s) + mean_r, not clipped.")


def _image(rng, shape, scale, offset):
    """Colours with correlated channels: a brightness shared by R, G and B plus mixed colour noise,
    so every covariance is positive (like most photographs) and the covariance well conditioned."""
    brightness = rng.uniform(size=shape[:-1] + (1,))
    colour = rng.uniform(size=shape[:-1] + (3,)) @ (np.eye(3) + rng.uniform(0, 0.3, size=(3, 3)))
    return scale * (brightness + 0.5 * colour) + offset


def _color_cases(rng):
    """[H, W, 3] and [1, H, W, 3] images of different sizes; the result of a case stays in [0, 1]."""
    cases = []
    for (src, ref), float64 in [(((6, 8, 3), (5, 4, 3)), False), (((1, 7, 5, 3), (1, 6, 6, 3)), True),
                                (((1, 4, 9, 3), (4, 5, 3)), False)]:
        source = _image(rng, src, 0.6, 0.0)
        reference = _image(rng, ref, 0.3, 0.25)
        cases.append(make_case("source", (source, reference), float64, numpy=float64, shape=src))
    return cases


COLOR_MISTAKES = [
    Mistake("arguments_swapped", (_color(_sqrt_map, swap=True),), "the reference is recoloured, not the source",
            "match_color(source, reference) returns the *source* with the reference's colours"),
    Mistake("transform_not_transposed", (_color(_sqrt_map, transpose=False),),
            "rows of pixels are multiplied by A instead of A^T (A is not symmetric)",
            "for pixels as rows X [N, 3], A x is X @ A^T"),
    Mistake("roots_swapped", (_color(lambda s, r: _power(r, -0.5) @ _power(s, 0.5)),),
            "A = cov_r^(-1/2) cov_s^(1/2): the powers are on the wrong covariances",
            "A = cov_r^(1/2) cov_s^(-1/2): whiten the source, then colour it like the reference"),
    Mistake("cholesky_not_sqrt", (_color(_cholesky_map),),
            "this is the Cholesky map L_r L_s^-1; the lecture's map uses symmetric square roots",
            "A = cov_r^(1/2) cov_s^(-1/2), roots by eigendecomposition (V diag(sqrt(l)) V^T)"),
    Mistake("per_channel_only", (_color(lambda s, r: np.diag(np.sqrt(np.diag(r) / np.diag(s)))),),
            "each channel's mean and std are matched, but not the covariance between channels",
            "use the full 3x3 covariances: A = cov_r^(1/2) cov_s^(-1/2)"),
    Mistake("wrong_mean", (_color(_sqrt_map, mean=lambda s, r: s.mean(0)),),
            "the source's mean colour is added back instead of the reference's", "add mean_r at the end"),
    Mistake("elementwise_sqrt", (_color(lambda s, r: np.sqrt(r) @ np.linalg.inv(np.sqrt(s))),),
            "np.sqrt of a matrix takes the root of each entry, not the matrix square root",
            "matrix roots come from the eigendecomposition: V diag(l**0.5) V^T (np.linalg.eigh)"),
]


def _identity(fn, evaluate):
    """Matching an image to itself leaves it as it is."""
    rng = np.random.default_rng(13)
    image = _image(rng, (1, 5, 6, 3), 0.5, 0.0).astype(np.float32)
    if not np.allclose(evaluate(tf.constant(image), tf.constant(image)).reshape(image.shape), image, atol=1e-3):
        raise Failure("not_identity", "match_color(x, x) is not x", "x -> A (x - mean_s) + mean_r with A = I")


MATCH_COLOR = Exercise(
    name="match_color", reference=match_reference, cases=_color_cases, mistakes=COLOR_MISTAKES,
    checks=[_identity], clip_ok=True, rtol=1e-3, rtol64=1e-3,  # nst_tf adds eps=1e-5 to the covariance
    hint="x -> A (x - mean_s) + mean_r with A = cov_r^(1/2) cov_s^(-1/2) (symmetric roots, np.linalg.eigh)")
