"""Exercises that check themselves: ``check(name, fn)`` tests your version of a course function.

    from nst_tf.exercises import check
    check("gram_matrix", gram_matrix)   # True, or ExerciseFailed naming the mistake

``fn`` has the same signature as the ``nst_tf`` function it re-implements. ``check`` returns True
(and prints one line) when ``fn`` is right. Otherwise it raises ``ExerciseFailed``, an
``AssertionError`` whose message is one or two lines: what was wrong, and a hint. Its ``.mistake``
is a short code ("sum_instead_of_mean", "rgb_not_bgr", ...) for scripts and graders.

**Not attempted yet.** If ``fn`` is still the student edition's stub, i.e. it raises
``NotImplementedError("exercise: ...")`` (or a bare ``NotImplementedError()``), ``check`` prints
"<name>: not attempted yet" and returns False without raising, so a notebook still runs top to
bottom before you have solved everything.

What a checker does (so a hard-coded or shape-specific answer cannot pass): it compares ``fn`` with
a float64 NumPy reference written in this package (independent of ``nst_tf``'s own code) on
several random inputs (batches of more than one image, non-square maps, different channel counts,
float32 and float64), then checks properties (symmetry, invariances, scaling laws, a gradient
against finite differences where the lecture relies on it). A broken answer (an exception, None, a
wrong shape, a string) is reported as a failure, never a crash. When the answer is wrong, the
checker compares it with the classic mistakes of that exercise and names the one that matches.

The exercises, by lecture (each module's docstrings say what is tested):

- 01 ``caffe_preprocess(images)``
- 02 ``gram_matrix(features)``, ``style_loss(features, target_grams, layer_weights=None)``
- 03 ``content_loss(features, target, layer_weights=None)``
- 04 ``adam_clip_step(image, gradient, m, v, t, learning_rate=0.02, beta_1=0.99, beta_2=0.999,
  epsilon=0.1) -> (image, m, v)`` and ``loss_and_update(loss_fn, image, optimizer) -> loss``
  (signatures and the exact Adam formula in ``lecture04``)
- 05 ``total_variation_loss(image, kind="l1")``
- 06 ``lbfgs_direction(gradient, s_history, y_history) -> direction`` (the two-loop recursion,
  conventions of ``nst_tf.lbfgs.two_loop_direction`` without its rho_history; see ``lecture06``)
- 07 ``instance_norm(x, scale, offset, epsilon=1e-3)``, scale and offset [B, C] (conditional
  instance normalization, biased variance; see ``lecture07``)
- 08 ``guided_gram_matrix(features, mask)``, ``match_color(source, reference)``
- 09 ``upsample_conv(x, kernel, factor=2)`` (nearest-neighbour resize, then a reflection-padded
  convolution) and ``residual_block(x, kernel1, kernel2, epsilon=1e-3)`` (Johnson et al.'s block;
  see ``lecture09``)
"""

from __future__ import annotations

import numpy as np

from .core import (SEED, BadReturn, Case, Exercise, ExerciseFailed, Failure, NotAttempted, attempt,
                   describe, is_right, short)
from .diagnose import diagnose
from .lecture01 import CAFFE_PREPROCESS
from .lecture02 import GRAM_MATRIX, STYLE_LOSS
from .lecture03 import CONTENT_LOSS
from .lecture04 import ADAM_CLIP_STEP, LOSS_AND_UPDATE
from .lecture05 import TOTAL_VARIATION_LOSS
from .lecture06 import LBFGS_DIRECTION
from .lecture07 import INSTANCE_NORM
from .lecture08 import GUIDED_GRAM_MATRIX, MATCH_COLOR
from .lecture09 import RESIDUAL_BLOCK, UPSAMPLE_CONV

__all__ = ["EXERCISES", "ExerciseFailed", "check", "names"]

EXERCISES = {exercise.name: exercise for exercise in (
    CAFFE_PREPROCESS, GRAM_MATRIX, STYLE_LOSS, CONTENT_LOSS, ADAM_CLIP_STEP, LOSS_AND_UPDATE,
    TOTAL_VARIATION_LOSS, LBFGS_DIRECTION, INSTANCE_NORM, GUIDED_GRAM_MATRIX, MATCH_COLOR, UPSAMPLE_CONV,
    RESIDUAL_BLOCK)}


def names() -> list[str]:
    """The names ``check`` knows."""
    return list(EXERCISES)


def check(name: str, fn) -> bool:
    """Test ``fn`` against exercise ``name``: True if right, False (printed "not attempted yet")
    for the student edition's stub, otherwise ExerciseFailed with the diagnosis."""
    if name not in EXERCISES:
        raise ValueError(f"no exercise named {name!r}; the exercises are: {', '.join(EXERCISES)}")
    try:
        count = run(EXERCISES[name], fn)
    except NotAttempted:
        print(f"{name}: not attempted yet")
        return False
    except Failure as failure:
        raise ExerciseFailed(name, failure.what, failure.hint, failure.code) from None
    except Exception as err:  # an answer so odd that the checker itself tripped: still a failure
        raise ExerciseFailed(name, f"the answer could not be checked ({short(err)})",
                             "run it on a small input and look at what it returns",
                             "unusable_answer") from None
    print(f"{name}: correct ({count} checks passed)")
    return True


# --- how check works ---------------------------------------------------------------------------

def run(exercise: Exercise, fn) -> int:
    """Check ``fn``; return the number of cases and checks passed, or raise Failure/NotAttempted."""
    if not callable(fn):
        raise Failure("not_callable", f"got a {describe(fn)}, not a function",
                      f"pass the function itself: check({exercise.name!r}, {exercise.name})")
    cases = prepared_cases(exercise, SEED)
    results = [attempt(exercise, fn, case) for case in cases]
    if not all(is_right(exercise, case, got) for case, got in zip(cases, results)):
        raise diagnose(exercise, cases, results)
    for case in prepared_cases(exercise, SEED + 1):  # an answer cannot just look the first ones up
        if not is_right(exercise, case, attempt(exercise, fn, case)):
            raise Failure("wrong_values", f"right on the first inputs but wrong on new ones ({case.label})",
                          exercise.hint)
    for extra in exercise.checks:
        extra(fn, lambda *args: evaluate(exercise, fn, *args))
    return 2 * len(cases) + len(exercise.checks)


def prepared_cases(exercise: Exercise, seed: int) -> list:
    """The exercise's cases drawn with ``seed``, each with the reference's answer."""
    cases = exercise.cases(np.random.default_rng(seed))
    for case in cases:
        case.want = np.asarray(exercise.reference(*case.ref_args), np.float64)
    return cases


def evaluate(exercise: Exercise, fn, *args) -> np.ndarray:
    """The answer for the inputs of a property check, as float64; a broken answer raises Failure."""
    got = attempt(exercise, fn, Case("property input", args, args))
    if isinstance(got, BadReturn):
        raise Failure(got.code, str(got), exercise.hint)
    if isinstance(got, Exception):
        raise Failure("raised", f"raised {short(got)}", "run it on a small input to see the traceback")
    return got.astype(np.float64)
