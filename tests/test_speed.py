"""Issue "speed and scale": L-BFGS, mixed precision, XLA, coarse-to-fine, the memory check."""

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.features import FeatureExtractor
from nst_tf.lbfgs import lbfgs_minimize
from nst_tf.losses import gram_matrix
from nst_tf.objective import make_objective
from nst_tf.optimize import stylize
from nst_tf.precision import detect_precision, resolve_precision
from nst_tf.resources import ResourceError, activation_bytes, check_memory


def quadratic(n=40, seed=0, low=0.1, high=0.9):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    q = a @ a.T / n + 0.05 * np.eye(n)  # condition number in the hundreds
    target = rng.uniform(low, high, size=n)
    qt, tt = tf.constant(q, tf.float32), tf.constant(target, tf.float32)

    def value_and_gradient(x):
        d = x - tt
        return 0.5 * tf.reduce_sum(d * tf.linalg.matvec(qt, d)), tf.linalg.matvec(qt, d), None

    return q, target, value_and_gradient


def test_lbfgs_finds_the_known_minimum_of_a_convex_quadratic():
    q, target, vg = quadratic()
    x, value, evaluations = lbfgs_minimize(vg, tf.fill([40], 0.5), max_evaluations=300)
    np.testing.assert_allclose(x.numpy(), target, atol=1e-3)  # the minimum is inside the box
    assert float(value) < 1e-6 and evaluations < 300


def test_lbfgs_respects_the_box_and_matches_projected_gradient():
    q, target, vg = quadratic(low=-0.5, high=1.5, seed=1)  # minimum partly outside [0, 1]
    x, _, _ = lbfgs_minimize(vg, tf.fill([40], 0.5), max_evaluations=400)
    reference = np.full(40, 0.5)
    step = 1.0 / np.linalg.eigvalsh(q).max()
    for _ in range(100000):  # projected gradient descent in float64, run to convergence
        reference = np.clip(reference - step * (q @ (reference - target)), 0.0, 1.0)
    assert x.numpy().min() >= 0.0 and x.numpy().max() <= 1.0
    np.testing.assert_allclose(x.numpy(), reference, atol=2e-3)


def test_lbfgs_lowers_the_nst_loss_faster_per_evaluation_than_adam(random_vgg19):
    rng = np.random.default_rng(0)
    content = tf.constant(rng.uniform(size=(1, 40, 48, 3)), tf.float32)
    style = tf.constant(rng.uniform(size=(1, 40, 40, 3)) ** 3, tf.float32)
    kwargs = dict(num_steps=25, extractor=random_vgg19, progress=False, content_weight=1.0,
                  style_weight=1e-4, tv_weight=1.0)
    adam = stylize(content, style, optimizer="adam", **kwargs)
    lbfgs = stylize(content, style, optimizer="lbfgs", **kwargs)
    assert len(lbfgs.history["total"]) == 25  # num_steps counts loss evaluations
    for evaluations in (10, 25):  # at equal numbers of loss evaluations
        assert lbfgs.history["total"][evaluations - 1] < 0.8 * adam.history["total"][evaluations - 1]
    assert lbfgs.trace_count == 1
    image = lbfgs.image.numpy()
    assert image.min() >= 0.0 and image.max() <= 1.0


def _value_and_gradient(precision, image, style):
    extractor = FeatureExtractor(["block1_conv1", "block2_conv1", "block3_conv1"], ["block3_conv2"],
                                 weights="random", precision=precision)
    f, s = extractor(image), extractor(style)
    objective = make_objective(extractor, image.shape, content_targets={"block3_conv2": f["block3_conv2"] * 0.9},
                               style_targets={n: gram_matrix(s[n]) for n in extractor.style_layers},
                               content_weight=1.0, style_weight=1e-4, tv_weight=1.0)
    losses, gradient = objective(image)
    return {k: float(losses[k]) for k in ("total", "content", "style")}, gradient.numpy().ravel()


