"""Artistic controls (Gatys et al. 2017): colour, several styles, masks, style scale, strength.

Pipeline tests use the random-weight VGG19 fixture (untrained features: checks of the plumbing,
not of style transfer); the colour maths is checked in float64 against its definition.
"""

import numpy as np
import pytest
import tensorflow as tf

from nst_tf import controls, optimize
from nst_tf.losses import gram_matrix
from nst_tf.optimize import stylize
from nst_tf.step_cache import compiled_steps


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:64] / 64.0
    # pastel content (mid luminance, small chroma): luminance changes stay inside the RGB gamut
    content = np.stack([0.35 + 0.3 * x, 0.4 + 0.2 * y, 0.5 * np.ones_like(x)], -1)
    content[12:36, 20:44] = [0.6, 0.45, 0.4]
    stripes = (np.sin(np.mgrid[0:40, 0:40][1] * 1.3) > 0).astype(np.float64)
    style = np.stack([stripes, 1 - stripes, 0.3 + 0.4 * rng.uniform(size=stripes.shape)], -1)
    dots = rng.uniform(size=(40, 40, 3)) ** 2
    return tuple(tf.constant(a[None], tf.float32) for a in (content, style, dots))


def run(content, style, extractor, **kwargs):
    return stylize(content, style, extractor=extractor, progress=False, **{"num_steps": 3, **kwargs})


# --- colour ----------------------------------------------------------------------------------

def test_luminance_round_trip_is_exact_in_float64(rng):
    image = rng.uniform(size=(1, 7, 5, 3))
    y, chroma = controls.to_luminance(image)
    assert y.dtype == tf.float64 and y.shape == (1, 7, 5, 1) and chroma.shape == (1, 7, 5, 2)
    np.testing.assert_allclose(controls.from_luminance(y, chroma).numpy(), image, atol=1e-14)
    np.testing.assert_allclose(y.numpy()[..., 0], image @ [0.299, 0.587, 0.114], atol=1e-14)
    grey = np.repeat(image[..., :1], 3, -1)  # grey pixels: Y = the grey value, no chroma
    y, chroma = controls.to_luminance(grey)
    np.testing.assert_allclose(y.numpy(), grey[..., :1], atol=1e-14)
    np.testing.assert_allclose(chroma.numpy(), 0.0, atol=1e-14)


@pytest.mark.parametrize("method", ["sqrt", "cholesky"])
def test_match_color_gives_the_reference_mean_and_covariance(rng, method):
    source = rng.uniform(0.2, 0.6, size=(1, 30, 20, 3)) @ np.array([[1, 0.3, 0], [0, 1, 0.2], [0.1, 0, 1]]) / 1.5
    reference = rng.beta(2, 5, size=(25, 25, 3)) * [0.9, 0.6, 1.0]
    out = controls.match_color(source, reference, method=method, eps=0.0, clip=False)
    assert out.dtype == tf.float64 and out.shape == source.shape
    x, r = out.numpy().reshape(-1, 3), reference.reshape(-1, 3)
    np.testing.assert_allclose(x.mean(0), r.mean(0), atol=1e-12)
    np.testing.assert_allclose(np.cov(x, rowvar=False, bias=True), np.cov(r, rowvar=False, bias=True), atol=1e-12)
    clipped = controls.match_color(tf.constant(source, tf.float32), reference, method=method)
    assert clipped.dtype == tf.float32 and 0 <= clipped.numpy().min() and clipped.numpy().max() <= 1
    assert np.allclose(clipped.numpy().reshape(-1, 3).mean(0), r.mean(0), atol=0.02)


def _sqrtm(matrix):
    """Symmetric square root by the Denman-Beavers iteration (independent of the code's eigh)."""
    y, z = matrix, np.eye(len(matrix))
    for _ in range(60):
        y, z = (y + np.linalg.inv(z)) / 2, (z + np.linalg.inv(y)) / 2
    return y


