"""The command line as a user meets it: one readable line and exit 2 for every expected mistake,
no output file, never an input overwritten; a real run writes the image."""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
from PIL import Image

from conftest import need_asset

ROOT = Path(__file__).resolve().parents[1]


def run(*args, env=None, cwd=None, real=False):
    """``python -m nst_tf ARGS`` as a user runs it. In-process by default: ``cli.main`` is the same
    code, and a new process would pay TensorFlow's import (seconds of CI) for every case; the
    end-to-end tests, and those whose environment is read at import time (KERAS_HOME), use
    ``real=True``, and tests/test_bad_inputs.py runs its matrix as real processes too."""
    if real:
        return subprocess.run([sys.executable, "-m", "nst_tf", *map(str, args)], capture_output=True,
                              text=True, env={**os.environ, **(env or {})}, cwd=cwd or ROOT, timeout=600)
    from nst_tf import cli

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, env or {}), contextlib.chdir(cwd or ROOT), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exit_:  # argparse: --help, usage errors
            code = exit_.code
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


@pytest.fixture
def inputs(tmp_path):
    content = tmp_path / "photo.png"
    style = tmp_path / "painting.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(content)
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(style)
    return content, style


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help_explains_the_commands():
    proc = run("--help")
    assert proc.returncode == 0
    assert "stylize" in proc.stdout and "demo" in proc.stdout and "Examples" in proc.stdout
    proc = run("stylize", "--help")
    assert proc.returncode == 0
    for flag in ("--network", "--image-size", "--steps", "--content-weight", "--style-weight",
                 "--tv-weight", "--init", "--seed"):
        assert flag in proc.stdout


def test_bad_arguments_are_one_line_and_write_nothing(inputs, tmp_path):
    content, style = inputs
    out = tmp_path / "out.png"
    cases = [
        (["stylize", tmp_path / "nope.jpg", style, "-o", out], ["nope.jpg", "no such file"]),
        (["stylize", content, tmp_path, "-o", out], ["is a directory"]),
        (["stylize", content, style, "-o", out, "--steps", "0"], ["--steps", ">= 1"]),
        (["stylize", content, style, "-o", out, "--style-weight", "-1"], ["--style-weight", ">= 0"]),
        (["stylize", content, style, "-o", out, "--content-weight", "nan"], ["--content-weight"]),
        (["stylize", content, style, "-o", out, "--network", "alexnet"], ["--network", "alexnet"]),
        (["stylize", content, style, "-o", tmp_path / "out.gif"], ["out.gif", ".png or .jpg"]),
        (["stylize", content, style], ["-o/--output"]),
        (["stylize", content, style, "-o", out, "--image-size", "16"], ["--image-size", "too small"]),
    ]
    for args, fragments in cases:
        proc = run(*args)
        assert_one_line_error(proc, *fragments)
        assert not out.exists()


def test_not_an_image_and_truncated(inputs, tmp_path):
    content, style = inputs
    notes = tmp_path / "notes.jpg"
    notes.write_text("hello")
    cut = tmp_path / "cut.png"
    cut.write_bytes(content.read_bytes()[:200])
    for bad, cause in ((notes, "not an image"), (cut, "truncated")):
        proc = run("stylize", bad, style, "-o", tmp_path / "out.png", "--network", "squeezenet")
        assert_one_line_error(proc, bad.name, cause)
    assert not (tmp_path / "out.png").exists()


def test_never_overwrites_an_input(inputs):
    content, style = inputs
    before = content.read_bytes()
    proc = run("stylize", content, style, "-o", content)
    assert_one_line_error(proc, "input image", "refusing")
    assert content.read_bytes() == before


def test_missing_vgg_weights_offline_is_one_line(inputs, tmp_path):
    content, style = inputs
    proc = run("stylize", content, style, "-o", tmp_path / "out.png", "--image-size", "64",
               env={"NST_OFFLINE": "1", "KERAS_HOME": str(tmp_path / "k"), "NST_VGG_WEIGHTS": ""}, real=True)
    assert_one_line_error(proc, "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", "NST_VGG_WEIGHTS=random")
    assert not (tmp_path / "out.png").exists()


