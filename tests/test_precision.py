"""Precision defaults, float16 dynamic loss scaling, seeding with deterministic kernels."""

import types

import numpy as np
import pytest
import tensorflow as tf

import nst_tf.objective
from nst_tf import config, loss_scale, optimize, precision
from nst_tf.features import FeatureExtractor
from nst_tf.loss_scale import DynamicLossScale
from nst_tf.losses import gram_matrix
from nst_tf.objective import make_objective
from nst_tf.progress import Recorder

# --- 1. which precision "auto" picks ------------------------------------------------------------


def _fake_hardware(monkeypatch, capability=None, cpu_flags=()):
    gpus = [] if capability is None else [types.SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")]
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_device_details",
                        lambda device: {"device_name": "fake", "compute_capability": capability})
    monkeypatch.setattr(precision, "_cpu_flags", lambda: set(cpu_flags))


@pytest.mark.parametrize("capability,expected", [
    ((7, 5), "float32"),  # T4: fp16 units only; float16 would need loss scaling -> safe float32
    ((7, 0), "float32"),  # V100
    ((6, 0), "float32"),  # P100
    ((8, 0), "mixed_bfloat16"),  # A100
    ((8, 9), "mixed_bfloat16"),  # L4
    ((9, 0), "mixed_bfloat16"),  # H100
])
def test_gpu_precision_default_never_picks_float16(monkeypatch, capability, expected):
    _fake_hardware(monkeypatch, capability, cpu_flags={"avx2"})
    assert precision.detect_precision() == expected
    monkeypatch.delenv("NST_PRECISION", raising=False)
    assert precision.resolve_precision("auto") == expected
    monkeypatch.setenv("NST_PRECISION", "mixed_float16")  # still available, by choice
    assert precision.resolve_precision("auto") == "mixed_float16"
    assert precision.resolve_precision("mixed_float16") == "mixed_float16"


@pytest.mark.parametrize("flags,expected", [({"avx2", "avx512f"}, "float32"), ({"avx512_bf16"}, "mixed_bfloat16"),
                                            ({"amx_bf16", "amx_tile"}, "mixed_bfloat16"), (set(), "float32")])
def test_cpu_precision_follows_the_bf16_flags(monkeypatch, flags, expected):
    _fake_hardware(monkeypatch, None, cpu_flags=flags)
    assert precision.detect_precision() == expected


# --- 2. dynamic loss scaling --------------------------------------------------------------------


def keras_rule(flags, initial, interval, max_scale=loss_scale.MAX_SCALE):
    """LossScaleOptimizer's rule in plain Python: (scale, counter, applied) after each step."""
    scale, counter, out = initial, 0, []
    for finite in flags:
        if not finite:
            scale, counter = scale / 2, 0
        elif counter == interval - 1:
            scale, counter = min(2 * scale, max_scale), 0
        else:
            counter += 1
        out.append((scale, counter, finite))
    return out


@pytest.mark.parametrize("compiled", [False, True])
def test_scaler_follows_the_keras_rule(compiled):
    rng = np.random.default_rng(0)
    flags = [True] * 7 + [False] + [True] * 3 + [False, False] + [bool(u > 0.15) for u in rng.uniform(size=40)]
    scaler = DynamicLossScale(initial_scale=2.0 ** 10, growth_interval=3)
    update = tf.function(scaler.update) if compiled else scaler.update
    good, bad = tf.ones([2, 3]), tf.constant([[1.0, np.inf, 0.0], [0.0, 0.0, 0.0]])
    nan = tf.constant([[np.nan, 1.0, 0.0], [0.0, 0.0, 0.0]])
    for i, (finite, (scale, counter, applied)) in enumerate(zip(flags, keras_rule(flags, 2.0 ** 10, 3))):
        assert bool(update(good if finite else (bad if i % 2 else nan))) is applied
        assert float(scaler.scale) == scale and int(scaler.finite_steps) == counter, i
    assert int(scaler.skipped) == flags.count(False)
    capped = DynamicLossScale(initial_scale=2.0 ** 23, growth_interval=1, max_scale=2.0 ** 24)
    for _ in range(3):
        capped.update(good)
    assert float(capped.scale) == 2.0 ** 24