def test_match_color_sqrt_is_the_image_analogies_map(rng):
    """method="sqrt": A = cov_r^(1/2) cov_s^(-1/2) with symmetric square roots (Gatys 2017 §5.2)."""
    source, reference = rng.uniform(size=(10, 10, 3)), rng.uniform(size=(12, 9, 3)) ** 3
    out = controls.match_color(source, reference, eps=0.0, clip=False).numpy().reshape(-1, 3)
    x = source.reshape(-1, 3)
    transform = np.linalg.lstsq(x - x.mean(0), out - out.mean(0), rcond=None)[0].T
    cov_s = np.cov(x, rowvar=False, bias=True)
    cov_r = np.cov(reference.reshape(-1, 3), rowvar=False, bias=True)
    expected = _sqrtm(cov_r) @ np.linalg.inv(_sqrtm(cov_s))
    np.testing.assert_allclose(transform, expected, atol=1e-9)


def test_match_luminance_gives_the_reference_mean_and_std(rng):
    reference = rng.uniform(0.2, 0.8, size=(30, 30, 1))
    y = controls.match_luminance(rng.uniform(0.4, 0.6, size=(1, 20, 20, 1)), reference).numpy()
    assert abs(y.mean() - reference.mean()) < 1e-12 and abs(y.std() - reference.std()) < 1e-12


@pytest.mark.parametrize("mode", ["luminance", "luma-swap"])
def test_luminance_modes_keep_the_contents_chroma(pair, random_vgg19, mode):
    content, style, _ = pair
    seen = []
    result = run(content, style, random_vgg19, preserve_color=mode, num_steps=6, learning_rate=0.05,
                 content_weight=1.0, style_weight=1.0, tv_weight=0.1,  # a falling loss: the best image is a late one
                 callback=lambda i, image, losses: seen.append(image.shape), callback_every=3)
    assert result.trace_count == 1 and result.image.shape == content.shape
    assert seen == [content.shape, content.shape]  # callbacks see the RGB image, not one channel
    image = result.image.numpy()
    inside = np.all((image > 1e-4) & (image < 1 - 1e-4), axis=-1)  # clipping changes chroma
    assert inside.mean() > 0.9
    _, chroma = controls.to_luminance(image)
    _, content_chroma = controls.to_luminance(content)
    np.testing.assert_allclose(chroma.numpy()[inside], content_chroma.numpy()[inside], atol=1e-5)
    y, content_y = controls.to_luminance(image)[0].numpy(), controls.to_luminance(content)[0].numpy()
    assert np.abs(y - content_y).max() > 1e-3  # ... while its luminance was stylized


def test_luminance_mode_optimizes_one_channel_seen_as_grey(pair, random_vgg19, monkeypatch):
    content, style, _ = pair
    seen = []
    original = optimize.make_objective

    def spy(extractor, image_shape, **kwargs):
        seen.append((tuple(image_shape), kwargs["image_transform"]))
        return original(extractor, image_shape, **kwargs)

    monkeypatch.setattr(optimize, "make_objective", spy)
    compiled_steps(random_vgg19).clear()  # an earlier test's objective of that shape would be reused
    run(content, style, random_vgg19, preserve_color="luminance", num_steps=1, optimizer="lbfgs")
    (shape, transform), = seen
    assert shape == (1, 48, 64, 1)
    grey = transform(tf.fill([1, 4, 4, 1], 0.3)).numpy()
    assert grey.shape == (1, 4, 4, 3) and np.allclose(grey, 0.3)


def test_histogram_mode_matches_the_style_to_the_content_first(pair, random_vgg19):
    content, style, _ = pair
    matched = controls.match_color(style, content)
    a = run(content, style, random_vgg19, preserve_color="histogram", num_steps=2)
    b = run(content, matched, random_vgg19, num_steps=2)
    np.testing.assert_allclose(a.history["style"], b.history["style"], rtol=1e-5)


