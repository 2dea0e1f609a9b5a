"""nst_tf.training: the transformer network, the photo pipeline, the training loop (loss falls,
exact resume, two logical devices = one), and the exported models (.keras, .tflite = Keras).

Tiny sizes throughout (32 px crops, batch 2, width 0.25, one residual block, SqueezeNet's real weights):
one trained model is shared by the module. One block instead of five: the properties tested here do not
depend on the depth, and every training run traces its step (under MirroredStrategy, once per replica)
in time proportional to the number of layers and variables."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import nst_tf
from conftest import need_asset
from nst_tf.training import (InstanceNormalization, ReflectionPadding2D, Upsample2x, build_transformer_net,
                             export_tflite, find_images, image_dataset, load_trained_model, save_trained_model,
                             train_transformer)
from nst_tf.training.dataset import _crop_and_flip
from nst_tf.training.network import REALTIME, architecture
from nst_tf.training.loop import TRAINING_DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(image_size=32, batch_size=2, network="squeezenet", width=0.25, residual_blocks=1, progress=False)
STEPS = 6


def make_photos(folder: Path) -> Path:
    """Odd formats that must all be used, and files that must be skipped (and counted)."""
    rng = np.random.default_rng(0)
    (folder / "sub" / "deeper").mkdir(parents=True)
    yy, xx = np.mgrid[0:60, 0:90]
    smooth = np.stack([xx * 2, yy * 4, (xx + yy) * 1.5], -1).astype(np.uint8)
    Image.fromarray(smooth).save(folder / "rgb.png")
    Image.fromarray(smooth[..., 0]).save(folder / "sub" / "grey.jpg")
    Image.fromarray(np.dstack([smooth, np.full((60, 90), 128, np.uint8)])).save(folder / "sub" / "alpha.png")
    Image.fromarray(smooth[::-1]).save(folder / "sub" / "deeper" / "pic.bmp")
    Image.fromarray(smooth[:, ::-1]).save(folder / "anim.gif")
    Image.fromarray((smooth.astype(np.uint16) * 257)[..., 1]).save(folder / "sixteen.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "fake.jpg").write_bytes(b"not a jpeg either")
    Image.fromarray(smooth[:20, :20]).save(folder / "tiny.png")
    Image.fromarray(smooth).save(folder / ".hidden.png")
    Image.fromarray(rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)).save(folder / "truncated.jpg", quality=95)
    data = (folder / "truncated.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[:len(data) // 2])
    return folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return make_photos(tmp_path_factory.mktemp("photos"))


def style_image():
    from nst_tf.data import course_image
    from nst_tf.images import load_image

    return load_image(course_image("vangogh_starry_night"), max_dim=64)


@pytest.fixture(scope="module")
def style():
    need_asset("vangogh_starry_night")
    return style_image()


@pytest.fixture(scope="module")
def trained(photos, style, squeezenet_weights):
    """The module's one uninterrupted run (the reference of the resume and two-device tests)."""
    return train_transformer(style, photos, steps=STEPS, **TINY)


# --- the network ----------------------------------------------------------------------------

@pytest.mark.parametrize("width, channels", [(0.25, (8, 16, 32)), (0.5, (16, 32, 64)), (1.0, (32, 64, 128))])
def test_network_shapes_for_several_widths(width, channels):
    model = build_transformer_net(width)
    out = model(tf.random.uniform([2, 36, 44, 3]))
    assert out.shape == (2, 36, 44, 3)
    assert 0.0 <= float(tf.reduce_min(out)) and float(tf.reduce_max(out)) <= 1.0
    assert [model.get_layer(n).filters for n in ("down1_conv", "down2_conv", "down3_conv")] == list(channels)
    assert model.get_layer("res5_b_conv").filters == channels[2] and model.get_layer("up2_conv").filters == channels[0]
    assert model.get_layer("down3_conv").output.shape[1:] == (None, None, channels[2])
    assert len([layer for layer in model.layers if layer.name.endswith("_add")]) == 5
    assert len([layer for layer in model.layers if isinstance(layer, InstanceNormalization)]) == 3 + 10 + 2
    with pytest.raises(ValueError, match="norm"):
        build_transformer_net(norm="layer")
    with pytest.raises(ValueError, match="width"):
        build_transformer_net(width=0)