def _objectives(content_weight, style_weight, scaler=None):
    """The same 2-layer objective with float16 and float32 features (identical random weights)."""
    layers, content = ["block1_conv1", "block2_conv1"], ["block2_conv1"]
    e16 = FeatureExtractor(layers, content, weights="random", precision="mixed_float16")
    e32 = FeatureExtractor(layers, content, weights="random", precision="float32")
    e32.model.set_weights(e16.model.get_weights())
    rng = np.random.default_rng(0)
    image = tf.constant(rng.uniform(size=(1, 32, 32, 3)), tf.float32)
    style = tf.constant(rng.uniform(size=(1, 32, 32, 3)) ** 3, tf.float32)

    def build(extractor, **kwargs):
        f, s = extractor(0.8 * image + 0.1), extractor(style)
        return make_objective(extractor, image.shape, content_targets={n: f[n] for n in content},
                              style_targets={n: gram_matrix(s[n]) for n in layers},
                              content_weight=content_weight, style_weight=style_weight, tv_weight=0.0, **kwargs)

    return build(e16, scaler=scaler), build(e32), image


@pytest.fixture(scope="module")
def tiny_weight_objectives():
    # Weights 1e-5 / 1e-11: the true pixel gradient is ~1e-4 at most, so the gradient reaching
    # the first (float16) convolution is < 6e-8, float16's smallest number: it underflows.
    return _objectives(1e-5, 1e-11)


def test_float16_gradient_underflows_without_scaling_and_matches_float32_with_it(tiny_weight_objectives):
    o16, o32, image = tiny_weight_objectives
    assert o16.uses_loss_scale and float(o16.loss_scale) == loss_scale.INITIAL_SCALE == 2.0 ** 15
    assert not o32.uses_loss_scale and o32.scaler is None and float(o32.loss_scale) == 1.0
    reference = o32(image)[1].numpy().ravel().astype(np.float64)
    assert np.all(reference != 0.0)

    o16.loss_scale.assign(1.0)  # what the old code started with
    unscaled = o16(image)[1].numpy().ravel()
    assert np.mean(unscaled == 0.0) > 0.9, np.mean(unscaled == 0.0)

    o16.loss_scale.assign(loss_scale.INITIAL_SCALE)
    losses, gradient = o16(image)
    assert bool(o16.scaler.update(gradient))  # finite: the dynamic rule keeps 2**15
    scaled = gradient.numpy().ravel().astype(np.float64)
    assert np.mean(scaled == 0.0) < 0.01
    # Stated tolerance: float16 rounds every activation to 11 significant bits (~5e-4); through two
    # convolutions forward and back that gives ~1% in the gradient (measured 0.8%). Underflow or a
    # wrong unscaling would be off by 100% (zeros) or by a power of two.
    cosine = scaled @ reference / (np.linalg.norm(scaled) * np.linalg.norm(reference))
    relative = np.linalg.norm(scaled - reference) / np.linalg.norm(reference)
    assert cosine > 0.999 and relative < 0.03, (cosine, relative)
    assert float(losses["total"]) == pytest.approx(float(o32(image)[0]["total"]), rel=5e-3)


def _adam(image):
    import keras

    adam = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)
    adam.build([image])
    return adam


def test_adam_skips_a_non_finite_step_and_halves_the_scale(tiny_weight_objectives):
    o16, _, start = tiny_weight_objectives
    # A fresh objective sharing nothing with the module fixture, its scale far too high: 2**40
    # turns the float16 gradients into inf (with these weights anything above ~2**35 does).
    o16 = _objectives(1e-5, 1e-11, scaler=DynamicLossScale(initial_scale=2.0 ** 40, growth_interval=3))[0]
    image = tf.Variable(start)
    adam = _adam(image)
    step = optimize.make_step(None, image, adam, content_targets=None, style_targets=None, content_weight=0,
                              style_weight=0, tv_weight=0, objective=o16)
    scale, skipped = 2.0 ** 40, 0
    while int(adam.iterations) == 0:
        losses = step()
        assert np.isfinite(float(losses["total"]))  # the forward pass is fine, the gradient is not
        if int(adam.iterations) == 0:  # skipped: pixels untouched, the scale halved
            skipped += 1
            scale /= 2
            np.testing.assert_array_equal(image.numpy(), start.numpy())
            moments = [v for v in adam.variables if "momentum" in v.path or "velocity" in v.path]
            assert moments and all(float(tf.reduce_max(tf.abs(v))) == 0.0 for v in moments)
        assert skipped < 20
    assert skipped >= 1 and int(o16.scaler.skipped) == skipped
    assert float(o16.loss_scale) == scale and int(o16.scaler.finite_steps) == 1
    assert not np.array_equal(image.numpy(), start.numpy())  # the finite step was applied