@pytest.mark.parametrize("precision,tolerance", [("mixed_bfloat16", 5e-2), ("mixed_float16", 5e-3)])
def test_reduced_precision_agrees_with_float32(precision, tolerance):
    """Stated tolerance: losses within 5% (bf16, 8-bit mantissa) / 0.5% (fp16); gradients point
    the same way (cosine > 0.99)."""
    rng = np.random.default_rng(2)
    image = tf.constant(rng.uniform(size=(1, 48, 64, 3)), tf.float32)
    style = tf.constant(rng.uniform(size=(1, 40, 40, 3)), tf.float32)
    ref_losses, ref_grad = _value_and_gradient("float32", image, style)
    losses, grad = _value_and_gradient(precision, image, style)
    for key in ref_losses:
        assert abs(losses[key] - ref_losses[key]) <= tolerance * abs(ref_losses[key]), key
    cosine = ref_grad @ grad / (np.linalg.norm(ref_grad) * np.linalg.norm(grad))
    assert cosine > 0.99, cosine


def test_bfloat16_stylize_runs_and_keeps_float32_pixels(random_vgg19):
    rng = np.random.default_rng(3)
    content = tf.constant(rng.uniform(size=(1, 40, 40, 3)), tf.float32)
    result = stylize(content, content[:, ::-1], num_steps=4, network="vgg19", weights="random",
                     precision="mixed_bfloat16", progress=False)
    assert result.image.dtype == tf.float32 and result.settings["precision"] == "mixed_bfloat16"
    assert all(np.isfinite(result.history["total"]))


def test_xla_matches_the_plain_graph():
    rng = np.random.default_rng(4)
    content = tf.constant(rng.uniform(size=(1, 40, 48, 3)), tf.float32)
    style = tf.constant(rng.uniform(size=(1, 40, 40, 3)), tf.float32)
    # Average pooling: once seed_everything has made kernels deterministic in this process, XLA
    # refuses max-pool gradients and make_objective falls back to the plain graph (test_precision).
    extractor = FeatureExtractor(["block1_conv1", "block2_conv1", "block3_conv1"], ["block3_conv2"],
                                 weights="random", pooling="avg")
    kwargs = dict(num_steps=3, extractor=extractor, progress=False)
    plain = stylize(content, style, **kwargs)
    xla = stylize(content, style, jit_compile=True, **kwargs)
    np.testing.assert_allclose(xla.history["total"], plain.history["total"], rtol=1e-3)
    assert xla.trace_count == 1


def test_coarse_to_fine_reaches_the_requested_size(random_vgg19):
    rng = np.random.default_rng(5)
    content = tf.constant(rng.uniform(size=(1, 60, 80, 3)), tf.float32)
    style = tf.constant(rng.uniform(size=(1, 50, 50, 3)), tf.float32)
    result = stylize(content, style, scales=(48, 96), num_steps=(3, 2), extractor=random_vgg19,
                     progress=False)
    assert result.image.shape == (1, 72, 96, 3)
    assert result.history["scale"] == [48, 48, 48, 96, 96]
    with pytest.raises(ValueError, match="coarse to fine"):
        stylize(content, style, scales=(96, 48), num_steps=1, extractor=random_vgg19)
    with pytest.raises(ValueError, match="one per scale|for 2 scales"):
        stylize(content, style, scales=(48, 96), num_steps=(1, 2, 3), extractor=random_vgg19)