def parameter_count(channels, kernel, blocks):
    """Counted by hand: convolutions without bias before a norm (2 numbers per channel), the last
    one with a bias; 3x3 everywhere but the first and last (``kernel``)."""
    small, middle, large = channels
    normed = lambda k, c_in, c_out: k * k * c_in * c_out + 2 * c_out  # noqa: E731
    return (normed(kernel, 3, small) + normed(3, small, middle) + normed(3, middle, large)
            + blocks * 2 * normed(3, large, large) + normed(3, large, middle) + normed(3, middle, small)
            + kernel * kernel * small * 3 + 3)


def test_realtime_preset_is_the_paper_network_with_3x3_ends():
    paper, realtime = build_transformer_net(), build_transformer_net(preset="realtime")
    assert paper.count_params() == parameter_count((32, 64, 128), 9, 5) == 1_677_635  # unchanged default
    assert realtime.count_params() == parameter_count((8, 16, 32), 3, 5)
    assert REALTIME == architecture("realtime") == dict(width=0.25, residual_blocks=5, kernel=3)
    assert [realtime.get_layer(n).kernel_size for n in ("down1_conv", "out_conv")] == [(3, 3)] * 2
    assert [paper.get_layer(n).kernel_size for n in ("down1_conv", "out_conv")] == [(9, 9)] * 2
    assert realtime.get_layer("down1_pad").padding == 1 and realtime.name == "transformer_realtime_instance"
    assert [realtime.get_layer(n).filters for n in ("down1_conv", "down2_conv", "down3_conv")] == [8, 16, 32]
    assert len([layer for layer in realtime.layers if layer.name.endswith("_add")]) == 5
    out = realtime(tf.random.uniform([2, 36, 44, 3]))
    assert out.shape == (2, 36, 44, 3) and 0.0 <= float(tf.reduce_min(out)) <= float(tf.reduce_max(out)) <= 1.0
    fewer = build_transformer_net(preset="realtime", residual_blocks=3)  # an explicit argument wins
    assert fewer.count_params() == parameter_count((8, 16, 32), 3, 3)
    assert build_transformer_net(0.5, kernel=5).count_params() == parameter_count((16, 32, 64), 5, 5)
    for bad, match in [(dict(preset="tiny"), "preset"), (dict(kernel=4), "kernel"),
                       (dict(residual_blocks=-1), "residual_blocks"), (dict(preset="realtime", width=0), "width")]:
        with pytest.raises(ValueError, match=match):
            build_transformer_net(**bad)


def test_realtime_preset_trains_and_records_its_shape(photos, style, squeezenet_weights):
    result = train_transformer(style, photos, steps=STEPS, preset="realtime",
                               **dict(TINY, width=None, residual_blocks=None))
    total = result.history["total"]
    assert np.all(np.isfinite(total)) and np.mean(total[-3:]) < 0.7 * np.mean(total[:2]), total
    assert result.model.count_params() == parameter_count((8, 16, 32), 3, 5)
    assert result.settings["width"] == 0.25 and result.settings["kernel"] == 3
    assert "residual_blocks" not in result.settings  # only what differs from the paper is recorded


def test_subpackage_names_after_import_nst_tf():
    assert nst_tf.training.build_transformer_net is build_transformer_net
    assert nst_tf.training.loop.train_transformer is train_transformer


def test_instance_norm_matches_a_float64_reference(rng):
    x = rng.normal(3.0, 2.0, (3, 5, 7, 4)).astype(np.float32)
    layer = InstanceNormalization()
    layer.build(x.shape)
    scale, offset = rng.normal(size=4), rng.normal(size=4)
    layer.set_weights([scale.astype(np.float32), offset.astype(np.float32)])
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=(1, 2), keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=(1, 2), keepdims=True)  # biased, per image and channel
    expected = scale * (x64 - mean) / np.sqrt(var + 1e-3) + offset
    got = layer(x).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    alone = layer(x[1:2]).numpy()  # one image's output does not depend on the others (not batch norm)
    np.testing.assert_allclose(alone[0], got[1], rtol=1e-6, atol=1e-6)
    config = InstanceNormalization.from_config(layer.get_config()).get_config()
    assert config["epsilon"] == 1e-3


