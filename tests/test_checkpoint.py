"""Long runs: checkpoints and resume (bit-identical to an uninterrupted run), Adam's best image,
the learning-rate schedule as the optimizer applies it, and ``init`` images."""

import json
import os
import signal
import stat

import numpy as np
import pytest
import tensorflow as tf

from nst_tf import checkpoint
from nst_tf.config import seed_everything
from nst_tf.losses import gram_matrix
from nst_tf.objective import make_objective
from nst_tf.optimize import keras_schedule, stylize

WEIGHTS = dict(content_weight=1.0, style_weight=1.0, tv_weight=0.3)  # every term matters


@pytest.fixture(scope="module")
def pair():
    seed_everything(0, announce=False)  # deterministic kernels: reruns are bit-identical
    rng = np.random.default_rng(3)
    content = tf.constant(rng.uniform(size=(1, 40, 48, 3)), tf.float32)
    style = tf.constant(rng.uniform(size=(1, 36, 36, 3)) ** 3, tf.float32)
    return content, style


def run(pair, extractor, **kwargs):
    return stylize(*pair, extractor=extractor, progress=False, **{**WEIGHTS, **kwargs})


def same_run(a, b):
    np.testing.assert_array_equal(a.image.numpy(), b.image.numpy())  # bit for bit
    for key in ("step", "total", "content", "style", "tv", "scale"):
        assert a.history[key] == b.history[key], key
    assert a.history["style_layers"] == b.history["style_layers"]
    assert a.final_step == b.final_step and a.best_step == b.best_step


def test_adam_resumed_after_a_stop_or_a_crash_is_bit_identical(pair, random_vgg19, tmp_path):
    kwargs = dict(num_steps=8, lr_decay=0.5, lr_decay_every=3)  # the schedule must resume too
    full = run(pair, random_vgg19, **kwargs)
    # "Disconnect" 1: a callback stops the run at step 5; checkpoints every 3 steps.
    stopped = run(pair, random_vgg19, checkpoint_dir=tmp_path / "a", checkpoint_every=3,
                  callback=lambda step, image, losses: step < 5, callback_every=1, **kwargs)
    assert len(stopped.history["step"]) == 5
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path / "a")] == ["ckpt_0_000003.npz", "ckpt_0_000005.npz"]
    resumed = run(pair, random_vgg19, checkpoint_dir=tmp_path / "a", resume=True, **kwargs)
    assert resumed.resumed_from.endswith("ckpt_0_000005.npz")
    same_run(resumed, full)

    # "Disconnect" 2: an exception at step 5 (a crash): nothing is written then; resume from step 3.
    def crash(step, image, losses):
        if step == 5:
            raise RuntimeError("runtime lost")

    with pytest.raises(RuntimeError):
        run(pair, random_vgg19, checkpoint_dir=tmp_path / "b", checkpoint_every=3, callback=crash,
            callback_every=1, **kwargs)
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path / "b")] == ["ckpt_0_000003.npz"]
    resumed = run(pair, random_vgg19, checkpoint_dir=tmp_path / "b", resume=True, **kwargs)
    same_run(resumed, full)
    # ... and resuming a finished run does no work and returns the same result.
    again = run(pair, random_vgg19, checkpoint_dir=tmp_path / "b", resume=True, **kwargs)
    same_run(again, full)  # the same history: no step was run


def test_lbfgs_resumes_with_its_memory_bit_identical(pair, random_vgg19, tmp_path):
    kwargs = dict(num_steps=14, optimizer="lbfgs")
    full = run(pair, random_vgg19, **kwargs)
    run(pair, random_vgg19, checkpoint_dir=tmp_path, checkpoint_every=4,
        callback=lambda step, image, losses: step < 9, callback_every=1, **kwargs)
    snapshot = checkpoint.read_checkpoint(checkpoint.list_checkpoints(tmp_path)[-1])
    assert snapshot.state["count"] >= 1  # curvature pairs were remembered ...
    assert snapshot.arrays["rho"].shape == (snapshot.state["count"],)  # ... and are in the file
    assert snapshot.arrays["s"].shape == (snapshot.state["count"], *pair[0].shape) and np.all(snapshot.arrays["rho"] > 0)
    resumed = run(pair, random_vgg19, checkpoint_dir=tmp_path, resume=True, **kwargs)
    same_run(resumed, full)


def test_coarse_to_fine_resumes_inside_the_second_scale(pair, random_vgg19, tmp_path):
    kwargs = dict(num_steps=[3, 4], scales=[32, 48], schedule="classic")  # Adam: a checkpoint per step
    full = run(pair, random_vgg19, **kwargs)
    run(pair, random_vgg19, checkpoint_dir=tmp_path, checkpoint_every=5,
        callback=lambda step, image, losses: step < 6, callback_every=1, **kwargs)
    names = [p.name for p in checkpoint.list_checkpoints(tmp_path)]
    assert names == ["ckpt_1_000002.npz", "ckpt_1_000003.npz"]  # scale 1: global steps 5 and 6
    same_run(run(pair, random_vgg19, checkpoint_dir=tmp_path, resume=True, **kwargs), full)


