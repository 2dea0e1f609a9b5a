"""stylize: validation before work, one compiled step, reproducibility, and real style transfer."""

import math

import numpy as np
import pytest
import tensorflow as tf

from conftest import need_asset
from nst_tf import optimize
from nst_tf.features import FeatureExtractor
from nst_tf.images import load_image
from nst_tf.losses import content_loss, gram_matrix, style_loss, total_variation_loss
from nst_tf.optimize import stylize


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    # smooth content (a gradient with a square), striped style of another size
    y, x = np.mgrid[0:48, 0:64] / 64.0
    content = np.stack([x, y, 0.5 * np.ones_like(x)], -1)
    content[12:36, 20:44] = [0.9, 0.2, 0.1]
    stripes = (np.sin(np.mgrid[0:40, 0:40][1] * 1.3) > 0).astype(np.float64)
    style = np.stack([stripes, 1 - stripes, 0.3 + 0.4 * rng.uniform(size=stripes.shape)], -1)
    return (tf.constant(content[None], tf.float32), tf.constant(style[None], tf.float32))


def test_invalid_arguments_fail_before_any_work(pair, monkeypatch):
    content, style = pair

    def no_work(*args, **kwargs):
        raise AssertionError("a model was built before the arguments were checked")

    monkeypatch.setattr(optimize, "FeatureExtractor", no_work)
    bad = [dict(num_steps=0), dict(num_steps=2.5), dict(num_steps=True), dict(content_weight=-1.0),
           dict(style_weight=float("nan")), dict(tv_weight=float("inf")), dict(init="zeros"),
           dict(optimizer="sgd"), dict(learning_rate=0.0), dict(lr_decay=1.5), dict(tv_kind="l3"),
           dict(network="alexnet"), dict(style_weight="a lot"), dict(callback_every=0),
           dict(style_layer_weights={"block1_conv1": 1.0})]
    for kwargs in bad:
        with pytest.raises(ValueError):
            stylize(content, style, **{"num_steps": 2, **kwargs})
    with pytest.raises(ValueError, match=r"\[1, H, W, 3\]"):
        stylize(tf.zeros([2, 40, 40, 3]), style, num_steps=1)
    with pytest.raises(ValueError, match=r"\[1, H, W, 3\]"):
        stylize(content, tf.zeros([1, 40, 40, 4]), num_steps=1)


def test_step_is_traced_once_and_history_is_complete(pair, random_vgg19):
    content, style = pair
    result = stylize(content, style, num_steps=6, extractor=random_vgg19, progress=False)
    assert result.trace_count == 1
    assert result.history["step"] == list(range(1, 7))
    for key in ("total", "content", "style", "tv", "seconds"):
        assert len(result.history[key]) == 6
    assert set(result.history["style_layers"]) == set(random_vgg19.style_layers)
    assert result.history["seconds"] == sorted(result.history["seconds"])
    assert result.untrained and result.feature_weights == "random"


def test_pixels_stay_in_range_and_output_has_content_size(pair, random_vgg19):
    content, style = pair
    assert content.shape != style.shape
    result = stylize(content, style, num_steps=15, extractor=random_vgg19, learning_rate=0.2,
                     init="noise", progress=False)
    image = result.image.numpy()
    assert image.shape == tuple(content.shape)
    assert image.min() >= 0.0 and image.max() <= 1.0


def test_short_run_lowers_style_loss_a_lot_and_keeps_content(pair, random_vgg19):
    """Untrained VGG features: a pipeline check (real features: the SqueezeNet test below)."""
    content, style = pair
    result = stylize(content, style, num_steps=80, extractor=random_vgg19, progress=False,
                     content_weight=1.0, style_weight=1e-4, tv_weight=0.0, learning_rate=0.05)
    style_history = result.history["style"]
    assert style_history[-1] < 0.25 * style_history[0]
    # bounded content: closer to the content than the style image itself is
    f = random_vgg19(content)
    target = {n: f[n] for n in random_vgg19.content_layers}
    out = random_vgg19(result.image)
    style_as_output = random_vgg19(tf.image.resize(style, content.shape[1:3]))
    ours = content_loss({n: out[n] for n in target}, target).numpy()
    theirs = content_loss({n: style_as_output[n] for n in target}, target).numpy()
    assert ours < 0.9 * theirs
    # and without the content term the style loss falls by far more
    free = stylize(content, style, num_steps=80, extractor=random_vgg19, progress=False,
                   content_weight=0.0, style_weight=1.0, tv_weight=0.0, learning_rate=0.05)
    assert free.history["style"][-1] < 0.1 * free.history["style"][0]


