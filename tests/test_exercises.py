"""nst_tf.exercises: the course's functions pass, every known-bad answer (tests/exercise_bank.py) is
rejected with the name of its mistake, and broken, hard-coded or stub answers never crash ``check``."""

import collections

import keras
import numpy as np
import pytest
import tensorflow as tf

from exercise_bank import BAD, GOOD
from nst_tf import color, controls, features, lbfgs, losses
from nst_tf.exercises import EXERCISES, ExerciseFailed, check, names
from nst_tf.exercises.core import SEED


def keras_adam_clip_step(image, gradient, m, v, t, learning_rate=0.02, beta_1=0.99, beta_2=0.999, epsilon=0.1):
    """The course's real optimizer: Keras 3 Adam, its moments and step counter set, then the clip."""
    pixels = tf.Variable(image)
    adam = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
    adam.build([pixels])
    adam._momentums[0].assign(m)
    adam._velocities[0].assign(v)
    adam.iterations.assign(t - 1)
    adam.apply_gradients([(gradient, pixels)])
    pixels.assign(tf.clip_by_value(pixels, 0.0, 1.0))
    return pixels.numpy(), adam._momentums[0].numpy(), adam._velocities[0].numpy()


def course_loss_and_update(loss_fn, image, optimizer):
    """The body of nst_tf.optimize.make_step's step, with a plain loss function."""
    with tf.GradientTape() as tape:
        loss = loss_fn(image)
    optimizer.apply_gradients([(tape.gradient(loss, image), image)])
    image.assign(tf.clip_by_value(image, 0.0, 1.0))
    return loss


def course_lbfgs_direction(gradient, s_history, y_history):
    """nst_tf's two loops (the ones lbfgs_minimize runs, uncompiled), given rho = 1 / (y.s)."""
    rho_history = [1.0 / lbfgs._dot(s, y) for s, y in zip(s_history, y_history)]
    return lbfgs.two_loop_direction(gradient, s_history, y_history, rho_history)


def compiled_lbfgs_direction(gradient, s_history, y_history):
    """lbfgs_minimize's compiled version: fixed-size buffers, newest pair last, one unused row first."""
    size, count = len(s_history) + 1, len(s_history)
    pad = [tf.zeros_like(gradient)] * (size - count)
    rho = [0.0] * (size - count) + [float(1.0 / lbfgs._dot(s, y)) for s, y in zip(s_history, y_history)]
    return lbfgs._two_loop(gradient, tf.stack(pad + list(s_history)), tf.stack(pad + list(y_history)),
                           tf.constant(rho, tf.float64), tf.constant(count))


def tf_instance_norm(x, scale, offset, epsilon=1e-3):
    """TensorFlow's own ops, as nst_tf would write the layer (nst_tf has no instance_norm)."""
    mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + epsilon) * scale[:, None, None, :] + offset[:, None, None, :]


