"""Checker of lecture 06 (notebooks/06_speed_and_scale): ``lbfgs_direction``.

``lbfgs_direction(gradient, s_history, y_history) -> direction``: the L-BFGS search direction
-H g by the two-loop recursion (Nocedal & Wright, Algorithm 7.4), with the conventions of
``nst_tf.lbfgs.two_loop_direction``: flat vectors [n]; the histories are lists ordered oldest to
newest (the newest pair last); it returns the direction itself, minus H g. The one difference is
that the student computes rho_i = 1 / (y_i . s_i) (nst_tf's version takes a rho_history too):

    q = g;  for i = newest ... oldest:  alpha_i = rho_i s_i.q,  q -= alpha_i y_i
    r = gamma q,  gamma = s.y / y.y of the newest pair
    for i = oldest ... newest:  beta = rho_i y_i.r,  r += (alpha_i - beta) s_i
    direction = -r;  with no pairs at all (empty lists) it is -gradient

Properties checked besides the values: the secant equation (the direction for g = y_newest is
-s_newest), a descent direction (g.d < 0) whenever every y.s > 0, and Newton's step -A^-1 g on a
quadratic with Hessian A from n pairs y = A s (exact in float64; the checks allow float32
rounding, since an answer may compute in float32). For that the n steps must be A-conjugate
(s_i.A s_j = 0), as exact line searches make them: after n arbitrary independent steps the
L-BFGS matrix is still not A^-1 (BFGS keeps the older secant equations only for conjugate steps).
"""

from __future__ import annotations

import numpy as np

from .core import Case, Exercise, Failure, Mistake
from .inputs import for_reference, for_student

# --- the reference and the classic mistakes -------------------------------------------------------


def _two_loop(first="newest", second="oldest", rho=lambda s, y: 1.0 / (y @ s),
              gamma=lambda s, y: (s[-1] @ y[-1]) / (y[-1] @ y[-1]), alphas="per_pair",
              beta_sign=1.0, sign=-1.0):
    """The two-loop recursion in float64; each argument can switch on one classic mistake.
    ``first``/``second``: which end each loop starts from; ``gamma(S, Y)``: the initial scaling
    (None: the identity); ``alphas``: "per_pair", "last" (one variable, the last alpha computed,
    used for every pair) or "unreversed" (the first loop's list used in its own order)."""
    def direction(gradient, s_history, y_history):
        s_list = [np.asarray(s, np.float64) for s in s_history]
        y_list = [np.asarray(y, np.float64) for y in y_history]
        q = np.array(gradient, np.float64)
        m = len(s_list)
        order = list(range(m))
        computed = {}
        for i in (order[::-1] if first == "newest" else order):
            computed[i] = rho(s_list[i], y_list[i]) * (s_list[i] @ q)
            q = q - computed[i] * y_list[i]
        if m and gamma is not None:
            q = gamma(s_list, y_list) * q
        in_order = list(computed.values())  # the alphas in the order the first loop computed them
        for k, i in enumerate(order if second == "oldest" else order[::-1]):
            alpha = {"per_pair": computed.get(i), "unreversed": in_order[k] if in_order else None,
                     "last": in_order[-1] if in_order else None}[alphas]
            beta = rho(s_list[i], y_list[i]) * (y_list[i] @ q)
            q = q + beta_sign * (alpha - beta) * s_list[i]
        return sign * q
    return direction


lbfgs_reference = _two_loop()
lbfgs_reference.__doc__ = ("-H g by the two-loop recursion: newest pair first, gamma = s.y/y.y of the "
                           "newest pair, then oldest first; -g with no pairs.")

HINT = ("q = g; newest to oldest: a_i = rho_i s_i.q, q -= a_i y_i; r = gamma q (gamma = s.y/y.y, newest "
        "pair); oldest to newest: b = rho_i y_i.r, r += (a_i - b) s_i; return -r (rho_i = 1/(y_i.s_i))")