def test_ctrl_c_writes_a_checkpoint_then_stops_and_the_run_resumes(pair, random_vgg19, tmp_path):
    kwargs = dict(num_steps=7, schedule="classic")  # Adam: Ctrl-C stops after a whole step
    full = run(pair, random_vgg19, **kwargs)
    before = signal.getsignal(signal.SIGINT)

    def press_ctrl_c(step, image, losses):
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(checkpoint.Interrupted) as caught:
        run(pair, random_vgg19, checkpoint_dir=tmp_path, callback=press_ctrl_c, callback_every=1, **kwargs)
    assert isinstance(caught.value, KeyboardInterrupt)
    assert caught.value.step == 4 and caught.value.checkpoint.name == "ckpt_0_000004.npz"  # after a whole step
    assert "resume" in str(caught.value)
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C behaves as usual again
    same_run(run(pair, random_vgg19, checkpoint_dir=tmp_path, resume=True, **kwargs), full)


def test_resume_refuses_other_settings_and_names_the_difference(pair, random_vgg19, tmp_path):
    run(pair, random_vgg19, num_steps=4, checkpoint_dir=tmp_path, checkpoint_every=2)
    with pytest.raises(ValueError, match=r"made with style_weight=1\.0, this run has 2\.0"):
        run(pair, random_vgg19, num_steps=4, checkpoint_dir=tmp_path, resume=True, style_weight=2.0)
    with pytest.raises(ValueError, match="content_image="):
        stylize(pair[0] * 0.5, pair[1], extractor=random_vgg19, progress=False, num_steps=4,
                checkpoint_dir=tmp_path, resume=True, **WEIGHTS)
    with pytest.raises(ValueError, match="at step 4 of scale 0"):  # fewer steps than were done
        run(pair, random_vgg19, num_steps=3, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="already holds checkpoints"):  # never mixed with a new run
        run(pair, random_vgg19, num_steps=4, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="need checkpoint_dir"):
        run(pair, random_vgg19, num_steps=4, checkpoint_every=2)
    with pytest.raises(ValueError, match="checkpoint_every must be an integer"):
        run(pair, random_vgg19, num_steps=4, checkpoint_dir=tmp_path / "new", checkpoint_every=0)
    more = run(pair, random_vgg19, num_steps=6, checkpoint_dir=tmp_path, resume=True)  # more steps: fine
    assert more.history["step"] == list(range(1, 7))


def test_a_smooth_decay_spans_num_steps_so_a_resume_keeps_them(pair, random_vgg19, tmp_path):
    # schedule="fast" with Adam: the learning rate falls over the run's steps, so 6 steps after a
    # checkpoint of a 4-step run would be neither run: the resume is refused, naming num_steps.
    smooth = dict(schedule="fast", learning_rate=0.05)
    run(pair, random_vgg19, num_steps=4, checkpoint_dir=tmp_path, checkpoint_every=2, **smooth)
    with pytest.raises(ValueError, match=r"num_steps \(the smooth learning-rate decay spans them\)=\[4\], "
                                         r"this run has \[6\]"):
        run(pair, random_vgg19, num_steps=6, checkpoint_dir=tmp_path, resume=True, **smooth)
    again = run(pair, random_vgg19, num_steps=4, checkpoint_dir=tmp_path, resume=True, **smooth)
    assert again.history["step"] == list(range(1, 5))


def test_checkpoint_files_format_atomic_writes_and_umask(pair, random_vgg19, tmp_path, capsys):
    folder = tmp_path / "ckpt"
    old = os.umask(0o022)
    try:
        result = run(pair, random_vgg19, num_steps=5, checkpoint_dir=folder, checkpoint_every=1, resume=True,
                     schedule="classic")  # Adam's state, below
    finally:
        os.umask(old)
    assert "no checkpoint in" in capsys.readouterr().err  # resume with nothing to resume: says so, starts
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.json", "ckpt_0_000004.npz", "ckpt_0_000005.npz"]
    assert result.checkpoint == str(folder / "ckpt_0_000005.npz")
    for path in folder.iterdir():  # no temporary file left; 0644 under umask 022, like any new file
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    snapshot = checkpoint.read_checkpoint(folder / "ckpt_0_000005.npz")
    assert snapshot.scale == 0 and snapshot.step == 5 and snapshot.history["step"] == [1, 2, 3, 4, 5]
    assert snapshot.settings["style_weight"] == 1.0 and snapshot.settings["network"] == "vgg19"
    assert snapshot.settings == json.loads((folder / "checkpoint.json").read_text())["settings"]
    assert {"image", "adam/0_iteration", "adam/1_momentum", "adam/2_velocity", "best/0_best_image"} <= set(snapshot.arrays)
    assert int(snapshot.arrays["adam/0_iteration"]) == 5  # Adam's step counter: the schedule's clock


