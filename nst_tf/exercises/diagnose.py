"""When an answer is wrong, say why. In order:

1. an exception or an unusable return value (None, a string, a wrong tuple);
2. a known mistake whose outputs match the answer on *every* case;
3. a pattern: right on every case except those with a tag (float64, batch > 1, non-square, ...);
4. a wrong shape, values that are not finite, a constant factor, or just wrong values.
"""

from __future__ import annotations

import numpy as np

from .core import BadReturn, Exercise, Failure, close, is_right, matches, short

TAG_HINTS = {
    "float64": ("fixed_float32", "right on float32 input but fails on float64 input",
                "use the input's dtype (x.dtype) instead of a fixed tf.float32"),
    "batch>1": ("batch_mixing", "right for one image but wrong when the batch has several",
                "treat every image of the batch on its own: keep the batch axis b"),
    "non-square": ("assumed_square", "right on square inputs but wrong when height != width",
                   "take H and W from their own axes: shape[1] is H, shape[2] is W"),
    "defaults": ("wrong_defaults", "right with every argument given but wrong with the defaults",
                 "check the default values in the signature"),
}


def diagnose(exercise: Exercise, cases: list, results: list) -> Failure:
    errors = [(case, got) for case, got in zip(cases, results) if isinstance(got, Exception)]
    for case, err in errors:
        if isinstance(err, BadReturn):
            return Failure(err.code, f"{err} (on {case.label})", exercise.hint)
        known = exercise.explain_error(case, err) if exercise.explain_error else None
        if known is not None:
            return known
    if not errors:
        for mistake in exercise.mistakes:
            if any(all(matches(exercise, case, got, variant) for case, got in zip(cases, results))
                   for variant in mistake.variants):
                return Failure(mistake.code, mistake.what, mistake.hint)
    pattern = _tag_pattern(exercise, cases, results)
    if pattern is not None:
        return pattern
    if errors:
        case, err = errors[0]
        return Failure("raised", f"raised {short(err)} (on {case.label})",
                       "run it on a small input in a cell to see the traceback")
    return _wrong_values(exercise, cases, results)


def _tag_pattern(exercise: Exercise, cases: list, results: list) -> Failure | None:
    """Right on every case but those with one tag (and some without it passed): name the tag."""
    ok = [is_right(exercise, case, got) for case, got in zip(cases, results)]
    if not any(ok):
        return None
    hints = {**TAG_HINTS, **exercise.tag_hints}
    for tag, (code, what, hint) in hints.items():
        tagged = [tag in case.tags for case in cases]
        if all(good != has for good, has in zip(ok, tagged)):
            return Failure(code, what, hint)
    return None


def _wrong_values(exercise: Exercise, cases: list, results: list) -> Failure:
    case, got = next((c, g) for c, g in zip(cases, results) if not is_right(exercise, c, g))
    want = case.want
    if got.shape != want.shape:
        return Failure("wrong_shape", f"returned shape {list(got.shape)} for {case.label}, "
                       f"expected {list(want.shape)}", exercise.hint)
    if not np.all(np.isfinite(got)):
        return Failure("not_finite", f"returned NaN or inf for {case.label}", exercise.hint)
    ratio = _common_ratio(cases, results)
    if ratio is not None:
        return Failure("wrong_scale", f"values are {ratio:.4g} times the expected ones: a constant "
                       "factor is off", exercise.hint)
    error = np.max(np.abs(got.astype(np.float64) - want))
    return Failure("wrong_values", f"wrong values for {case.label} (largest error {error:.3g})",
                   exercise.hint)


def _common_ratio(cases: list, results: list) -> float | None:
    """The factor k if every answer is k times the expected one (k != 0, 1), else None."""
    ratios = []
    for case, got in zip(cases, results):
        if not isinstance(got, np.ndarray) or got.shape != case.want.shape or not np.any(case.want):
            return None
        got = got.astype(np.float64)
        ratios.append(float(np.sum(got * case.want) / np.sum(case.want * case.want)))
        if not close(got, ratios[-1] * case.want, 1e-3):
            return None
    if not ratios or abs(ratios[0] - 1) < 1e-3 or ratios[0] == 0:
        return None
    return ratios[0] if np.allclose(ratios, ratios[0], rtol=1e-3) else None