MISTAKES = [
    Mistake("loops_in_wrong_order", (_two_loop(first="oldest", second="newest"),),
            "the first loop runs oldest to newest and the second newest to oldest",
            "the first loop starts at the newest pair (reversed lists), the second at the oldest"),
    Mistake("first_loop_oldest_first", (_two_loop(first="oldest"),),
            "the first loop runs oldest to newest; it must start at the newest pair",
            "first loop over reversed(s_history), reversed(y_history): newest pair first"),
    Mistake("second_loop_newest_first", (_two_loop(second="newest"),),
            "the second loop processes the newest pairs first; it must start at the oldest",
            "second loop over s_history, y_history in their order (oldest first), with each pair's alpha"),
    Mistake("alpha_not_per_pair", (_two_loop(alphas="last"), _two_loop(alphas="unreversed")),
            "the second loop does not use each pair's own alpha from the first loop",
            "store alpha_i per pair in the first loop (a list) and reverse it for the second loop"),
    Mistake("rho_inverted", (_two_loop(rho=lambda s, y: y @ s),),
            "rho is y.s; it must be 1 / (y.s)", "rho_i = 1.0 / dot(y_i, s_i)"),
    Mistake("no_initial_scaling", (_two_loop(gamma=None),),
            "the initial scaling gamma is missing (H0 = I instead of gamma I)",
            "between the loops multiply q by gamma = s.y / y.y of the newest pair"),
    Mistake("gamma_inverted", (_two_loop(gamma=lambda s, y: (y[-1] @ y[-1]) / (s[-1] @ y[-1])),),
            "gamma is y.y / s.y; it is the inverse, s.y / y.y",
            "gamma = dot(s, y) / dot(y, y): a step length per unit of gradient change"),
    Mistake("gamma_from_oldest_pair", (_two_loop(gamma=lambda s, y: (s[0] @ y[0]) / (y[0] @ y[0])),),
            "gamma comes from the oldest pair; it must come from the newest (the last in the lists)",
            "gamma = dot(s_history[-1], y_history[-1]) / dot(y_history[-1], y_history[-1])"),
    Mistake("alpha_beta_swapped", (_two_loop(beta_sign=-1.0),),
            "the second loop adds (beta - alpha) s_i; it is (alpha - beta) s_i",
            "r += (alpha_i - beta) * s_i with beta = rho_i y_i.r"),
    Mistake("wrong_sign", (_two_loop(sign=1.0),), "returned +H g: the direction points uphill",
            "return -r: the search direction is minus H g"),
]

# --- inputs -----------------------------------------------------------------------------------------


def _spd(rng, n, low=0.3, high=3.0):
    """A random symmetric positive-definite matrix with eigenvalues in [low, high]."""
    basis, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return (basis * rng.uniform(low, high, size=n)) @ basis.T


def _pairs(rng, n, m):
    """m curvature pairs as an optimizer collects them: y = A s plus noise (a loss that is not
    quadratic), each with y.s >= 0.3 |s| |y| so rho stays moderate and the inverse is positive definite."""
    curvature = _spd(rng, n)
    s_list, y_list = [], []
    while len(s_list) < m:
        s = rng.normal(size=n) * rng.uniform(0.2, 2.0)
        y = curvature @ s + 0.3 * np.linalg.norm(s) * rng.normal(size=n) / np.sqrt(n)
        if s @ y >= 0.3 * np.linalg.norm(s) * np.linalg.norm(y):
            s_list.append(s)
            y_list.append(y)
    return s_list, y_list


def _case(label, gradient, s_list, y_list, float64, tags=()):
    """A Case: the student gets tensors (lists of tensors), the reference float64 NumPy arrays."""
    return Case(label=f"{'float64' if float64 else 'float32'} {label}",
                args=(for_student(gradient, float64), [for_student(s, float64) for s in s_list],
                      [for_student(y, float64) for y in y_list]),
                ref_args=(for_reference(gradient, float64), [for_reference(s, float64) for s in s_list],
                          [for_reference(y, float64) for y in y_list]),
                tags=frozenset(set(tags) | ({"float64"} if float64 else set())))