# --- several styles --------------------------------------------------------------------------

def test_blend_one_zero_equals_the_single_style(pair, random_vgg19):
    content, style, dots = pair
    single = run(content, style, random_vgg19)
    blend = run(content, [style, dots], random_vgg19, style_blend=[1, 0])
    np.testing.assert_allclose(blend.history["style"], single.history["style"], rtol=1e-6)
    np.testing.assert_allclose(blend.image.numpy(), single.image.numpy(), atol=1e-6)
    assert blend.settings["style_blend"] == [1.0, 0.0]


def test_gram_blend_is_the_weighted_gram_and_weights_are_normalized(pair, random_vgg19):
    content, style, dots = pair
    terms = controls.style_terms(random_vgg19, [style, dots], random_vgg19(content), ["block1_conv1"],
                                 controls.blend_weights([3, 2], 2), None, 1.0)
    expected = 0.6 * gram_matrix(random_vgg19(style)["block1_conv1"]) + 0.4 * gram_matrix(random_vgg19(dots)["block1_conv1"])
    (term,) = terms
    np.testing.assert_allclose(term.targets["block1_conv1"].numpy(), expected.numpy(), rtol=1e-5)
    result = run(content, [style, dots], random_vgg19, style_blend=[0.6, 0.4], num_steps=2)
    assert result.trace_count == 1 and result.settings["style_blend"] == [0.6, 0.4]


def test_blending_losses_is_blending_grams_up_to_a_constant(pair, random_vgg19):
    # sum_i w_i ||G - A_i||^2 = ||G - sum_i w_i A_i||^2 + const when sum_i w_i = 1: the same gradient,
    # so the course keeps one blend (of Gram targets). Checked on the real objective, at two images.
    from nst_tf.controls import StyleTerm
    from nst_tf.objective import make_objective

    content, style, dots = pair
    layers = ["block1_conv1", "block2_conv1"]
    grams = [{n: gram_matrix(random_vgg19(s)[n]) for n in layers} for s in (style, dots)]
    weights = [0.7, 0.3]
    common = dict(content_targets={"block3_conv2": random_vgg19(content)["block3_conv2"]}, content_weight=0.0,
                  style_weight=1.0, tv_weight=0.0)
    blended = make_objective(random_vgg19, content.shape, **common,
                             style_targets={n: weights[0] * grams[0][n] + weights[1] * grams[1][n] for n in layers})
    per_style = make_objective(random_vgg19, content.shape, **common, style_targets=None,
                               style_terms=[StyleTerm(w, g) for w, g in zip(weights, grams)])
    gaps = []
    for image in (content, tf.clip_by_value(content + 0.2 * tf.random.stateless_uniform(content.shape, [1, 2]), 0, 1)):
        (loss_a, grad_a), (loss_b, grad_b) = blended(image), per_style(image)
        np.testing.assert_allclose(grad_b.numpy(), grad_a.numpy(), rtol=2e-3, atol=1e-4 * float(tf.reduce_max(tf.abs(grad_a))))
        gaps.append(float(loss_b["total"] - loss_a["total"]))
    assert gaps[0] > 0  # the constant: sum_i w_i ||A_i||^2 - ||sum_i w_i A_i||^2 >= 0 (Jensen)
    np.testing.assert_allclose(gaps[1], gaps[0], rtol=1e-3)


# --- strength --------------------------------------------------------------------------------