def course_upsample_conv(x, kernel, factor=2):
    """Keras's resize-then-convolve layers, as nst_tf.training builds the upsampling stage."""
    x = keras.layers.UpSampling2D(factor, interpolation="nearest", dtype=x.dtype)(x)
    p = kernel.shape[0] // 2
    return tf.nn.conv2d(tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT"), kernel, 1, "VALID")


def course_residual_block(x, kernel1, kernel2, epsilon=1e-3):
    """Johnson et al.'s block with TensorFlow's ops (instance norm from tf.nn.moments)."""
    def conv(h, kernel):
        return tf.nn.conv2d(tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT"), kernel, 1, "VALID")

    def norm(h):
        mean, variance = tf.nn.moments(h, axes=[1, 2], keepdims=True)
        return (h - mean) * tf.math.rsqrt(variance + epsilon)
    return x + norm(conv(tf.nn.relu(norm(conv(x, kernel1))), kernel2))


REFERENCES = [
    ("caffe_preprocess", features.caffe_preprocess), ("gram_matrix", losses.gram_matrix),
    ("style_loss", losses.style_loss), ("content_loss", losses.content_loss),
    ("total_variation_loss", losses.total_variation_loss), ("adam_clip_step", keras_adam_clip_step),
    ("loss_and_update", course_loss_and_update), ("guided_gram_matrix", controls.guided_gram_matrix),
    ("match_color", color.match_color), ("lbfgs_direction", course_lbfgs_direction),
    ("instance_norm", tf_instance_norm), ("upsample_conv", course_upsample_conv),
    ("residual_block", course_residual_block),
]


def _failure(name, fn) -> ExerciseFailed:
    with pytest.raises(ExerciseFailed) as info:
        check(name, fn)
    err = info.value
    lines = str(err).splitlines()
    assert 1 <= len(lines) <= 2 and all(lines), str(err)
    assert lines[0].startswith(f"{name}: ")
    assert len(lines) == 1 or lines[1].startswith("Hint: ")
    return err


def test_every_exercise_has_a_reference_here():
    assert sorted(name for name, _ in REFERENCES) == sorted(names())


@pytest.mark.parametrize("name, fn", REFERENCES, ids=[n for n, _ in REFERENCES])
def test_course_functions_pass(name, fn, capsys):
    assert check(name, fn) is True
    assert capsys.readouterr().out.startswith(f"{name}: correct")


@pytest.mark.parametrize("name, fn", GOOD, ids=[f"{n}-{f.__name__}" for n, f in GOOD])
def test_lecture_and_numpy_versions_pass(name, fn):
    assert check(name, fn) is True


@pytest.mark.parametrize("name, mistake, fn", BAD, ids=[f"{n}-{m}-{i}" for i, (n, m, _) in enumerate(BAD)])
def test_known_bad_answer_is_named(name, mistake, fn):
    err = _failure(name, fn)
    assert isinstance(err, AssertionError)
    assert (err.exercise, err.mistake) == (name, mistake), str(err)
    assert "Hint: " in str(err)


def test_the_bank_covers_every_named_mistake():
    counts = collections.Counter(name for name, _, _ in BAD)
    assert len(BAD) >= 30
    assert set(counts) == set(names()) and min(counts.values()) >= 4, counts
    banked = {(name, mistake) for name, mistake, _ in BAD}
    declared = {(name, m.code) for name, ex in EXERCISES.items() for m in ex.mistakes}
    assert declared <= banked, declared - banked


def test_mistakes_of_one_exercise_have_distinct_codes_and_hints():
    for exercise in EXERCISES.values():
        codes = [m.code for m in exercise.mistakes]
        assert len(codes) == len(set(codes)), exercise.name
        assert len({m.hint for m in exercise.mistakes}) == len(codes), exercise.name


def _first_answer(name):
    """The right answer for the checker's first input, returned whatever the input is."""
    exercise = EXERCISES[name]
    case = exercise.cases(np.random.default_rng(SEED))[0]
    want = exercise.reference(*case.ref_args)
    return tuple(want) if name == "adam_clip_step" else want


@pytest.mark.parametrize("name", [n for n in EXERCISES if n != "loss_and_update"])
def test_hard_coded_answer_fails(name):
    answer = _first_answer(name)
    assert _failure(name, lambda *args, **kwargs: answer).mistake != "unusable_answer"


def test_hard_coded_loss_fails():
    err = _failure("loss_and_update", lambda loss_fn, image, optimizer: 1.0)
    assert err.mistake == "wrong_values"


def _fingerprint(value):
    if isinstance(value, dict):
        return tuple(sorted((key, _fingerprint(item)) for key, item in value.items()))
    return round(float(np.sum(np.asarray(value, np.float64))), 3)


def _memorizing(name):
    """Right on exactly the checker's inputs (looked up), zeros for any other input."""
    exercise = EXERCISES[name]
    table = {_fingerprint(case.args[0]): exercise.reference(*case.ref_args)
             for case in exercise.cases(np.random.default_rng(SEED))}
    zeros = np.zeros_like(next(iter(table.values())))

    def answer(x, *args):
        found = table.get(_fingerprint(x), zeros)
        return tuple(found) if name == "adam_clip_step" else found
    return answer


@pytest.mark.parametrize("name", [n for n in EXERCISES if n != "loss_and_update"])
def test_an_answer_that_memorized_the_inputs_fails_on_new_ones(name):
    err = _failure(name, _memorizing(name))
    assert err.mistake == "wrong_values" and "new ones" in str(err)


@pytest.mark.parametrize("name", list(EXERCISES))
@pytest.mark.parametrize("broken, mistake", [
    (lambda *a, **k: 1 / 0, "raised"),
    (lambda *a, **k: None, "returned_none"),
    (lambda *a, **k: "the answer", "not_a_number"),
    (lambda *a, **k: {"a": 1}, "not_a_number"),
    (lambda: 1.0, "raised"),  # wrong signature
], ids=["raises", "none", "string", "dict", "no-arguments"])
def test_broken_answers_fail_without_crashing(name, broken, mistake):
    if name == "adam_clip_step" and mistake in ("returned_none", "not_a_number"):
        mistake = "wrong_return"  # not a tuple (image, m, v)
    assert _failure(name, broken).mistake == mistake


@pytest.mark.parametrize("value", [None, 3, "gram_matrix"])
def test_not_a_function_is_a_failure(value):
    assert _failure("gram_matrix", value).mistake == "not_callable"


@pytest.mark.parametrize("name, fn, mistake", [
    ("gram_matrix", lambda f: f, "wrong_shape"),
    ("gram_matrix", lambda f: losses.gram_matrix(f) * np.nan, "not_finite"),
    ("total_variation_loss", lambda x, kind="l1": tf.reduce_mean(tf.abs(x[:, 1:] - x[:, :-1]), [1, 2, 3]),
     "wrong_shape"),
    ("total_variation_loss", lambda x, kind="l1": np.float64(0.5), "wrong_values"),
    ("adam_clip_step", lambda image, g, m, v, t, *a: (image, m), "wrong_return"),
    ("adam_clip_step", lambda image, g, m, v, t, *a: (image, m, v[..., :1]), "wrong_return"),
])
def test_wrong_shapes_and_values_are_reported(name, fn, mistake):
    assert _failure(name, fn).mistake == mistake


def test_an_unknown_factor_is_reported_as_a_ratio():
    err = _failure("gram_matrix", lambda f: losses.gram_matrix(f) * 3.0)
    assert err.mistake == "wrong_scale" and "3 times" in str(err)


def test_a_bug_only_for_batches_is_named():
    def swaps_images(features):  # each image gets the Gram of another one
        return tf.reverse(losses.gram_matrix(features), axis=[0])
    assert _failure("gram_matrix", swaps_images).mistake == "batch_mixing"


def test_a_bug_only_for_non_square_maps_is_named():
    def transposed(features):
        f = tf.transpose(features, [0, 2, 1, 3]) if features.shape[1] == features.shape[2] else features[:, :1]
        return losses.gram_matrix(f)
    assert _failure("gram_matrix", transposed).mistake == "assumed_square"


@pytest.mark.parametrize("name", list(EXERCISES))
@pytest.mark.parametrize("stub", [NotImplementedError("exercise: write gram_matrix"), NotImplementedError()])
def test_a_stub_is_not_attempted_yet(name, stub, capsys):
    def answer(*args, **kwargs):
        raise stub
    assert check(name, answer) is False
    assert capsys.readouterr().out.strip() == f"{name}: not attempted yet"


def test_another_not_implemented_error_is_a_failure():
    def partial(image, kind="l1"):
        if kind == "l2":
            raise NotImplementedError("only l1 so far")
        return losses.total_variation_loss(image, kind)
    err = _failure("total_variation_loss", partial)
    assert err.mistake == "kind_ignored" and "l2" in str(err)


def test_unknown_exercise_name_is_a_value_error():
    with pytest.raises(ValueError, match="gram_matrix"):
        check("gramm_matrix", losses.gram_matrix)


def test_a_bug_in_nst_tf_cannot_make_a_wrong_answer_pass(monkeypatch):
    def summed(features):
        return tf.einsum("bhwc,bhwd->bcd", features, features)
    monkeypatch.setattr(losses, "gram_matrix", summed)
    monkeypatch.setattr(controls, "gram_matrix", summed, raising=False)
    assert _failure("gram_matrix", summed).mistake == "sum_instead_of_mean"


def test_a_compiled_answer_passes():
    assert check("gram_matrix", tf.function(losses.gram_matrix)) is True  # traced once per shape


def test_the_compiled_two_loops_of_lbfgs_minimize_pass():
    assert check("lbfgs_direction", compiled_lbfgs_direction) is True


@pytest.mark.parametrize("name", ["lbfgs_direction", "instance_norm", "upsample_conv", "residual_block"])
def test_the_inputs_tell_every_mistake_apart(name):
    """Every mistake's variants differ from the reference (and from one another) on some case by
    far more than the tolerance, so none can be named for a right answer or for another mistake."""
    exercise = EXERCISES[name]
    cases = exercise.cases(np.random.default_rng(SEED))
    outputs = {"reference": [exercise.reference(*case.ref_args) for case in cases]}
    for mistake in exercise.mistakes:
        for k, variant in enumerate(mistake.variants):
            outputs[f"{mistake.code}-{k}"] = [variant(*case.ref_args) for case in cases]
    labels = list(outputs)
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            assert any(np.shape(x) == np.shape(y) and not np.allclose(x, y, rtol=1e-2, atol=1e-2 * np.abs(x).max())
                       for x, y in zip(outputs[a], outputs[b])), (a, b)


def test_the_lbfgs_cases_have_empty_short_and_long_memories():
    cases = EXERCISES["lbfgs_direction"].cases(np.random.default_rng(SEED))
    memories = [(len(case.args[1]), int(case.args[0].shape[0])) for case in cases]
    assert {m for m, _ in memories} >= {0, 1} and sum(m >= 3 for m, _ in memories) >= 3
    assert any(m > n for m, n in memories) and any(m == n for m, n in memories)
    assert all(float(s @ y) > 0 for case in cases for s, y in zip(*case.ref_args[1:]))


def test_no_instance_norm_case_lets_a_missing_reshape_broadcast():
    """A [B, C] scale times [B, H, W, C] broadcasts silently when B == W; no case has that."""
    for case in EXERCISES["instance_norm"].cases(np.random.default_rng(SEED)):
        b, h, w, c = case.args[0].shape
        assert b == 1 or b != w, case.label


def test_lbfgs_reference_is_minus_the_bfgs_matrix_times_g():
    """The checker's reference against the explicit BFGS matrix H = V^T H V + rho s s^T from gamma I."""
    from nst_tf.exercises.lecture06 import _pairs, lbfgs_reference
    rng = np.random.default_rng(3)
    s_list, y_list = _pairs(rng, 7, 4)
    h = (s_list[-1] @ y_list[-1]) / (y_list[-1] @ y_list[-1]) * np.eye(7)
    for s, y in zip(s_list, y_list):
        v = np.eye(7) - np.outer(y, s) / (y @ s)
        h = v.T @ h @ v + np.outer(s, s) / (y @ s)
    g = rng.normal(size=7)
    np.testing.assert_allclose(lbfgs_reference(g, s_list, y_list), -h @ g, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(lbfgs_reference(g, [], []), -g)


def test_lbfgs_quadratic_needs_conjugate_steps():
    """Why the quadratic property uses A-conjugate steps: after n arbitrary independent ones the
    L-BFGS matrix is not A^-1 yet (a checker asking for -A^-1 g there would reject right answers)."""
    from nst_tf.exercises.lecture06 import _conjugate_steps, _spd, lbfgs_reference
    rng = np.random.default_rng(5)
    a = _spd(rng, 6)
    g = rng.normal(size=6)
    newton = -np.linalg.solve(a, g)
    arbitrary = [rng.normal(size=6) for _ in range(6)]
    conjugate = _conjugate_steps(rng, a)
    assert not np.allclose(lbfgs_reference(g, arbitrary, [a @ s for s in arbitrary]), newton, rtol=1e-3)
    np.testing.assert_allclose(lbfgs_reference(g, conjugate, [a @ s for s in conjugate]), newton, rtol=1e-10)


@pytest.mark.parametrize("code, wrong", [
    ("secant_equation_fails", lambda g, s, y: course_lbfgs_direction(g, s, y) if len(s) != 4 else -g),
    ("not_a_descent_direction", lambda g, s, y: course_lbfgs_direction(g, s, y) if len(s) != 5 else g),
    ("not_newton_on_quadratic", lambda g, s, y: course_lbfgs_direction(g, s, y) if len(s) != 7 else -g),
], ids=["secant", "descent", "newton"])
def test_each_lbfgs_property_catches_what_the_cases_miss(code, wrong):
    """Answers right on the checker's cases (their memories hold 0 to 6 pairs, and a 4- or 5-pair
    case never has n = 9 or 8) but wrong on one property's input are named by that property."""
    cases = EXERCISES["lbfgs_direction"].cases(np.random.default_rng(SEED))
    sizes = {(len(case.args[1]), int(case.args[0].shape[0])) for case in cases}
    assert not {(4, 9), (5, 8), (7, 6)} & sizes
    assert _failure("lbfgs_direction", lambda g, s, y: wrong(g, s, y) if (len(s), g.shape[0]) in
                    {(4, 9), (5, 8), (7, 6)} else course_lbfgs_direction(g, s, y)).mistake == code


def test_instance_norm_output_has_the_style_statistics():
    """The property the lecture states, on the reference: channel means are the offsets and
    standard deviations the scales (up to epsilon), per image."""
    from nst_tf.exercises.lecture07 import instance_norm_reference
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 6, 5, 3)) * 4 + 1
    scale, offset = rng.uniform(0.5, 2, size=(2, 3)), rng.normal(size=(2, 3))
    y = instance_norm_reference(x, scale, offset, 0.0)
    np.testing.assert_allclose(y.mean(axis=(1, 2)), offset, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=(1, 2)), scale, rtol=1e-12)
    np.testing.assert_allclose(instance_norm_reference(x, scale, offset), tf_instance_norm(
        tf.constant(x), tf.constant(scale), tf.constant(offset)).numpy(), rtol=1e-12)