def _cases(rng):
    """No pairs, one pair, and 2 to 6 pairs (fewer, as many and more than n); n from 4 to 12."""
    specs = [(6, 0, False), (5, 1, True), (8, 3, False), (10, 5, True), (4, 4, False), (12, 2, False),
             (5, 6, True)]  # (n, m, float64)
    cases = []
    for n, m, float64 in specs:
        s_list, y_list = _pairs(rng, n, m)
        tags = {"no_pairs"} if m == 0 else set()
        cases.append(_case(f"gradient [{n}] with {m} pair{'s' * (m != 1)}", rng.normal(size=n) * 2,
                           s_list, y_list, float64, tags))
    return cases


# --- properties ---------------------------------------------------------------------------------------


def _tensors(vectors):
    return [for_student(v, True) for v in vectors]


def _secant(fn, evaluate):
    """H y_newest = s_newest: the direction for g = y of the newest pair is -s of that pair."""
    rng = np.random.default_rng(17)
    s_list, y_list = _pairs(rng, 9, 4)
    got = evaluate(for_student(y_list[-1], True), _tensors(s_list), _tensors(y_list))
    if got.shape != s_list[-1].shape or not np.allclose(got, -s_list[-1], rtol=1e-4, atol=1e-4):
        raise Failure("secant_equation_fails", "for g = y of the newest pair the direction is not -s of "
                      "that pair (H y = s fails)", HINT)


def _descent(fn, evaluate):
    """With every y.s > 0 the inverse-Hessian estimate is positive definite: g.d < 0 for any g."""
    rng = np.random.default_rng(19)
    s_list, y_list = _pairs(rng, 8, 5)
    for _ in range(4):
        gradient = rng.normal(size=8)
        direction = evaluate(for_student(gradient, True), _tensors(s_list), _tensors(y_list))
        if direction.shape != gradient.shape or not gradient @ direction < 0:
            raise Failure("not_a_descent_direction", "g.d >= 0 although every pair has y.s > 0", HINT)


def _conjugate_steps(rng, curvature):
    """n steps s_i with s_i.A s_j = 0 for i != j (Gram-Schmidt in the A inner product)."""
    steps = []
    for v in rng.normal(size=curvature.shape):
        for s in steps:
            v = v - (s @ curvature @ v) / (s @ curvature @ s) * s
        steps.append(v)
    return steps


def _newton_on_quadratic(fn, evaluate):
    """A quadratic with Hessian A: one older arbitrary pair, then n A-conjugate pairs y = A s.
    After them the L-BFGS matrix is A^-1 whatever came before, so the direction is -A^-1 g."""
    rng = np.random.default_rng(23)
    n = 6
    curvature = _spd(rng, n, 0.5, 3.0)
    s_list = [rng.normal(size=n)] + _conjugate_steps(rng, curvature)
    y_list = [curvature @ s for s in s_list]
    for _ in range(3):
        gradient = rng.normal(size=n)
        want = -np.linalg.solve(curvature, gradient)
        got = evaluate(for_student(gradient, True), _tensors(s_list), _tensors(y_list))
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max()):
            raise Failure("not_newton_on_quadratic", "on a quadratic with n conjugate pairs y = A s the "
                          "direction is not Newton's -A^-1 g", HINT)


LBFGS_DIRECTION = Exercise(
    name="lbfgs_direction", reference=lbfgs_reference, cases=_cases, mistakes=MISTAKES,
    checks=[_secant, _descent, _newton_on_quadratic],
    tag_hints={"no_pairs": ("empty_memory", "right with stored pairs but wrong (or an error) with none",
                            "with empty histories there is no gamma and no loop to run: return -gradient")},
    hint=HINT)