def test_strength_interpolates_the_targets_between_content_and_style(pair, random_vgg19):
    content, style, _ = pair
    features = random_vgg19(content)
    layers = random_vgg19.style_layers
    half, = controls.style_terms(random_vgg19, [style], features, layers, [1.0], None, 0.5)
    for n in layers:
        expected = 0.5 * gram_matrix(features[n]) + 0.5 * gram_matrix(random_vgg19(style)[n])
        np.testing.assert_allclose(half.targets[n].numpy(), expected.numpy(), rtol=1e-5)
    # 0: the photo's own statistics, so starting from the photo nothing pulls it anywhere.
    # Adam's steps (schedule="classic"): every measured point stays at the photo.
    scale = 1e-6 * run(content, style, random_vgg19, num_steps=1).history["style"][0]
    zero = run(content, style, random_vgg19, strength=0.0, num_steps=4, tv_weight=0.0, schedule="classic")
    assert max(zero.history["style"]) < scale
    np.testing.assert_allclose(zero.image.numpy(), content.numpy(), atol=1e-4)
    # L-BFGS (the default): its first trial moves pixels by 0.05 whatever the gradient's size, here
    # float32 noise, so the history holds higher line-search trials; all are rejected and the
    # accepted point, the returned image, is still the photo.
    zero = run(content, style, random_vgg19, strength=0.0, num_steps=4, tv_weight=0.0)
    assert zero.settings["optimizer"] == "lbfgs" and zero.final["style"] < scale
    np.testing.assert_allclose(zero.image.numpy(), content.numpy(), atol=1e-4)
    full = run(content, style, random_vgg19, strength=1.0)
    np.testing.assert_array_equal(full.image.numpy(), run(content, style, random_vgg19).image.numpy())


# --- masks -----------------------------------------------------------------------------------

def test_guided_gram_of_a_binary_mask_is_the_gram_of_the_region(rng):
    features = tf.constant(rng.normal(size=(1, 6, 8, 5)), tf.float64)
    mask = np.zeros((6, 8))
    mask[:, :3] = 1
    guided = controls.guided_gram_matrix(features, mask[None, ..., None])
    np.testing.assert_allclose(guided.numpy(), gram_matrix(features[:, :, :3]).numpy(), atol=1e-12)
    np.testing.assert_allclose(controls.guided_gram_matrix(features, np.ones((1, 6, 8, 1))).numpy(),
                               gram_matrix(features).numpy(), atol=1e-12)
    assert not np.any(controls.guided_gram_matrix(features, np.zeros((1, 6, 8, 1))).numpy())


def test_a_mask_of_zeros_gives_no_style_loss(pair, random_vgg19):
    content, style, _ = pair
    empty = run(content, style, random_vgg19, masks=[np.zeros((12, 16))])
    assert max(empty.history["style"]) == 0.0 and empty.trace_count == 1
    whole = run(content, style, random_vgg19, masks=[np.ones((3, 4))])
    plain = run(content, style, random_vgg19)
    np.testing.assert_allclose(whole.history["style"], plain.history["style"], rtol=1e-5)
    both = run(content, style, random_vgg19, masks=[np.zeros((3, 4)), np.ones((3, 4))])
    np.testing.assert_allclose(both.history["style"], plain.history["style"], rtol=1e-5)


def test_regions_get_their_own_style_or_none(pair, random_vgg19):
    content, style, dots = pair
    left = np.zeros((48, 64), np.float32)
    left[:, :32] = 1
    two = run(content, [style, dots], random_vgg19, masks=[left, 1 - left], num_steps=2, optimizer="lbfgs")
    assert two.settings["mask_styles"] == [0, 1] and two.trace_count == 1
    # Style only, from a 3x3-px layer: the photographic half gets no gradient beyond the seam.
    photo_right = run(content, style, random_vgg19, masks=[left, 1 - left], mask_styles=[0, None],
                      mask_weights=[2.0, 1.0], num_steps=6, learning_rate=0.05, tv_weight=0.0,
                      content_weight=0.0, style_layers=["block1_conv1"])
    change = np.abs(photo_right.image.numpy() - content.numpy())[0].max(-1)
    assert change[:, :30].mean() > 0.05 and change[:, 34:].max() == 0.0
    sky = controls.threshold_mask(content, 0.45, "luminance")
    assert sky.shape == (48, 64) and set(np.unique(sky)) <= {0.0, 1.0}
    np.testing.assert_array_equal(controls.threshold_mask(content, 0.5, "b", above=False), np.ones((48, 64)))


