"""A sweep of ``stylize`` runs shares one compiled objective (nst_tf/step_cache.py).

The property that matters: a run that reuses a cached objective and Adam step is the run a
fresh one makes, bit for bit (targets, weights, learning-rate schedule, Adam's state, the best
image and the float16 loss scale all reset), and nothing traces again.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from nst_tf import step_cache
from nst_tf.features import FeatureExtractor
from nst_tf.loops import decay_schedule_class
from nst_tf.optimize import stylize

LAYERS = dict(style_layers=["block1_conv1", "block2_conv1"], content_layers=["block2_conv2"])


@pytest.fixture(scope="module")
def extractor():
    return FeatureExtractor(**LAYERS, network="vgg19", weights="random")


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(3)
    pick = lambda *shape: tf.constant(rng.uniform(0, 1, shape), tf.float32)
    return pick(1, 32, 40, 3), pick(1, 36, 36, 3), pick(1, 28, 44, 3)


def run(extractor, content, style, **kwargs):
    kwargs = {"num_steps": 4, "progress": False, "estimate": False, **kwargs}
    return stylize(content, style, extractor=extractor, **LAYERS, **kwargs)


def fresh(extractor, *args, **kwargs):
    extractor.compiled_steps.clear()
    return run(extractor, *args, **kwargs)


def assert_same_run(a, b):
    np.testing.assert_array_equal(a.image.numpy(), b.image.numpy())
    assert a.history.keys() == b.history.keys()
    for key in set(a.history) - {"seconds"}:
        assert a.history[key] == b.history[key], key
    assert a.best_step == b.best_step


@pytest.mark.parametrize("settings", [
    dict(optimizer="adam", learning_rate=0.05, lr_decay=0.5, lr_decay_every=2),  # staircase
    dict(optimizer="adam", learning_rate=0.03, lr_decay=0.1, lr_decay_every=None),  # smooth
    dict(optimizer="adam", learning_rate=0.02, lr_decay=1.0),  # constant
    dict(optimizer="lbfgs"),
], ids=["staircase", "smooth", "constant", "lbfgs"])
def test_a_reused_objective_gives_the_fresh_run_bit_for_bit(extractor, images, settings):
    content, style, other_style = images
    run(extractor, content, other_style, content_weight=3.0, style_weight=50.0, tv_weight=0.5,
        optimizer="adam", learning_rate=0.2, lr_decay=0.9, lr_decay_every=1)  # leaves other state behind
    hits = extractor.compiled_steps.hits
    reused = run(extractor, content, style, content_weight=1.0, style_weight=20.0, tv_weight=2.0, **settings)
    assert extractor.compiled_steps.hits == hits + 1 and reused.trace_count == 1
    new = fresh(extractor, content, style, content_weight=1.0, style_weight=20.0, tv_weight=2.0, **settings)
    assert extractor.compiled_steps.hits == 0  # cleared: compiled anew
    assert_same_run(reused, new)


def test_another_shape_or_layer_weighting_is_another_objective(extractor, images):
    content, style, _ = images
    extractor.compiled_steps.clear()
    run(extractor, content, style)
    run(extractor, content[:, :24], style)
    run(extractor, content, style, style_layer_weights={"block1_conv1": 0.9, "block2_conv1": 0.1})
    run(extractor, content, style, tv_kind="l2")
    assert len(extractor.compiled_steps) == 4 and extractor.compiled_steps.hits == 0
    run(extractor, content, style, style_weight=7.0)
    assert extractor.compiled_steps.hits == 1


def test_the_cache_keeps_the_most_recent_shapes(extractor, images, monkeypatch):
    content, style, _ = images
    extractor.compiled_steps.clear()
    monkeypatch.setattr(extractor.compiled_steps, "max_entries", 2)
    for width in (16, 20, 24):
        run(extractor, content[:, :, :width], style, num_steps=1)
    assert len(extractor.compiled_steps) == 2
    run(extractor, content[:, :, :16], style, num_steps=1)  # evicted: compiled again
    run(extractor, content[:, :, :24], style, num_steps=1)  # kept
    assert extractor.compiled_steps.hits == 1


def test_a_run_inside_a_callback_does_not_disturb_the_outer_run(extractor, images):
    content, style, other_style = images
    plain = fresh(extractor, content, style)
    inner = []

    def stylize_meanwhile(step, image, losses):
        inner.append(run(extractor, content, other_style, style_weight=99.0, num_steps=2))

    outer = run(extractor, content, style, callback=stylize_meanwhile, callback_every=1)
    assert len(inner) == 4
    assert_same_run(outer, plain)
    np.testing.assert_array_equal(inner[0].image.numpy(), inner[-1].image.numpy())


def test_float16_loss_scale_starts_again_at_each_run(images):
    content, style, _ = images
    extractor = FeatureExtractor(**LAYERS, network="vgg19", weights="random", precision="mixed_float16")
    first = run(extractor, content, style, num_steps=3)
    objective, = extractor.compiled_steps._entries.values()
    objective.scaler.scale.assign(4.0)  # as if the first run had halved it many times
    second = run(extractor, content, style, num_steps=3)
    assert extractor.compiled_steps.hits == 1
    assert_same_run(first, second)


def test_retarget_refuses_other_layers_or_shapes(extractor, images):
    content, style, _ = images
    extractor.compiled_steps.clear()
    run(extractor, content, style, num_steps=1)
    objective, = extractor.compiled_steps._entries.values()
    grams = {n: tf.zeros([1, 64 if n == "block1_conv1" else 128] * 2) for n in LAYERS["style_layers"]}
    feature = {"block2_conv2": tf.zeros([1, 16, 20, 128])}
    weights = dict(content_weight=1.0, style_weight=1.0, tv_weight=1.0)
    with pytest.raises(ValueError, match="layers"):
        objective.retarget(content_targets=feature, style_targets={"block1_conv1": grams["block1_conv1"]}, **weights)
    with pytest.raises(ValueError):
        objective.retarget(content_targets={"block2_conv2": tf.zeros([1, 8, 8, 128])}, style_targets=grams,
                           **weights)


@pytest.mark.parametrize("lr, decay, every, steps, done", [
    (0.02, 0.96, 100, 1000, 0), (0.05, 0.1, None, 300, 0), (0.05, 0.1, None, 300, 210), (0.02, 1.0, 100, 50, 0)])
def test_decay_schedule_is_keras_exponential_decay_bit_for_bit(lr, decay, every, steps, done):
    from nst_tf.loops import keras_schedule

    ours = decay_schedule_class()()
    ours.set(lr, decay, every, steps, done)
    theirs = keras_schedule(lr, decay, every, steps, done)
    for step in range(0, 1001, 7):
        expected = theirs(step) if callable(theirs) else tf.constant(theirs, tf.float32)
        assert float(ours(tf.constant(step, tf.int64))) == float(expected), step
    assert isinstance(ours, keras.optimizers.schedules.LearningRateSchedule)


def test_the_cache_belongs_to_the_extractor():
    class Stand:
        pass

    stand = Stand()
    assert step_cache.compiled_steps(stand) is step_cache.compiled_steps(stand)
    assert step_cache.compiled_steps(Stand()) is not step_cache.compiled_steps(stand)