def test_reflection_padding_and_upsampling_against_numpy(rng):
    x = rng.random((2, 4, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(ReflectionPadding2D(2)(x).numpy(),
                                  np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect"))
    np.testing.assert_array_equal(Upsample2x()(x).numpy(), x.repeat(2, axis=1).repeat(2, axis=2))


def test_upsampling_has_no_transposed_convolution():
    model = build_transformer_net(0.25)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert not any("Transpose" in kind for kind in kinds), kinds
    assert sum(isinstance(layer, Upsample2x) for layer in model.layers) == 2
    x = tf.random.uniform([1, 16, 16, 3])  # the gradient flows through the upsampling
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model(x, training=True))
    assert all(g is not None for g in tape.gradient(loss, model.trainable_variables))


# --- the photos ----------------------------------------------------------------------------

def test_find_images_uses_every_format_and_counts_the_rest(photos):
    found, skipped = find_images(photos)
    names = sorted(p.name for p in found)
    assert names == ["alpha.png", "anim.gif", "grey.jpg", "pic.bmp", "rgb.png", "sixteen.png", "truncated.jpg"]
    assert skipped == {"not an image": 2, "smaller than 32 px": 1}
    with pytest.raises(ValueError, match="no such folder"):
        find_images(photos / "missing")


def test_dataset_is_seeded_resumable_and_drops_undecodable_files(photos, capsys):
    data = image_dataset(photos, 32, 3, seed=5, with_index=True)
    assert "training images: 7" in capsys.readouterr().err
    batches = [(b.numpy(), i.numpy()) for b, i in data.take(5)]
    assert all(b.shape == (3, 32, 32, 3) and b.dtype == np.float32 for b, _ in batches)
    assert all(0.0 <= b.min() and b.max() <= 1.0 for b, _ in batches)
    indices = np.concatenate([i for _, i in batches])
    assert len(set(indices)) == len(indices) and np.all(np.diff(indices) > 0)
    assert data.decoder.failed == 1 and len(indices) < indices[-1] + 1  # the truncated JPEG, dropped
    again = [b.numpy() for b, _ in image_dataset(photos, 32, 3, seed=5, with_index=True, quiet=True).take(5)]
    assert all(np.array_equal(a, b) for (a, _), b in zip(batches, again))
    other = next(iter(image_dataset(photos, 32, 3, seed=6, quiet=True))).numpy()
    assert not np.array_equal(other, batches[0][0])
    start = int(batches[2][1][0])  # what a resumed run does: start at the next example index
    resumed = next(iter(image_dataset(photos, 32, 3, seed=5, start=start, quiet=True))).numpy()
    np.testing.assert_array_equal(resumed, batches[2][0])


def test_crops_are_crops_of_the_resized_photo_and_flips_happen(rng):
    photo = rng.random((40, 80, 3)).astype(np.float32)
    resized = tf.image.resize(photo, (32, 64), antialias=True).numpy()
    flips = set()
    for seed in range(12):
        crop = _crop_and_flip(tf.constant(photo), 32, tf.constant([seed, 3], tf.int64)).numpy()
        windows = [np.clip(resized[:, x:x + 32], 0, 1) for x in range(33)]
        plain = [x for x, w in enumerate(windows) if np.allclose(crop, w, atol=1e-6)]
        mirrored = [x for x, w in enumerate(windows) if np.allclose(crop, w[:, ::-1], atol=1e-6)]
        assert plain or mirrored, "the crop is no window of the resized photo"
        flips.add(bool(mirrored and not plain))
    assert flips == {True, False}


# --- training ------------------------------------------------------------------------------

def test_training_loss_falls_and_adds_up(trained):
    h = trained.history
    assert trained.steps == STEPS and len(h["total"]) == STEPS and trained.skipped_files == 1
    weights = TRAINING_DEFAULTS["squeezenet"]
    total = (weights["content_weight"] * np.array(h["content"]) + weights["style_weight"] * np.array(h["style"])
             + weights["tv_weight"] * np.array(h["tv"]))
    np.testing.assert_allclose(h["total"], total, rtol=1e-5)
    assert np.mean(h["total"][-3:]) < 0.7 * np.mean(h["total"][:2]), h["total"]
    assert trained.settings["weights"] == "imagenet" and trained.settings["residual_blocks"] == 1
    assert len([layer for layer in trained.model.layers if layer.name.endswith("_add")]) == 1


def test_resume_repeats_the_uninterrupted_run(trained, photos, style, tmp_path):
    seen = []

    def stop_after_two(step, preview, losses):
        seen.append((step, None if preview is None else tuple(preview.shape)))
        return step < 2

    first = train_transformer(style, photos, steps=STEPS, checkpoint_dir=tmp_path, checkpoint_every=1,
                              callback=stop_after_two, preview_every=1, preview_image=tf.zeros([1, 42, 50, 3]), **TINY)
    assert first.steps == 2 and seen == [(1, (1, 40, 48, 3)), (2, (1, 40, 48, 3))]
    with pytest.raises(ValueError, match="already holds checkpoints"):
        train_transformer(style, photos, steps=STEPS, checkpoint_dir=tmp_path, **TINY)
    with pytest.raises(ValueError, match="learning_rate"):
        train_transformer(style, photos, steps=STEPS, checkpoint_dir=tmp_path, resume=True,
                          **dict(TINY, learning_rate=0.01))
    resumed = train_transformer(style, photos, steps=STEPS, checkpoint_dir=tmp_path, resume=True, **TINY)
    assert resumed.steps == STEPS and resumed.history["step"] == list(range(1, STEPS + 1))
    # Bit-identical on this CPU when we ran it; a tolerance leaves room for other thread counts.
    np.testing.assert_allclose(resumed.history["total"], trained.history["total"], rtol=1e-6)
    for a, b in zip(resumed.model.get_weights(), trained.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


_TWO_DEVICES = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from test_training import STEPS, TINY, make_photos, style_image
    from nst_tf.training import train_transformer
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    two = train_transformer(style_image(), make_photos(Path({folder!r})), steps=STEPS, strategy=strategy, **TINY)
    print(json.dumps(dict(replicas=two.replicas, total=two.history["total"])))
""")


def test_mirrored_strategy_on_two_logical_cpus_matches_one_device(trained, tmp_path):
    """Each logical CPU gets one photo of the batch of 2; the same losses as the module's run on
    one device (same photos: the folder is made again, the same way)."""
    script = _TWO_DEVICES.format(tests=str(ROOT / "tests"), folder=str(tmp_path / "photos"))
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    np.testing.assert_allclose(result["total"], trained.history["total"], rtol=1e-4)


# --- export --------------------------------------------------------------------------------

def test_keras_file_round_trip(trained, tmp_path, rng):
    path = save_trained_model(trained.model, tmp_path / "net.keras")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left
    photo = rng.random((1, 40, 52, 3)).astype(np.float32)
    np.testing.assert_array_equal(load_trained_model(path)(photo).numpy(), trained.model(photo).numpy())
    with pytest.raises(ValueError, match=r"\.keras"):
        save_trained_model(trained.model, tmp_path / "net.h5")


@pytest.mark.parametrize("quantize, atol, mean", [("float16", 5e-3, 1e-3), ("int8", 6e-2, 1e-2)])
def test_tflite_matches_the_keras_model(trained, tmp_path, rng, quantize, atol, mean):
    path = export_tflite(trained.model, tmp_path / f"net_{quantize}.tflite", quantize)
    photo = rng.random((1, 38, 50, 3)).astype(np.float32)  # sides not multiples of 4: padded, cropped back
    padded = np.pad(photo, [(0, 0), (0, 2), (0, 2), (0, 0)], mode="reflect")
    expected = trained.model(padded).numpy()[:, :38, :50]
    stylizer = load_trained_model(path)
    got = stylizer(photo).numpy()
    assert got.shape == photo.shape and stylizer.kind == "tflite"
    np.testing.assert_allclose(got, expected, atol=atol)
    assert np.abs(got - expected).mean() < mean
    plain = type(stylizer)(path, rewrite=False)(photo).numpy()  # the XNNPACK rewrite changes nothing
    np.testing.assert_array_equal(got, plain)
    half = stylizer(photo, strength=0.5).numpy()
    np.testing.assert_allclose(half, 0.5 * got + 0.5 * photo, atol=1e-6)
