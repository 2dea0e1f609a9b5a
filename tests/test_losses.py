"""The losses against float64 NumPy references, and the properties the lectures rely on."""

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.losses import content_loss, gram_matrix, style_layer_losses, style_loss, total_variation_loss

SHAPES = [(1, 5, 7, 3), (2, 6, 4, 8), (2, 9, 13, 16), (1, 1, 1, 4)]


def np_gram(features):
    b, h, w, c = features.shape
    flat = features.reshape(b, h * w, c).astype(np.float64)
    return np.einsum("bpc,bpd->bcd", flat, flat) / (h * w)


def np_tv(image, kind):
    image = image.astype(np.float64)
    dx = image[:, :, 1:] - image[:, :, :-1]
    dy = image[:, 1:] - image[:, :-1]
    f = np.abs if kind == "l1" else np.square
    return f(dx).mean() + f(dy).mean()


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)


@pytest.mark.parametrize("shape", SHAPES)
def test_gram_matches_numpy_reference(shape, rng):
    x = rng.normal(size=shape).astype(np.float32)
    assert rel_err(gram_matrix(x).numpy(), np_gram(x)) < 1e-5
    # float64 in, float64 out: the reference path for finite differences
    assert gram_matrix(tf.constant(x, tf.float64)).dtype == tf.float64


@pytest.mark.parametrize("shape", SHAPES)
def test_gram_symmetric_positive_semidefinite(shape, rng):
    g = gram_matrix(rng.normal(size=shape).astype(np.float32)).numpy().astype(np.float64)
    np.testing.assert_allclose(g, np.swapaxes(g, 1, 2), rtol=1e-6, atol=1e-6)
    eigenvalues = np.linalg.eigvalsh(g)
    assert eigenvalues.min() >= -1e-5 * max(1.0, eigenvalues.max())


def test_gram_is_resolution_invariant_under_tiling(rng):
    x = rng.uniform(size=(1, 6, 10, 5)).astype(np.float32)
    tiled = np.tile(x, (1, 2, 2, 1))
    np.testing.assert_allclose(gram_matrix(tiled).numpy(), gram_matrix(x).numpy(), rtol=1e-5)


def test_gram_ignores_positions_but_not_channels(rng):
    x = rng.normal(size=(1, 4, 4, 3)).astype(np.float32)
    shuffled = x.reshape(16, 3)[rng.permutation(16)].reshape(1, 4, 4, 3)
    np.testing.assert_allclose(gram_matrix(shuffled).numpy(), gram_matrix(x).numpy(), rtol=1e-5)
    swapped = x[..., [1, 0, 2]]
    assert not np.allclose(gram_matrix(swapped).numpy(), gram_matrix(x).numpy())


def test_gram_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
        gram_matrix(tf.zeros([4, 4, 3]))


def test_gram_of_bfloat16_is_accumulated_in_float32(rng):
    x = rng.normal(size=(1, 8, 8, 4)).astype(np.float32)
    g = gram_matrix(tf.cast(x, tf.bfloat16))
    assert g.dtype == tf.float32
    assert rel_err(g.numpy(), np_gram(x)) < 2e-2  # bf16 has an 8-bit mantissa


@pytest.mark.parametrize("shape", SHAPES)
def test_content_loss_matches_numpy_and_is_zero_at_target(shape, rng):
    f = rng.normal(size=shape).astype(np.float32)
    p = rng.normal(size=shape).astype(np.float32)
    expected = np.mean((f.astype(np.float64) - p) ** 2)
    assert rel_err(content_loss(f, p).numpy(), expected) < 1e-5
    assert content_loss(f, f).numpy() == 0.0