def test_adam_doubles_the_scale_after_n_finite_steps(tiny_weight_objectives):
    _, _, start = tiny_weight_objectives
    o16 = _objectives(1e-5, 1e-11, scaler=DynamicLossScale(initial_scale=2.0 ** 12, growth_interval=3))[0]
    image = tf.Variable(start)
    adam = _adam(image)
    step = optimize.make_step(None, image, adam, content_targets=None, style_targets=None, content_weight=0,
                              style_weight=0, tv_weight=0, objective=o16)
    seen = []
    for _ in range(7):
        step()
        seen.append((float(o16.loss_scale), int(o16.scaler.finite_steps)))
    assert seen == [(2.0 ** 12, 1), (2.0 ** 12, 2), (2.0 ** 13, 0), (2.0 ** 13, 1), (2.0 ** 13, 2),
                    (2.0 ** 14, 0), (2.0 ** 14, 1)]
    assert int(adam.iterations) == 7 and int(o16.scaler.skipped) == 0
    assert step.experimental_get_tracing_count() == 1


def test_lbfgs_halves_and_re_evaluates_a_non_finite_evaluation(monkeypatch):
    """stylize(optimizer="lbfgs") on float16 features whose loss scale starts far too high: each
    non-finite evaluation is repeated at the same point with half the scale; the line search only
    ever sees finite gradients, and num_steps still counts the evaluations it saw."""
    scalers, attempts = [], []
    real = nst_tf.objective.DynamicLossScale

    def factory(**kwargs):
        scalers.append(real(initial_scale=2.0 ** 40, **kwargs))
        return scalers[-1]

    monkeypatch.setattr(nst_tf.objective, "DynamicLossScale", factory)
    original = loss_scale.evaluate

    def spy(objective, x, **kwargs):  # records every call of the objective within one evaluation
        tries = []

        def recording(image):
            tries.append((float(objective.loss_scale), image.numpy().copy()))
            return objective(image)

        recording.scaler, recording.loss_scale = objective.scaler, objective.loss_scale
        attempts.append(tries)
        return original(recording, x, **kwargs)

    monkeypatch.setattr(loss_scale, "evaluate", spy)
    layers = ["block1_conv1", "block2_conv1"]
    extractor = FeatureExtractor(layers, ["block2_conv1"], weights="random", precision="mixed_float16")
    rng = np.random.default_rng(1)
    content = tf.constant(rng.uniform(size=(1, 32, 32, 3)), tf.float32)
    style = tf.constant(rng.uniform(size=(1, 32, 32, 3)) ** 3, tf.float32)
    result = optimize.stylize(content, style, optimizer="lbfgs", num_steps=8, extractor=extractor, progress=False,
                              content_weight=1e-5, style_weight=1e-11, tv_weight=0.0)
    (scaler,) = scalers
    totals = result.history["total"]
    assert len(totals) == len(attempts) == 8 and all(np.isfinite(totals))
    retried = [tries for tries in attempts if len(tries) > 1]
    assert retried and sum(len(t) - 1 for t in attempts) == int(scaler.skipped)
    for tries in retried:  # the same point again, each time with half the scale
        assert all(np.array_equal(image, tries[0][1]) for _, image in tries)
        assert [scale for scale, _ in tries] == [tries[0][0] / 2 ** i for i in range(len(tries))]
    assert float(scaler.scale) == 2.0 ** 40 / 2 ** int(scaler.skipped)  # no growth within 8 steps
    assert min(totals) < totals[0]  # L-BFGS went on to lower the loss: no silent zero step
    assert not np.array_equal(result.image.numpy(), content.numpy())