def test_adam_returns_the_best_image_and_final_describes_it(pair, random_vgg19):
    """The loss at history step i is measured before update i: the returned image must be the one
    at which history[best_step] was measured. Re-evaluating it must give exactly those losses."""
    content, style = pair
    seen = {}

    def keep(step, image, losses):
        seen[step] = image.numpy()  # the image after update ``step`` = the one measured at step + 1

    # A learning rate this large overshoots: the loss rises again. Stop at a step where it rose,
    # so that the best is not the last (the same path: the same seed, deterministic kernels).
    kwargs = dict(learning_rate=0.3, lr_decay=1.0, callback=keep, callback_every=1)
    totals = run(pair, random_vgg19, num_steps=12, **kwargs).history["total"]
    # steps k whose loss is above the best so far, that best not being the start image (step 1)
    rose = [k for k in range(3, len(totals) + 1) if totals[k - 1] > min(totals[:k - 1]) != totals[0]]
    assert rose, "the loss never rose: no run to test the best image with"
    result = run(pair, random_vgg19, num_steps=rose[0], **kwargs)
    totals = result.history["total"]
    assert result.best_step == result.final_step == totals.index(min(totals)) + 1 < len(totals)
    assert result.final["total"] == min(totals)
    np.testing.assert_array_equal(result.image.numpy(), seen[result.best_step - 1])
    f, s = random_vgg19(content), random_vgg19(style)
    objective = make_objective(random_vgg19, content.shape,
                               content_targets={n: f[n] for n in random_vgg19.content_layers},
                               style_targets={n: gram_matrix(s[n]) for n in random_vgg19.style_layers}, **WEIGHTS)
    losses, _ = objective(result.image)
    for key in ("total", "content", "style", "tv"):
        assert float(losses[key]) == pytest.approx(result.final[key], rel=1e-5), key
    # A falling loss: the best is the last measured step, i.e. the image *before* the last update.
    falling = run(pair, random_vgg19, num_steps=4, learning_rate=0.01, callback=keep, callback_every=1)
    assert falling.best_step == 4 and falling.history["total"] == sorted(falling.history["total"], reverse=True)
    np.testing.assert_array_equal(falling.image.numpy(), seen[3])
    assert not np.array_equal(falling.image.numpy(), seen[4])


def test_learning_rate_decays_every_n_steps_not_every_step(pair, random_vgg19):
    # keras_schedule at the optimizer's counter: constant up to every-1, decayed at every.
    schedule = keras_schedule(0.02, 0.5, 4)
    assert float(schedule(3)) == pytest.approx(0.02) and float(schedule(4)) == pytest.approx(0.01)
    # The rate each update really used, read from the optimizer inside the step (history step i is
    # update i, made at Adam's counter i - 1).
    result = run(pair, random_vgg19, num_steps=9, learning_rate=0.02, lr_decay=0.5, lr_decay_every=4)
    rates = result.history["learning_rate"]
    assert rates[3 - 1] == pytest.approx(0.02) and rates[4 - 1] == pytest.approx(0.02)  # counter 2, 3
    assert rates[5 - 1] == pytest.approx(0.01)  # counter 4 = lr_decay_every: the first decay
    np.testing.assert_allclose(rates, [0.02 * 0.5 ** ((i - 1) // 4) for i in range(1, 10)], rtol=1e-6)


def test_init_image_from_an_array_or_a_file(pair, random_vgg19, tmp_path):
    from nst_tf.images import load_image, save_image

    content, style = pair
    as_style = run(pair, random_vgg19, num_steps=2, init="style")
    array = run(pair, random_vgg19, num_steps=2, init=style.numpy()[0])  # [H, W, 3], another size
    assert array.history["total"] == as_style.history["total"]  # resized to the content's size alike
    assert array.settings["init"] == "image"
    path = tmp_path / "start.png"
    save_image(tf.image.resize(style, content.shape[1:3]), path)
    from_file = run(pair, random_vgg19, num_steps=1, init=str(path))
    tv = np.abs(np.diff(load_image(path).numpy().astype(np.float64), axis=2)).mean() + \
        np.abs(np.diff(load_image(path).numpy().astype(np.float64), axis=1)).mean()
    assert from_file.history["tv"][0] == pytest.approx(tv, rel=1e-5)  # step 1 measures the init image
    with pytest.raises(ValueError, match="no such file"):
        run(pair, random_vgg19, num_steps=1, init=str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="init must be one of"):
        run(pair, random_vgg19, num_steps=1, init="zeros")