def test_same_seed_same_image_and_different_seed_differs(pair, random_vgg19):
    content, style = pair
    run = lambda seed: stylize(content, style, num_steps=5, extractor=random_vgg19, init="noise",
                               seed=seed, progress=False).image.numpy()
    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_inits(pair, random_vgg19):
    content, style = pair
    for init, reference in [("content", content), ("style", tf.image.resize(style, content.shape[1:3], antialias=True))]:
        first = {}
        stylize(content, style, num_steps=1, extractor=random_vgg19, init=init, progress=False,
                callback=lambda i, img, losses: first.setdefault("loss", losses))
        start = optimize.initial_image(content, style, init, seed=0)
        np.testing.assert_allclose(start.numpy(), reference.numpy(), atol=1e-6)
    noise = optimize.initial_image(content, style, "noise", seed=0).numpy()
    assert 0.4 < noise.mean() < 0.6 and noise.std() > 0.2


def test_callback_every_n_and_early_stop(pair, random_vgg19):
    content, style = pair
    calls = []

    def callback(step, image, losses):
        calls.append(step)
        assert image.shape == content.shape and set(losses) == {"total", "content", "style", "tv"}
        return step < 6

    result = stylize(content, style, num_steps=20, extractor=random_vgg19, callback=callback,
                     callback_every=3, progress=False)
    assert calls == [3, 6] and len(result.history["step"]) == 6


def test_losses_in_history_match_the_losses_module(pair, random_vgg19):
    content, style = pair
    result = stylize(content, style, num_steps=1, extractor=random_vgg19, progress=False,
                     content_weight=2.0, style_weight=3e-4, tv_weight=5.0)
    f = random_vgg19(content)
    s = random_vgg19(style)
    grams = {n: gram_matrix(s[n]) for n in random_vgg19.style_layers}
    expected_style = style_loss({n: f[n] for n in grams}, grams).numpy()
    h = result.history
    assert math.isclose(h["content"][0], 0.0, abs_tol=1e-6)  # step 1 starts at the content image
    assert math.isclose(h["style"][0], expected_style, rel_tol=1e-4)
    assert math.isclose(h["total"][0], 2.0 * h["content"][0] + 3e-4 * h["style"][0] + 5.0 * h["tv"][0],
                        rel_tol=1e-5)


def test_gradient_of_the_objective_matches_finite_differences(pair):
    """The full objective's gradient through VGG19, in float64, against central differences."""
    extractor = FeatureExtractor(["block1_conv1", "block2_conv1"], ["block3_conv2"], weights="random",
                                 precision="float64")
    content, style = (tf.cast(t, tf.float64) for t in pair)
    target = {"block3_conv2": extractor(content)["block3_conv2"]}
    s = extractor(style)
    grams = {n: gram_matrix(s[n]) for n in ("block1_conv1", "block2_conv1")}

    def objective(image):
        out = extractor(image)
        return (content_loss({n: out[n] for n in target}, target)
                + 1e-4 * style_loss({n: out[n] for n in grams}, grams)
                + 10.0 * total_variation_loss(image, "l2"))

    # A generic point: on flat image regions max-pooling has ties and ReLUs sit at kinks, where
    # the loss is not differentiable and no finite difference agrees with any gradient.
    rng = np.random.default_rng(5)
    x = tf.Variable(rng.uniform(0.05, 0.95, size=content.shape))
    with tf.GradientTape() as tape:
        value = objective(x)
    gradient = tape.gradient(value, x).numpy()
    for _ in range(3):
        direction = rng.normal(size=content.shape)
        h = 1e-6  # small enough that no ReLU or max-pool changes its choice
        numeric = (objective(x + h * direction) - objective(x - h * direction)).numpy() / (2 * h)
        analytic = float(np.sum(gradient * direction))
        assert abs(numeric - analytic) <= 1e-5 * abs(analytic), (numeric, analytic)