def _largest_channel_mean(x):
    return float(tf.reduce_max(tf.abs(tf.reduce_mean(x, axis=[1, 2]))))


@pytest.mark.parametrize("code, wrong", [
    ("output_moments_wrong", lambda x, y: y + 0.5),
    ("not_shift_invariant", lambda x, y: y * (1.01 if _largest_channel_mean(x) > 4 else 1.0)),
    ("images_not_independent", lambda x, y: y + (0.1 if float(tf.reduce_max(tf.abs(x[0]))) > 40 else 0.0)),
], ids=["moments", "shift", "independent"])
def test_each_instance_norm_property_catches_what_the_cases_miss(code, wrong):
    """Answers right on the checker's cases ([B, H, W, C] never [3, 5, 6, 4] or [1, 5, 6, 4]) but
    wrong on one property's input are named by that property: the shift check shifts channel means
    beyond 4, the independence check makes image 0 ten times larger."""
    cases = EXERCISES["instance_norm"].cases(np.random.default_rng(SEED))
    property_shapes = {(3, 5, 6, 4), (1, 5, 6, 4)}
    assert not property_shapes & {tuple(case.args[0].shape) for case in cases}

    def answer(x, scale, offset, epsilon=1e-3):
        y = tf_instance_norm(x, scale, offset, epsilon)
        return wrong(x, y) if tuple(x.shape) in property_shapes else y
    assert _failure("instance_norm", answer).mistake == code


