"""How ``check`` judges an answer: call it safely and compare it with a float64 NumPy reference
(``diagnose.py`` says what is wrong when it does not match).

An ``Exercise`` is a reference function, a list of test cases (random inputs of several shapes and
dtypes), the ``Mistake``s students make (each a NumPy function that reproduces the mistake), and
extra checks (properties such as symmetry, or a gradient).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

SEED = 2016  # fixed: a failure can be reproduced; the inputs are still random-looking numbers


class ExerciseFailed(AssertionError):
    """A wrong answer. ``str(err)``: one or two lines, what was wrong and a hint.
    ``err.mistake``: a short code such as "sum_instead_of_mean"; ``err.exercise``: the name."""

    def __init__(self, exercise: str, what: str, hint: str = "", mistake: str = "wrong_values"):
        super().__init__(f"{exercise}: {what}" + (f"\nHint: {hint}" if hint else ""))
        self.exercise, self.mistake = exercise, mistake


class Failure(Exception):
    """Raised inside a checker; ``check`` adds the exercise's name and turns it into ExerciseFailed."""

    def __init__(self, code: str, what: str, hint: str = ""):
        super().__init__(what)
        self.code, self.what, self.hint = code, what, hint


class NotAttempted(Exception):
    """The answer is still the stub: it raised NotImplementedError("exercise: ...")."""


@dataclass
class Case:
    """One input. ``args`` go to the student's function (TF tensors or NumPy arrays), ``ref_args``
    (the same numbers in float64 NumPy) to the reference and the mistakes. ``tags`` name what is
    special about it ("float64", "batch>1", "non-square", ...), so a pattern of failures can be named."""

    label: str
    args: tuple
    ref_args: tuple
    tags: frozenset = frozenset()
    want: np.ndarray | None = None  # the reference's answer, filled in by ``run``


@dataclass
class Mistake:
    """A classic mistake: ``variants`` are NumPy functions with the reference's signature that
    make it (one or a few ways of writing it), ``what`` says what the answer did, ``hint`` the fix."""

    code: str
    variants: tuple
    what: str
    hint: str


@dataclass
class Exercise:
    name: str
    reference: Callable  # float64 NumPy; written here, independent of nst_tf
    cases: Callable  # rng -> list[Case]
    hint: str  # the definition, shown when no known mistake matches
    mistakes: list = field(default_factory=list)
    checks: list = field(default_factory=list)  # (fn, evaluate) -> None, raising Failure
    tag_hints: dict = field(default_factory=dict)  # tag -> (code, what, hint), with diagnose.TAG_HINTS
    explain_error: Callable | None = None  # (case, exception) -> Failure | None
    call: Callable = lambda fn, case: fn(*case.args)
    convert: Callable = None  # raw result -> np.ndarray; default ``as_array``
    rtol: float = 1e-4  # float32 tolerance (relative to the largest expected value)
    rtol64: float = 1e-9  # when both the input and the answer are float64
    clip_ok: bool = False  # an answer clipped to [0, 1] is also right


class BadReturn(Exception):
    """The answer returned something that is not an array of numbers (or not the right tuple)."""

    def __init__(self, code: str, what: str):
        super().__init__(what)
        self.code = code


def describe(value) -> str:
    text = type(value).__name__
    return f"{text} {value!r:.40}" if isinstance(value, (str, bytes)) else text


def as_array(value) -> np.ndarray:
    """A tensor, NumPy array, list or Python number as an ndarray of numbers, or BadReturn."""
    if value is None:
        raise BadReturn("returned_none", "returned None (a missing `return`?)")
    if isinstance(value, (str, bytes, dict)):
        raise BadReturn("not_a_number", f"returned {describe(value)}, not a tensor of numbers")
    try:
        array = np.asarray(value)
    except Exception:
        raise BadReturn("not_a_number", f"returned {describe(value)}, not a tensor of numbers") from None
    if array.dtype.kind not in "fiub":
        raise BadReturn("not_a_number", f"returned {describe(value)}, not a tensor of numbers")
    return array


def short(err: BaseException) -> str:
    """An exception in one short line (TF's messages carry {{node ...}} and [Op:...] noise)."""
    text = re.sub(r"\{\{.*?\}\}|\[Op:.*", "", str(err)).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:110] if text else ''}".rstrip(": ")


def close(got: np.ndarray, want: np.ndarray, rtol: float) -> bool:
    """Same shape and values within rtol of the largest expected magnitude (NaN equals NaN)."""
    if got.shape != want.shape:
        return False
    got, want = got.astype(np.float64), np.asarray(want, np.float64)
    scale = np.max(np.abs(want[np.isfinite(want)]), initial=0.0)
    return bool(np.allclose(got, want, rtol=rtol, atol=rtol * max(scale, 1e-12), equal_nan=True))


def tolerance(exercise: Exercise, case: Case, got: np.ndarray) -> float:
    exact = "float64" in case.tags and got.dtype == np.float64
    return exercise.rtol64 if exact else exercise.rtol


def _is_stub(err: NotImplementedError) -> bool:
    message = str(err).strip().lower()
    return message == "" or message.startswith("exercise")


def attempt(exercise: Exercise, fn, case: Case):
    """The answer on one case as an ndarray, or the exception it raised (never raised here)."""
    try:
        raw = exercise.call(fn, case)
    except NotImplementedError as err:
        if _is_stub(err):
            raise NotAttempted from None
        return err
    except Exception as err:  # the student's bug, reported as a failure
        return err
    try:
        return (exercise.convert or as_array)(raw)
    except BadReturn as err:
        return err


def is_right(exercise: Exercise, case: Case, got) -> bool:
    if not isinstance(got, np.ndarray):
        return False
    wants = [case.want, np.clip(case.want, 0, 1)] if exercise.clip_ok else [case.want]
    return any(close(got, want, tolerance(exercise, case, got)) for want in wants)


def matches(exercise: Exercise, case: Case, got: np.ndarray, variant) -> bool:
    """Does the answer equal what ``variant`` (a mistake) gives? Any shape of the same size counts
    (a [C, C] answer matches a [1, C, C] mistake)."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():  # a mistake may divide by 0
            warnings.simplefilter("ignore")
            out = np.asarray(variant(*case.ref_args), np.float64)
    except Exception:
        return False
    if out.size != got.size or out.size == 0:
        return False
    outs = [out, np.clip(out, 0, 1)] if exercise.clip_ok else [out]
    return any(close(got.reshape(out.shape), o, tolerance(exercise, case, got)) for o in outs)