def test_masks_from_files(pair, random_vgg19, tmp_path):
    from PIL import Image

    content, style, _ = pair
    path = tmp_path / "mask.png"
    Image.fromarray(np.full((96, 128), 255, np.uint8)).save(path)
    mask = controls.load_mask(path)
    assert mask.shape == (96, 128) and mask.min() == 1.0
    result = run(content, style, random_vgg19, masks=[path], num_steps=1)
    assert result.settings["mask_styles"] == [0]


# --- style scale and coarse-to-fine -----------------------------------------------------------

class _Spy:
    """The extractor, recording the input size of every call (targets and traced objective)."""

    def __init__(self, inner):
        self.inner, self.inputs = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __call__(self, images):
        self.inputs.append(tuple(int(d) for d in images.shape[1:3]))
        return self.inner(images)


def test_style_scale_sets_the_style_features_size(pair, random_vgg19):
    content, style, _ = pair  # content 48x64 (long side 64), style 40x40
    sizes = {}
    for scale in (1.0, 0.5, 2.0):
        spy = _Spy(random_vgg19)
        result = run(content, style, spy, style_scale=scale, num_steps=1)
        long_side = round(64 * scale)
        assert result.settings["style_sizes"] == [[(long_side, long_side)]]
        assert (long_side, long_side) in spy.inputs
        sizes[scale] = random_vgg19(controls.scale_style(style, 64, scale))
    for name in random_vgg19.style_layers:
        h1, h05, h2 = (sizes[s][name].shape[1] for s in (1.0, 0.5, 2.0))
        assert h05 == h1 // 2 and h2 == 2 * h1, (name, h05, h1, h2)
    # independent of the style's own size: the same style at 4x the pixels gives the same size
    big = tf.image.resize(style, (160, 160))
    assert run(content, big, random_vgg19, style_scale=0.5, num_steps=1).settings["style_sizes"] == [[(32, 32)]]


def test_controls_work_coarse_to_fine_with_lbfgs(pair, random_vgg19):
    content, style, dots = pair
    left = np.zeros((6, 8), np.float32)
    left[:, :4] = 1
    result = run(content, [style, dots], random_vgg19, scales=[32, 64], num_steps=2, optimizer="lbfgs",
                 preserve_color="luminance", masks=[left, 1 - left], style_scale=1.5, strength=0.7)
    assert result.image.shape == (1, 48, 64, 3) and result.trace_count == 1
    assert result.settings["style_sizes"] == [[(48, 48)] * 2, [(96, 96)] * 2]
    image = result.image.numpy()
    assert np.isfinite(image).all() and image.min() >= 0 and image.max() <= 1


# --- invalid input ---------------------------------------------------------------------------