def test_memory_check_rejects_an_impossible_size_clearly(random_vgg19):
    with pytest.raises(ResourceError) as info:
        check_memory("vgg19", 40000, 60000, "block5_conv1", available=16 * 2**30)
    message = str(info.value)
    assert "60000x40000" in message and "GiB" in message and "at most" in message
    # through stylize: refused before any work (and before the huge resize)
    content = tf.zeros([1, 40, 60, 3])
    with pytest.raises(ResourceError, match="needs about"):
        stylize(content, content, scales=(64, 200000), num_steps=1, extractor=random_vgg19)
    # activations grow with the pixel count
    small = activation_bytes("vgg19", 256, 256, "block5_conv1")
    assert activation_bytes("vgg19", 512, 512, "block5_conv1") == pytest.approx(4 * small, rel=0.02)
    assert check_memory("squeezenet", 256, 256, "fire9", available=2**34) > 0


def test_precision_names():
    assert detect_precision() in ("float32", "mixed_bfloat16")  # float16 is opt-in only (test_precision.py)
    assert resolve_precision("float32") == "float32"
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("int8")


def test_time_estimate_is_printed(random_vgg19, capsys):
    content = tf.zeros([1, 40, 40, 3])
    stylize(content, content + 0.5, num_steps=5, extractor=random_vgg19, progress=True)
    captured = capsys.readouterr()
    assert "estimate: ~" in captured.out + captured.err and "ms per step" in captured.out + captured.err


def test_compiled_two_loop_equals_the_readable_one():
    from nst_tf.lbfgs import _two_loop, two_loop_direction

    rng = np.random.default_rng(6)
    s = [tf.constant(rng.normal(size=(5, 4)), tf.float32) for _ in range(3)]
    y = [si + tf.constant(0.1 * rng.normal(size=(5, 4)), tf.float32) for si in s]
    rho = [tf.constant(1.0 / float(tf.reduce_sum(a * b)), tf.float64) for a, b in zip(s, y)]
    g = tf.constant(rng.normal(size=(5, 4)), tf.float32)
    readable = two_loop_direction(g, s, y, rho).numpy()
    pad = [tf.zeros((5, 4))] * 2  # buffers of 5 with 3 pairs used, newest last
    compiled = _two_loop(g, tf.stack(pad + s), tf.stack(pad + y),
                         tf.constant([0.0, 0.0] + [float(r) for r in rho], tf.float64), tf.constant(3)).numpy()
    np.testing.assert_allclose(compiled, readable, rtol=1e-5, atol=1e-6)


def test_lbfgs_final_describes_the_returned_image(random_vgg19):
    """The history keeps every L-BFGS evaluation, rejected line-search trials included; ``final``
    is the losses of the returned image: the lowest total, not necessarily the last entry."""
    rng = np.random.default_rng(7)
    content = tf.constant(rng.uniform(size=(1, 40, 48, 3)), tf.float32)
    style = tf.constant(rng.uniform(size=(1, 40, 40, 3)) ** 3, tf.float32)
    weights = dict(content_weight=1.0, style_weight=1.0, tv_weight=1.0)  # a strong style: trials get rejected
    kwargs = dict(optimizer="lbfgs", extractor=random_vgg19, progress=False, **weights)
    totals = stylize(content, style, num_steps=40, **kwargs).history["total"]
    rejected = [i + 1 for i in range(1, len(totals)) if totals[i] > totals[i - 1]]
    assert rejected, "no rejected line-search trial to test with"
    # Stopping at a rejected trial: the path up to there is the same, the last entry is not the image.
    result = stylize(content, style, num_steps=rejected[0], **kwargs)
    totals = result.history["total"]
    assert totals[-1] > result.final["total"] == min(totals)
    assert result.final_step == totals.index(min(totals)) + 1
    f, s = random_vgg19(content), random_vgg19(style)
    objective = make_objective(random_vgg19, content.shape,
                               content_targets={n: f[n] for n in random_vgg19.content_layers},
                               style_targets={n: gram_matrix(s[n]) for n in random_vgg19.style_layers},
                               **weights)
    losses, _ = objective(result.image)
    for key in ("total", "content", "style", "tv"):
        assert float(losses[key]) == pytest.approx(result.final[key], rel=1e-4, abs=1e-6), key
    assert float(losses["total"]) < totals[-1]