def test_real_squeezenet_moves_gram_statistics_towards_the_style():
    """Tübingen x The Starry Night with real ImageNet SqueezeNet features."""
    content = load_image(need_asset("tubingen_neckarfront"), max_dim=128)
    style = load_image(need_asset("vangogh_starry_night"), max_dim=128)
    result = stylize(content, style, network="squeezenet", num_steps=120, progress=False)
    assert result.feature_weights == "imagenet" and not result.untrained
    extractor = FeatureExtractor(result.settings["style_layers"], result.settings["content_layers"],
                                 network="squeezenet")
    s = extractor(style)
    grams = {n: gram_matrix(s[n]) for n in extractor.style_layers}
    style_distance = lambda image: style_loss({n: extractor(image)[n] for n in grams}, grams).numpy()
    before, after = style_distance(content), style_distance(result.image)
    assert after < 0.2 * before, (before, after)  # most of the way to the style's statistics
    c = extractor(content)
    target = {n: c[n] for n in extractor.content_layers}
    drift = content_loss({n: extractor(result.image)[n] for n in target}, target).numpy()
    swap = content_loss({n: extractor(tf.image.resize(style, content.shape[1:3]))[n] for n in target},
                        target).numpy()
    assert drift < 0.5 * swap, (drift, swap)  # the photo's layout survives


def test_retracing_warning_is_muted_only_while_stylize_runs(pair, random_vgg19):
    # stylize compiles a fresh step per run on purpose; a lecture's own retracing demo must still see
    # TensorFlow's real "triggered tf.function retracing" warning (notebooks/04).
    content, style = pair[:2]
    muted = []

    def callback(step, image, losses):
        muted.append(any(isinstance(f, optimize._NoRetracingNoise) for f in tf.get_logger().filters))

    stylize(content, style, extractor=random_vgg19, num_steps=2, progress=False, callback=callback, callback_every=1)
    assert muted == [True, True]
    assert not any(isinstance(f, optimize._NoRetracingNoise) for f in tf.get_logger().filters)
    with pytest.raises(ValueError):  # an early error removes the filter too
        stylize(content, style, extractor=random_vgg19, num_steps=0, progress=False)
    assert not any(isinstance(f, optimize._NoRetracingNoise) for f in tf.get_logger().filters)


# --- schedules: "classic" (default) and "fast" (issue 14; benchmarks/bench_quality.py, notebooks/06)

def test_auto_scales_put_most_steps_at_half_the_side_from_the_threshold():
    from nst_tf.schedules import COARSE_FROM, COARSE_SHARE, auto_scales

    assert auto_scales(COARSE_FROM - 1, 100) == (None, 100)  # small images: one scale
    scales, steps = auto_scales(512, 100)
    assert scales == [256, 512] and sum(steps) == 100 and steps[0] == round(COARSE_SHARE * 100)
    assert auto_scales(512, 1) == (None, 1)  # one step cannot be split
    assert auto_scales(512, 2)[1] == [1, 1]
    assert auto_scales(512, [3, 4]) == (None, [3, 4])  # steps per scale: the caller's own scales