def test_untrained_run_says_so(inputs, tmp_path):
    content, style = inputs
    out = tmp_path / "out.png"
    proc = run("stylize", content, style, "-o", out, "--image-size", "48", "--steps", "2",
               "--no-progress", env={"NST_VGG_WEIGHTS": "random"})
    assert proc.returncode == 0, proc.stderr
    assert "UNTRAINED" in proc.stderr and "not style transfer" in proc.stderr
    assert out.exists()


def test_real_run_with_course_image_names(tmp_path):
    need_asset("tubingen_neckarfront"), need_asset("vangogh_starry_night"), need_asset("squeezenet_v1_1_notop")
    out = tmp_path / "sub" / "result.jpg"
    proc = run("stylize", "tubingen_neckarfront", "vangogh_starry_night", "-o", out, "--network",
               "squeezenet", "--image-size", "96", "--steps", "5", "--no-progress", real=True)
    assert proc.returncode == 0, proc.stderr
    assert "UNTRAINED" not in proc.stderr
    assert f"wrote {out}" in proc.stdout
    assert Image.open(out).size == (96, 72)


def test_speed_flags_lbfgs_bf16_scales(tmp_path):
    need_asset("tubingen_neckarfront"), need_asset("vangogh_starry_night"), need_asset("squeezenet_v1_1_notop")
    out = tmp_path / "c2f.png"
    proc = run("stylize", "tubingen_neckarfront", "vangogh_starry_night", "-o", out, "--network",
               "squeezenet", "--scales", "48", "96", "--steps", "3", "--optimizer", "lbfgs",
               "--precision", "mixed_bfloat16", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "lbfgs, mixed_bfloat16, 6 steps" in proc.stdout
    assert Image.open(out).size == (96, 72)
    proc = run("stylize", "tubingen_neckarfront", "vangogh_starry_night", "-o", tmp_path / "x.png",
               "--network", "squeezenet", "--scales", "96", "48")
    assert_one_line_error(proc, "coarse to fine")
    proc = run("stylize", "tubingen_neckarfront", "vangogh_starry_night", "-o", tmp_path / "x.png",
               "--precision", "int4")
    assert_one_line_error(proc, "--precision")


def test_weights_command_checks_before_a_class(tmp_path):
    # make figures runs this first: offline without the VGG file it is one line, before any notebook.
    proc = run("weights", "vgg19", env={"NST_OFFLINE": "1", "KERAS_HOME": str(tmp_path / "k")}, real=True)
    assert_one_line_error(proc, "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", "NST_VGG_WEIGHTS=random")
    need_asset("squeezenet_v1_1_notop")
    proc = run("weights", "squeezenet")
    assert proc.returncode == 0 and "squeezenet: ImageNet weights found, hash-checked and loaded" in proc.stdout


def test_schedule_fast_is_lbfgs_coarse_to_fine_from_384_px(tmp_path):
    need_asset("tubingen_neckarfront"), need_asset("vangogh_starry_night"), need_asset("squeezenet_v1_1_notop")
    out = tmp_path / "fast.png"
    proc = run("stylize", "tubingen_neckarfront", "vangogh_starry_night", "-o", out, "--network", "squeezenet",
               "--image-size", "384", "--steps", "4", "--schedule", "fast", "--no-progress", "--log", tmp_path / "log.csv")
    assert proc.returncode == 0, proc.stderr
    assert "lbfgs, float32, 4 steps" in proc.stdout or "lbfgs, mixed_bfloat16, 4 steps" in proc.stdout
    assert Image.open(out).size == (384, 288)
    scales = [row.split(",")[1] for row in (tmp_path / "log.csv").read_text().splitlines()[1:]]
    assert scales == ["192", "192", "192", "384"]  # 70% of the steps at half the side (rounded)
    proc = run("stylize", "tubingen_neckarfront", "vangogh_starry_night", "-o", tmp_path / "x.png",
               "--schedule", "slow")
    assert proc.returncode == 2 and "--schedule" in proc.stderr