def test_evaluate_gives_up_after_bounded_retries_and_keeps_a_non_finite_loss():
    scaler = DynamicLossScale(initial_scale=2.0 ** 15)
    evaluations = []

    def always_nan(x):
        evaluations.append(float(scaler.scale))
        return {"total": tf.constant(1.0)}, tf.fill([3], np.nan)

    always_nan.scaler = scaler
    with pytest.raises(FloatingPointError, match="halvings of the loss scale"):
        loss_scale.evaluate(always_nan, tf.zeros([3]), max_retries=5)
    assert evaluations == [2.0 ** (15 - i) for i in range(6)] and int(scaler.skipped) == 6

    def loss_overflows(x):
        evaluations.append(None)
        return {"total": tf.constant(np.inf, tf.float32)}, tf.fill([3], np.nan)

    loss_overflows.scaler, evaluations[:] = scaler, []
    losses, _ = loss_scale.evaluate(loss_overflows, tf.zeros([3]))
    assert evaluations == [None] and np.isinf(float(losses["total"]))  # Recorder reports it


def test_float32_objective_has_no_scaler_and_rejects_one():
    extractor = FeatureExtractor(["block1_conv1"], [], weights="random", precision="float32")
    with pytest.raises(ValueError, match="float16"):
        make_objective(extractor, (1, 16, 16, 3), content_targets={}, style_targets={"block1_conv1": tf.zeros([1, 64, 64])},
                       content_weight=0.0, style_weight=1.0, tv_weight=0.0, scaler=DynamicLossScale())


# --- 3. seeding with deterministic kernels -------------------------------------------------------


def test_seed_everything_gives_bit_identical_stylize_and_says_so_once(squeezenet_weights, monkeypatch, capsys):
    monkeypatch.setattr(config.seed_everything, "announced", False, raising=False)
    content = tf.constant(np.random.default_rng(2).uniform(size=(1, 48, 64, 3)), tf.float32)
    style = tf.constant(np.random.default_rng(3).uniform(size=(1, 64, 64, 3)), tf.float32)
    kwargs = dict(network="squeezenet", weights=squeezenet_weights, num_steps=5, init="noise",
                  precision="float32", progress=False)
    config.seed_everything(5, announce=False)  # notebook_setup(show=False): silent, still deterministic
    assert capsys.readouterr().out == ""
    images = []
    for _ in range(2):
        config.seed_everything(0)
        images.append(optimize.stylize(content, style, **kwargs).image.numpy())
    np.testing.assert_array_equal(images[0], images[1])
    assert images[0].shape == (1, 48, 64, 3)
    out = capsys.readouterr().out
    assert out.count("deterministic kernels on") == 1 and "seeded 0" in out
    with pytest.raises(tf.errors.FailedPreconditionError, match="determinism"):
        tf.timestamp()  # TF refuses a clock-based op once determinism is on: it is really on


def test_xla_under_determinism_drops_only_what_it_cannot_differentiate():
    """XLA has no deterministic max-pool gradient (UnimplementedError at the first call, on CPUs
    too): the objective then runs without XLA, with a warning, instead of failing mid-lecture."""
    config.seed_everything(0, announce=False)
    assert nst_tf.objective.xla_refuses_max_pool_gradient()
    image = tf.constant(np.random.default_rng(4).uniform(size=(1, 32, 40, 3)), tf.float32)
    results = {}
    for pooling in ("max", "avg"):
        extractor = FeatureExtractor(["block1_conv1", "block2_conv1"], ["block2_conv1"], weights="random",
                                     pooling=pooling)
        f = extractor(image)
        kwargs = dict(content_targets={"block2_conv1": 0.9 * f["block2_conv1"]},
                      style_targets={n: 1.1 * gram_matrix(f[n]) for n in extractor.style_layers},
                      content_weight=1.0, style_weight=1e-4, tv_weight=1.0)
        plain = make_objective(extractor, image.shape, **kwargs)
        if pooling == "max":
            with pytest.warns(RuntimeWarning, match="jit_compile=True ignored"):
                xla = make_objective(extractor, image.shape, jit_compile=True, **kwargs)
        else:
            xla = make_objective(extractor, image.shape, jit_compile=True, **kwargs)
        results[pooling] = xla.jit_compile
        np.testing.assert_allclose(xla(image)[1].numpy(), plain(image)[1].numpy(), rtol=1e-3, atol=1e-6)
        step_image = tf.Variable(image)
        step = optimize.make_step(None, step_image, _adam(step_image), content_targets=None, style_targets=None,
                                  content_weight=0, style_weight=0, tv_weight=0, jit_compile=True, objective=xla)
        step()  # the compiled step follows the objective: no XLA max-pool gradient either
    assert results == {"max": False, "avg": True}