def test_fast_schedule_is_lbfgs_coarse_to_fine_from_the_threshold(random_vgg19):
    rng = np.random.default_rng(1)
    # Long side 400 >= 384; the short side only sets the cost (a 96-px strip: a third of 300 x 400).
    content = tf.constant(rng.uniform(size=(1, 96, 400, 3)), tf.float32)
    style = tf.constant(rng.uniform(size=(1, 64, 64, 3)) ** 2, tf.float32)
    result = stylize(content, style, num_steps=10, extractor=random_vgg19, progress=False, schedule="fast")
    s = result.settings
    assert (s["schedule"], s["optimizer"], s["scales"]) == ("fast", "lbfgs", [200, 400])
    assert result.history["scale"] == [200] * 7 + [400] * 3  # num_steps is the total (evaluations)
    assert result.image.shape == content.shape
    small = stylize(content[:, :96, :128], style, num_steps=3, extractor=random_vgg19, progress=False,
                    schedule="fast")
    assert small.settings["scales"] is None and small.settings["optimizer"] == "lbfgs"


def test_under_fast_a_learning_rate_asks_for_adam_with_one_smooth_decay_across_scales(random_vgg19):
    from nst_tf.schedules import SCHEDULES

    rng = np.random.default_rng(2)
    content = tf.constant(rng.uniform(size=(1, 96, 400, 3)), tf.float32)  # long side 400 >= 384, cheap
    style = tf.constant(rng.uniform(size=(1, 64, 64, 3)), tf.float32)
    adam = stylize(content, style, num_steps=4, extractor=random_vgg19, progress=False, learning_rate=0.03,
                   schedule="fast")
    assert adam.settings["optimizer"] == "adam" and adam.settings["scales"] is None  # Adam: one scale
    decay = SCHEDULES["fast"]["lr_decay"]
    np.testing.assert_allclose(adam.history["learning_rate"], [0.03 * decay ** (i / 4) for i in range(4)],
                               rtol=1e-5)
    two = stylize(content, style, num_steps=[3, 2], scales=[100, 200], optimizer="adam", extractor=random_vgg19,
                  progress=False, schedule="fast")
    rate = SCHEDULES["fast"]["learning_rate"]
    np.testing.assert_allclose(two.history["learning_rate"], [rate * decay ** (i / 5) for i in range(5)],
                               rtol=1e-5)  # goes on falling at the second scale instead of restarting


def test_fast_schedule_is_the_default_and_classic_the_old_behaviour_bit_for_bit(pair, random_vgg19):
    content, style = pair
    default = stylize(content, style, num_steps=6, extractor=random_vgg19, progress=False)
    fast = stylize(content, style, num_steps=6, extractor=random_vgg19, progress=False, schedule="fast")
    np.testing.assert_array_equal(default.image.numpy(), fast.image.numpy())
    s = default.settings
    assert (s["schedule"], s["optimizer"], s["scales"]) == ("fast", "lbfgs", None)  # one scale below 384 px
    # "classic" is the old default: the tutorial's Adam 0.02 with x0.96 every 100 steps, one scale
    classic = stylize(content, style, num_steps=6, extractor=random_vgg19, progress=False, schedule="classic")
    explicit = stylize(content, style, num_steps=6, extractor=random_vgg19, progress=False, schedule="fast",
                       optimizer="adam", learning_rate=0.02, lr_decay=0.96, lr_decay_every=100, scales=None)
    np.testing.assert_array_equal(classic.image.numpy(), explicit.image.numpy())
    assert classic.history["learning_rate"] == [pytest.approx(0.02)] * 6
    s = classic.settings
    assert (s["schedule"], s["optimizer"], s["learning_rate"], s["lr_decay"], s["lr_decay_every"], s["scales"]) == \
        ("classic", "adam", 0.02, 0.96, 100, None)
    with pytest.raises(ValueError, match="schedule must be one of"):
        stylize(content, style, num_steps=1, extractor=random_vgg19, schedule="slow")


def test_explicit_arguments_win_over_the_schedule(pair, random_vgg19):
    content, style = pair
    one = stylize(content, style, num_steps=4, extractor=random_vgg19, progress=False, learning_rate=0.01,
                  lr_decay=1.0, schedule="fast")
    assert one.history["learning_rate"] == [pytest.approx(0.01)] * 4
    with pytest.raises(ValueError, match="lr_decay_every"):
        stylize(content, style, num_steps=1, extractor=random_vgg19, lr_decay_every=0)
