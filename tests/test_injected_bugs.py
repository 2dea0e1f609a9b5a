"""Tests written for plausible bugs that every earlier test let through (issue 12).

Each test names the mistake it exists for; each was checked by injecting that mistake into
``nst_tf`` and seeing the test fail. Small sizes and 1-2 steps: these check the plumbing.
The Adam schedule and the returned image of ``_run_adam`` are tested in tests/test_optimize.py;
the "output is an input" check with other spellings and links in tests/test_bad_inputs.py
(``output-is-the-content-respelt``, ``output-links-to-the-content``, ``output-is-the-style-respelt``)
and in ``test_the_output_check_compares_resolved_paths`` below.
"""

import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from conftest import need_asset
from nst_tf import cli, controls, resources
from nst_tf.features import DEFAULT_LAYERS, layer_names
from nst_tf.losses import gram_matrix
from nst_tf.optimize import stylize


def images(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [tf.constant(rng.uniform(size=(1, *shape, 3)), tf.float32) for shape in shapes]


# --- bug: the TV term dropped from the total ------------------------------------------------------

def test_every_term_counts_in_the_total(random_vgg19):
    # Weights chosen so that each weighted term is exactly 1 at the first step: the total must be
    # 3. (The older history test's weights made TV 1e-6 of the total, below its tolerance.)
    content, style = images((40, 40), (40, 40))
    kwargs = dict(extractor=random_vgg19, num_steps=1, init="noise", seed=3, progress=False)
    probe = stylize(content, style, content_weight=1.0, style_weight=1.0, tv_weight=1.0, **kwargs).history
    c, s, tv = (probe[key][0] for key in ("content", "style", "tv"))
    assert min(c, s, tv) > 0
    history = stylize(content, style, content_weight=1 / c, style_weight=1 / s, tv_weight=1 / tv, **kwargs).history
    assert [history[key][0] for key in ("content", "style", "tv")] == pytest.approx([c, s, tv], rel=1e-6)
    assert history["total"][0] == pytest.approx(3.0, rel=1e-5)


# --- bug: the guided Gram matrix divided by sum(m) instead of sum(m**2) ---------------------------

def test_guided_gram_of_a_soft_mask_divides_by_the_sum_of_its_squares(rng):
    features = rng.normal(size=(1, 6, 8, 5))
    binary = np.zeros((12, 16))
    binary[:7, 5:] = 1.0
    soft = controls.resize_mask(binary, (6, 8)).numpy().astype(np.float64)  # a real resized mask: soft edges
    assert np.any((soft > 0.05) & (soft < 0.95))
    for mask in (soft, rng.uniform(0.05, 1.0, size=(1, 6, 8, 1))):
        masked = features * mask
        expected = np.einsum("bhwc,bhwd->bcd", masked, masked) / np.sum(mask ** 2)
        np.testing.assert_allclose(controls.guided_gram_matrix(features, mask).numpy(), expected, rtol=1e-12)
    for level in (0.25, 0.5):  # a uniform mask at any level is the whole image: the plain Gram matrix
        np.testing.assert_allclose(controls.guided_gram_matrix(features, np.full((1, 6, 8, 1), level)).numpy(),
                                   gram_matrix(features).numpy(), rtol=1e-12)


# --- bug: the style images not shrunk at the coarse scales ----------------------------------------

def test_style_images_shrink_with_the_content_at_each_scale(random_vgg19, monkeypatch):
    content, wide, square = images((48, 64), (72, 96), (60, 60))
    seen = []
    real = controls.style_terms

    def spy(extractor, styles, *args):
        seen.append([tuple(int(d) for d in s.shape[1:3]) for s in styles])
        return real(extractor, styles, *args)

    monkeypatch.setattr(controls, "style_terms", spy)
    result = stylize(content, [wide, square], extractor=random_vgg19, scales=(32, 64), num_steps=1, progress=False)
    # long side * scale / final scale, never below 32 px: 96 -> 48 and 60 -> 32 at 32 px; as given at 64 px
    expected = [[(36, 48), (32, 32)], [(72, 96), (60, 60)]]
    assert seen == expected
    assert result.settings["style_sizes"] == expected


# --- bug: fast --input-dir not passing strength on ------------------------------------------------

def test_a_folder_is_stylized_at_the_strength_asked_for(tmp_path, capsys):
    for name in ("magenta_style_predict_int8", "magenta_style_transfer_f16"):
        need_asset(name)
    photos = tmp_path / "photos"
    photos.mkdir()
    y, x = np.mgrid[0:40, 0:48]
    Image.fromarray(np.stack([x * 5, y * 6, (x + y) * 3], -1).astype(np.uint8)).save(photos / "a.png")
    style = tmp_path / "style.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(style)

    def run(*argv):
        assert cli.main([str(a) for a in (*argv, "--no-progress")]) == 0, capsys.readouterr().err

    run("fast", "--style", style, "--input-dir", photos, "--output-dir", tmp_path / "styled", "--strength", "0.3")
    run("fast", photos / "a.png", style, "-o", tmp_path / "single_0.3.png", "--strength", "0.3")
    run("fast", photos / "a.png", style, "-o", tmp_path / "single_1.png")
    folder, single, full = (np.asarray(Image.open(tmp_path / name), np.float64)
                            for name in ("styled/a.png", "single_0.3.png", "single_1.png"))
    np.testing.assert_array_equal(folder, single)
    assert np.abs(folder - full).mean() > 2.0  # 0.3 is visibly not full strength (0-255 scale)


# --- bug: the "output is an input" check comparing unresolved paths -------------------------------

def test_the_output_check_compares_resolved_paths(tmp_path, monkeypatch):
    from nst_tf.cli_args import UsageError, _check_output

    (tmp_path / "in").mkdir()
    photo = tmp_path / "in" / "photo.png"
    photo.write_bytes(b"not read")
    (tmp_path / "link.png").symlink_to(photo)
    monkeypatch.chdir(tmp_path / "in")
    for spelling in ("photo.png", "./photo.png", "../in/photo.png", str(photo), "../link.png"):
        with pytest.raises(UsageError, match="is an input image"):
            _check_output(Path(spelling), [Path("photo.png")])
    _check_output(Path("other.png"), [Path("photo.png")])  # and a different file is fine


# --- bug: the memory estimate ignoring the precision (and its working-set factor) -----------------

def test_stylize_checks_memory_at_the_precision_it_runs(monkeypatch):
    # resources.check_memory's own arithmetic (precision, the 4x working set, the overhead) is
    # tested in tests/test_resources.py; this checks that stylize hands it the run's precision.
    need_asset("squeezenet_v1_1_notop")
    content, style = images((48, 64), (40, 40))
    order = layer_names("squeezenet")
    deepest = max(sum(DEFAULT_LAYERS["squeezenet"], []), key=order.index)
    need = {p: resources.check_memory("squeezenet", 48, 64, deepest, p, available=2**60, optimizer="lbfgs")
            for p in ("float32", "mixed_bfloat16")}
    assert need["mixed_bfloat16"] < need["float32"]
    budget = (need["mixed_bfloat16"] + need["float32"]) // 2
    monkeypatch.setattr(resources, "available_memory", lambda: (budget, "simulated"))
    with pytest.raises(resources.ResourceError, match="float32.*simulated"):
        stylize(content, style, network="squeezenet", precision="float32", num_steps=1, progress=False)
    result = stylize(content, style, network="squeezenet", precision="mixed_bfloat16", num_steps=1, progress=False)
    assert result.settings["precision"] == "mixed_bfloat16" and result.settings["optimizer"] == "lbfgs"


def test_stylize_checks_memory_for_the_optimizer_it_runs(monkeypatch):
    # L-BFGS (the default) keeps a history of image copies that Adam does not: a budget between
    # the two needs must refuse the default run and accept the same run with Adam.
    need_asset("squeezenet_v1_1_notop")
    content, style = images((48, 64), (40, 40))
    order = layer_names("squeezenet")
    deepest = max(sum(DEFAULT_LAYERS["squeezenet"], []), key=order.index)
    need = {o: resources.check_memory("squeezenet", 48, 64, deepest, "float32", available=2**60, optimizer=o)
            for o in ("adam", "lbfgs")}
    budget = (need["adam"] + need["lbfgs"]) // 2
    monkeypatch.setattr(resources, "available_memory", lambda: (budget, "simulated"))
    with pytest.raises(resources.ResourceError, match="simulated"):
        stylize(content, style, network="squeezenet", precision="float32", num_steps=1, progress=False)
    result = stylize(content, style, network="squeezenet", precision="float32", num_steps=1, progress=False,
                     schedule="classic")
    assert result.settings["optimizer"] == "adam"


# --- bug: resume accepting a checkpoint made with another content weight --------------------------

@pytest.mark.parametrize("name", ["content_weight", "style_weight", "tv_weight"])
def test_resume_refuses_a_checkpoint_made_with_another_loss_weight(random_vgg19, tmp_path, name):
    # Every loss weight changes the path of the optimization, so each must be in the run's
    # identity. (The older tests change style_weight only.)
    content, style = images((40, 40), (40, 40))
    weights = dict(content_weight=1.0, style_weight=1.0, tv_weight=0.3)
    kwargs = dict(extractor=random_vgg19, num_steps=2, progress=False, checkpoint_dir=tmp_path)
    stylize(content, style, checkpoint_every=1, **weights, **kwargs)
    other = dict(weights, **{name: 2 * weights[name]})
    with pytest.raises(ValueError, match=re.escape(f"made with {name}={weights[name]}, this run has {other[name]}")):
        stylize(content, style, resume=True, **other, **kwargs)
    assert stylize(content, style, resume=True, **weights, **kwargs).resumed_from  # the same weights resume


# --- bug: a checkpoint written under its final name (np.savez(path)), not atomically -------------

def test_a_checkpoint_cut_off_mid_write_leaves_no_file_and_resume_uses_the_previous(random_vgg19, tmp_path,
                                                                                      monkeypatch):
    # The runtime dies while the step-2 checkpoint is being written (after its first array): that
    # checkpoint must be absent, not a truncated file under its final name, and the run resumes
    # from step 1's.
    content, style = images((40, 40), (40, 40))
    # Adam (schedule="classic"): one evaluation per step, so a checkpoint at each of steps 1, 2, 3
    kwargs = dict(extractor=random_vgg19, num_steps=3, progress=False, checkpoint_dir=tmp_path, checkpoint_every=1,
                  schedule="classic")
    real = np.savez

    def dies_mid_write(file, **arrays):
        real(file, meta=arrays["meta"])
        raise OSError(5, "runtime lost mid-write")

    def cut_after_step_1(step, image, losses):
        monkeypatch.setattr(np, "savez", dies_mid_write)  # step 1's checkpoint is already written
        return True

    with pytest.raises(OSError, match="runtime lost mid-write"):
        stylize(content, style, callback=cut_after_step_1, callback_every=1, **kwargs)
    monkeypatch.setattr(np, "savez", real)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json", "ckpt_0_000001.npz"]
    resumed = stylize(content, style, resume=True, **kwargs)
    assert resumed.resumed_from.endswith("ckpt_0_000001.npz") and resumed.history["step"] == [1, 2, 3]