def test_content_loss_of_dicts_is_weighted_mean(rng):
    f = {k: rng.normal(size=(1, 4, 5, 3)).astype(np.float32) for k in "ab"}
    p = {k: rng.normal(size=(1, 4, 5, 3)).astype(np.float32) for k in "ab"}
    per = {k: np.mean((f[k].astype(np.float64) - p[k]) ** 2) for k in "ab"}
    assert rel_err(content_loss(f, p).numpy(), (per["a"] + per["b"]) / 2) < 1e-5
    weighted = content_loss(f, p, layer_weights={"a": 0.25, "b": 2.0}).numpy()
    assert rel_err(weighted, 0.25 * per["a"] + 2.0 * per["b"]) < 1e-5


def test_style_loss_matches_numpy_with_default_and_custom_weights(rng):
    shapes = {"l1": (2, 8, 6, 4), "l2": (2, 4, 3, 7), "l3": (2, 2, 5, 9)}
    feats = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
    targets = {k: np_gram(rng.normal(size=(1,) + s[1:])).astype(np.float32) for k, s in shapes.items()}
    per = {k: np.mean((np_gram(feats[k]) - targets[k]) ** 2) for k in shapes}
    assert rel_err(style_loss(feats, targets).numpy(), sum(per.values()) / 3) < 1e-5
    w = {"l1": 0.5, "l2": 0.3, "l3": 0.2}
    assert rel_err(style_loss(feats, targets, w).numpy(), sum(w[k] * per[k] for k in w)) < 1e-5
    layer = style_layer_losses(feats, targets)
    for k in shapes:
        assert rel_err(layer[k].numpy(), per[k]) < 1e-5


def test_style_loss_zero_at_own_gram_and_errors(rng):
    f = {"a": rng.normal(size=(1, 4, 4, 3)).astype(np.float32)}
    assert style_loss(f, {"a": gram_matrix(f["a"])}).numpy() == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="no weight"):
        style_loss(f, {"a": gram_matrix(f["a"])}, layer_weights={"b": 1.0})
    with pytest.raises(ValueError, match="no features"):
        style_loss({}, {"a": gram_matrix(f["a"])})


@pytest.mark.parametrize("kind", ["l1", "l2"])
@pytest.mark.parametrize("shape", [(1, 5, 7, 3), (2, 6, 4, 3), (2, 2, 9, 3)])
def test_total_variation_matches_numpy(kind, shape, rng):
    x = rng.uniform(size=shape).astype(np.float32)
    assert rel_err(total_variation_loss(x, kind).numpy(), np_tv(x, kind)) < 1e-5


def test_total_variation_constant_image_is_zero_and_kind_checked():
    assert total_variation_loss(tf.fill([1, 8, 9, 3], 0.3)).numpy() == 0.0
    with pytest.raises(ValueError, match="'l1' or 'l2'"):
        total_variation_loss(tf.zeros([1, 4, 4, 3]), "l3")


def test_loss_gradients_match_finite_differences_in_float64(rng):
    """Gradients of content + style + TV(l2) w.r.t. the image, float64 central differences."""
    x0 = rng.uniform(size=(1, 6, 5, 3))
    kernel = tf.constant(rng.normal(size=(3, 3, 3, 4)), tf.float64)
    target_f = tf.constant(rng.normal(size=(1, 6, 5, 4)), tf.float64)
    target_g = {"f": gram_matrix(tf.constant(rng.normal(size=(1, 6, 5, 4)), tf.float64))}

    def loss(x):
        features = tf.tanh(tf.nn.conv2d(x, kernel, 1, "SAME"))
        return (content_loss(features, target_f) + 0.1 * style_loss({"f": features}, target_g)
                + 2.0 * total_variation_loss(x, "l2"))

    x = tf.constant(x0, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = loss(x)
    analytic = tape.gradient(value, x).numpy()
    numeric = np.zeros_like(x0)
    h = 1e-6
    for index in np.ndindex(x0.shape):
        step = np.zeros_like(x0)
        step[index] = h
        numeric[index] = (loss(tf.constant(x0 + step)) - loss(tf.constant(x0 - step))).numpy() / (2 * h)
    assert rel_err(analytic, numeric) < 1e-6