def test_upsample_conv_reference_is_keras_resize_then_convolve():
    """The checker's float64 reference against Keras's own layers (nearest UpSampling2D, then a
    VALID convolution of the reflection-padded map), and its bilinear mistake against tf.image.resize."""
    from nst_tf.exercises.lecture09 import _bilinear, upsample_conv_reference
    rng = np.random.default_rng(9)
    x, kernel = rng.normal(size=(2, 3, 5, 2)), rng.normal(size=(5, 5, 2, 3))
    np.testing.assert_allclose(upsample_conv_reference(x, kernel), course_upsample_conv(
        tf.constant(x), tf.constant(kernel)).numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_bilinear(x, 3), tf.image.resize(x, (9, 15)).numpy(), atol=1e-6)


@pytest.mark.parametrize("name, code, wrong", [
    ("upsample_conv", "border_on_constant_image",
     lambda args, y: y + (0.1 if float(tf.math.reduce_std(args[0])) < 1e-6 else 0.0)),
    ("residual_block", "not_identity_with_zero_kernels",
     lambda args, y: tf.nn.relu(y) if not np.any(np.asarray(args[1])) else y),
    ("residual_block", "images_not_independent",
     lambda args, y: y + (0.1 if float(tf.reduce_max(tf.abs(args[0][0]))) > 12 else 0.0)),
], ids=["constant", "zero-kernels", "independent"])
def test_each_lecture09_property_catches_what_the_cases_miss(name, code, wrong):
    """Answers right on the checker's cases (never a constant image, zero kernels or an image
    seven times larger than the others) but wrong on one property's input are named by it."""
    right = {"upsample_conv": course_upsample_conv, "residual_block": course_residual_block}[name]
    for case in EXERCISES[name].cases(np.random.default_rng(SEED)):
        assert np.asarray(case.args[0]).std() > 0.1 and np.any(np.asarray(case.args[1]))
        assert np.abs(np.asarray(case.args[0])).max() < 12
    assert _failure(name, lambda *args: wrong(args, right(*args))).mistake == code
