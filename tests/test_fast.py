"""nst_tf.fast: the TF Hub path (offline, with a stand-in SavedModel of the same signature) and the
TF Lite two-part model with the real files (shapes, range, strength, caching, determinism)."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import need_asset, save_hub_stand_in
from nst_tf import fast
from nst_tf.fast import FastModelError, TFLiteStylizer, fast_stylize, load_fast_model, prepare_style


@pytest.fixture(scope="module")
def fake_hub_model(tmp_path_factory):
    return save_hub_stand_in(tmp_path_factory.mktemp("hub") / "magenta_stand_in")


@pytest.fixture(scope="module")
def tflite():
    for name in ("magenta_style_predict_int8", "magenta_style_transfer_f16"):
        need_asset(name)
    return TFLiteStylizer("f16", num_threads=2)


@pytest.fixture(scope="module")
def pictures():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:96, 0:128] / 96.0
    content = np.stack([xx / 1.4, yy, 0.5 + 0.3 * np.sin(6 * xx)], -1)[None].astype(np.float32)
    stripes = (np.sin(np.arange(80) * 1.3)[:, None] > 0).astype(np.float32)
    style = np.stack([stripes.repeat(80, 1), 1 - stripes.repeat(80, 1), rng.random((80, 80))], -1)[None]
    return np.clip(content, 0, 1), style.astype(np.float32)


def test_hub_path_loads_a_local_savedmodel_and_prepares_the_style(fake_hub_model, pictures, monkeypatch):
    content, style = pictures
    monkeypatch.setenv("NST_HUB_MODEL", str(fake_hub_model))
    model = load_fast_model()  # the env variable names the handle
    batch = np.concatenate([content, content[:, ::-1]])
    out = fast_stylize(batch, style, model)
    assert out.shape == batch.shape
    np.testing.assert_allclose(out.numpy(), 0.256, atol=1e-6)  # the model saw a 256 px style
    half = fast_stylize(content, style, model, strength=0.5)
    np.testing.assert_allclose(half.numpy(), 0.5 * content + 0.5 * 0.256, atol=1e-6)
    np.testing.assert_allclose(fast_stylize(content, style, model, strength=0.0).numpy(), content)


def test_prepare_style_is_256_and_smoothed(pictures):
    _, style = pictures
    prepared = prepare_style(style).numpy()
    assert prepared.shape == (1, 256, 256, 3)
    resized = tf.image.resize(style, (256, 256), antialias=True).numpy()
    # a 3x3 mean of the resized image, away from the border
    window = np.mean([resized[0, 99 + i, 99 + j] for i in (-1, 0, 1) for j in (-1, 0, 1)], axis=0)
    np.testing.assert_allclose(prepared[0, 99, 99], window, atol=1e-5)


def test_hub_offline_and_uncached_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("NST_OFFLINE", "1")
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    with pytest.raises(FastModelError, match="not cached and NST_OFFLINE") as info:
        load_fast_model("https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2")
    assert "\n" not in str(info.value) and "tflite" in str(info.value).lower()
    with pytest.raises(FastModelError, match="no such SavedModel folder"):
        load_fast_model(str(tmp_path / "missing"))


def test_bad_arguments(fake_hub_model, pictures):
    content, style = pictures
    model = load_fast_model(str(fake_hub_model))
    for strength in (-0.1, 1.5, "1", True):
        with pytest.raises(ValueError, match="strength"):
            fast_stylize(content, style, model, strength=strength)
    with pytest.raises(ValueError, match="TF Lite"):
        fast_stylize(content, [style, style], model)
    with pytest.raises(ValueError, match="content_image"):
        fast_stylize(content[..., :2], style, model)


def test_tflite_shapes_range_and_determinism(tflite, pictures):
    content, style = pictures
    odd = np.concatenate([content[:, :90, :125], content[:, 6:, 3:][:, :90, :125]])  # not multiples of 4
    first = fast_stylize(odd, style, tflite).numpy()
    assert first.shape == odd.shape and first.dtype == np.float32
    assert first.min() >= 0.0 and first.max() <= 1.0 and first.std() > 0.02
    np.testing.assert_array_equal(first, fast_stylize(odd, style, tflite).numpy())


def test_tflite_rewrite_is_bit_identical_to_the_released_model(tflite, pictures):
    plain = TFLiteStylizer("f16", num_threads=2, rewrite=False)
    content = tf.image.resize(pictures[0], (384, 384)).numpy()  # the released model's only size
    bottleneck = tflite.bottleneck(pictures[1])
    np.testing.assert_array_equal(tflite.transfer(content, bottleneck), plain.transfer(content, bottleneck))


def test_tflite_strength_zero_is_close_to_the_content(tflite, pictures):
    from nst_tf.images import load_image

    content, style = load_image(need_asset("chelsea_cat"), max_dim=160).numpy(), pictures[1]
    full = fast_stylize(content, style, tflite).numpy()
    none = fast_stylize(content, style, tflite, strength=0.0).numpy()
    half = fast_stylize(content, style, tflite, strength=0.5).numpy()
    # strength 0 repaints the photo with its own bottleneck: close, not identical
    assert np.abs(none - content).mean() < 0.1
    assert np.abs(none - content).mean() < 0.5 * np.abs(full - content).mean()
    assert np.abs(none - content).mean() < np.abs(half - content).mean() < np.abs(full - content).mean()


def test_tflite_bottleneck_is_cached_and_mixing_is_linear(tflite, pictures):
    content, style = pictures
    before = tflite.predictions
    for _ in range(3):
        fast_stylize(content, style, tflite)
    assert tflite.predictions - before <= 1  # at most the first use of this style
    counted = tflite.predictions
    fast_stylize(content, style.copy(), tflite)  # same pixels, new array: still cached
    assert tflite.predictions == counted
    other = style[:, ::-1, :, ::-1].copy()
    a, b = tflite.bottleneck(style), tflite.bottleneck(other)
    assert tflite.predictions == counted + 1
    np.testing.assert_allclose(tflite.mix([style, other], [1, 0]), a, atol=1e-6)
    np.testing.assert_allclose(tflite.mix([style, other], [1, 3]), 0.25 * a + 0.75 * b, atol=1e-6)
    blend = fast_stylize(content, [style, other], tflite, style_weights=[1, 1]).numpy()
    assert not np.allclose(blend, fast_stylize(content, style, tflite).numpy(), atol=1e-3)
    with pytest.raises(ValueError, match="style_weights"):
        tflite.mix([style, other], [1, -1])


def test_tflite_missing_files_is_a_fast_model_error(monkeypatch, tmp_path):
    monkeypatch.setenv("NST_ASSETS_DIR", str(tmp_path))
    monkeypatch.setenv("NST_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FastModelError, match="magenta_style_predict_int8"):
        TFLiteStylizer("f16")
    with pytest.raises(ValueError, match="precision"):
        TFLiteStylizer("f32")