def test_invalid_controls_fail_before_any_work(pair, monkeypatch):
    content, style, dots = pair

    def no_work(*args, **kwargs):
        raise AssertionError("a model was built before the arguments were checked")

    monkeypatch.setattr(optimize, "FeatureExtractor", no_work)
    two = [style, dots]
    cases = [
        (dict(preserve_color="sepia"), "preserve_color"),
        (dict(style_image=two, style_blend=[1.0]), "1 weight"),
        (dict(style_image=two, style_blend=[1.0, -0.5]), ">= 0"),
        (dict(style_image=two, style_blend=[float("nan"), 1]), ">= 0"),
        (dict(style_image=two, style_blend=[0, 0]), "sum to 0"),
        (dict(style_image=two, style_blend="ab"), "style_blend"),
        (dict(style_image=[]), "empty"),
        (dict(style_image=[style, tf.zeros([1, 9, 9, 4])]), r"style_image\[1\]"),
        (dict(strength=1.5), "strength"),
        (dict(strength=-0.1), "strength"),
        (dict(style_scale=0.0), "style_scale"),
        (dict(style_scale=0.2), "32 px"),
        (dict(style_scale=float("inf")), "style_scale"),
        (dict(masks=np.ones((48, 64))), "list"),
        (dict(masks=[]), "empty"),
        (dict(masks=[np.ones((48, 32))]), "aspect ratio"),
        (dict(masks=[np.ones((2, 48, 64))]), "2-D"),
        (dict(masks=[np.full((48, 64), 2.0)]), r"in \[0, 1\]"),
        (dict(masks=[np.full((48, 64), np.nan)]), r"in \[0, 1\]"),
        (dict(masks=["/no/such/mask.png"]), "no such file"),
        (dict(masks=[np.ones((48, 64))], mask_styles=[1]), "style index"),
        (dict(masks=[np.ones((48, 64))], mask_styles=[None]), "no style"),
        (dict(masks=[np.ones((48, 64))], mask_styles=[0, 0]), "2 entries for 1"),
        (dict(masks=[np.ones((48, 64))], mask_weights=[-1]), "mask_weights"),
        (dict(mask_styles=[0]), "need masks"),
        (dict(style_image=[style, dots, dots], masks=[np.ones((48, 64))] * 2), "mask_styles"),
        (dict(style_image=two, masks=[np.ones((48, 64))] * 2, style_blend=[1, 1]), "style_blend"),
    ]
    for kwargs, fragment in cases:
        kwargs = {"style_image": style, **kwargs}
        with pytest.raises(ValueError, match=fragment):
            stylize(content, kwargs.pop("style_image"), num_steps=1, progress=False, **kwargs)


# --- command line ----------------------------------------------------------------------------

@pytest.fixture
def files(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = {name: tmp_path / f"{name}.png" for name in ("photo", "a", "b", "mask", "wide")}
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(paths["photo"])
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(paths[name])
    half = np.zeros((96, 128), np.uint8)
    half[:, :64] = 255
    Image.fromarray(half).save(paths["mask"])
    Image.fromarray(np.zeros((40, 120), np.uint8)).save(paths["wide"])
    return paths


def test_cli_bad_controls_are_one_line_and_write_nothing(files, tmp_path):
    from test_cli import assert_one_line_error, run as cli

    out = tmp_path / "out.png"
    base = ["stylize", files["photo"], files["a"], files["b"], "-o", out]
    cases = [
        (["--strength", "1.5"], ["--strength", "between 0 and 1"]),
        (["--style-scale", "0"], ["--style-scale", "> 0"]),
        (["--style-blend", "-1", "1"], ["--style-blend", ">= 0"]),
        (["--preserve-color", "sepia"], ["--preserve-color", "sepia"]),
        (["--style-blend", "1"], ["--style-blend", "1 weight(s) for 2 style"]),
        (["--mask", files["wide"], files["mask"]], ["wide.png", "aspect ratio"]),
        (["--mask", tmp_path / "nope.png"], ["nope.png", "no such file"]),
        (["--mask", files["mask"], "--mask-styles", "7"], ["--mask-styles", "style index"]),
    ]
    for extra, fragments in cases:
        assert_one_line_error(cli(*base, *extra), *fragments)
        assert not out.exists()
    proc = cli("stylize", files["photo"], files["a"], "-o", files["mask"], "--mask", files["mask"])
    assert_one_line_error(proc, "refusing")


def test_cli_runs_every_control_at_once(files, tmp_path):
    from conftest import need_asset
    from PIL import Image
    from test_cli import run as cli

    need_asset("squeezenet_v1_1_notop")
    out = tmp_path / "out.png"
    proc = cli("stylize", files["photo"], files["a"], files["b"], "-o", out, "--network", "squeezenet",
               "--image-size", "64", "--steps", "3", "--no-progress", "--mask", files["mask"], files["mask"],
               "--mask-styles", "1", "none", "--preserve-color", "luminance", "--style-scale", "0.75",
               "--strength", "0.7")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (64, 48)
