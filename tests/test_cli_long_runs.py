"""The long-run flags through the real command line (subprocesses, real SqueezeNet weights, tiny
images): checkpoints, Ctrl-C and --resume (the same image as an uninterrupted run), intermediate
images, the CSV log and the plot, --init, layers, layer weights, TV kind, learning-rate decay, and
--overwrite (without it an existing file is an error, exit 2, the file untouched)."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import need_asset

ROOT = Path(__file__).resolve().parents[1]
LR, DECAY, EVERY = 0.02, 0.5, 3
LAYER_WEIGHTS = {"conv1": 0.2, "fire2": 0.3, "fire3": 0.5}
WEIGHTS = dict(content_weight=1.0, style_weight=0.01, tv_weight=50.0)


def command(folder: Path, output="out.png", steps=12, extra=()):
    return ["stylize", folder / "photo.png", folder / "painting.png", "-o", folder / output,
            "--network", "squeezenet", "--image-size", "64", "--steps", str(steps),
            "--content-weight", str(WEIGHTS["content_weight"]), "--style-weight", str(WEIGHTS["style_weight"]),
            "--tv-weight", str(WEIGHTS["tv_weight"]), "--init", folder / "init.png",
            "--content-layers", "fire3", "--style-layers", "conv1,fire2", "fire3",
            "--style-layer-weights", "0.2,0.3", "0.5", "--tv-kind", "l2",
            "--learning-rate", str(LR), "--lr-decay", str(DECAY), "--lr-decay-every", str(EVERY), *extra]


def env():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nst_tf", *map(str, args)], capture_output=True, text=True,
                          env=env(), cwd=cwd or ROOT, timeout=600)


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "nst_tf", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(), cwd=ROOT)


def stderr_lines(text):
    """The lines of stderr as a terminal shows them (tqdm redraws with carriage returns)."""
    return [part.strip() for line in text.split("\n") for part in line.split("\r") if part.strip()]


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = stderr_lines(proc.stderr)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def read_log(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    need_asset("squeezenet_v1_1_notop")
    folder = tmp_path_factory.mktemp("long_runs")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(folder / "photo.png")
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / "painting.png")
    smooth = np.linspace(0, 255, 64)[None, :, None] * np.ones((48, 1, 3))
    Image.fromarray(np.clip(smooth + rng.normal(0, 20, (48, 64, 3)), 0, 255).astype(np.uint8)).save(folder / "init.png")
    return folder


@pytest.fixture(scope="module")
def reference(folder):
    """An uninterrupted run with every long-run flag, over files --overwrite must replace."""
    for name in ("out.png", "log.csv", "plot.png"):
        (folder / name).write_bytes(b"old")
    proc = run(*command(folder, extra=["--checkpoint-every", "4", "--save-every", "4", "--log", folder / "log.csv",
                                       "--plot", folder / "plot.png", "--overwrite", "--no-progress"]))
    assert proc.returncode == 0, proc.stderr
    return proc


def test_every_flag_through_the_cli(folder, reference):
    for name in ("out.png", "log.csv", "plot.png"):
        assert f"wrote {folder / name}" in reference.stdout
    assert Image.open(folder / "out.png").size == (64, 48)
    assert (folder / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the figure replaced "old"
    assert sorted(p.name for p in folder.glob("out_0*.png")) == ["out_0004.png", "out_0008.png", "out_0012.png"]
    assert sorted(p.name for p in (folder / "out_checkpoints").iterdir()) == [
        "checkpoint.json", "ckpt_0_000008.npz", "ckpt_0_000012.npz"]  # the two newest are kept
    rows = read_log(folder / "log.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, 13))
    assert [k for k in rows[0] if k.startswith("style_")] == [f"style_{n}" for n in LAYER_WEIGHTS]
    value = lambda row, key: float(row[key])
    for row in rows:
        # --style-layer-weights: the style loss is the weighted sum of the layers' losses ...
        weighted = sum(w * value(row, f"style_{n}") for n, w in LAYER_WEIGHTS.items())
        assert value(row, "style") == pytest.approx(weighted, rel=1e-5)
        # ... and the total has every term with its weight
        total = sum(WEIGHTS[f"{k}_weight"] * value(row, k) for k in ("content", "style", "tv"))
        assert value(row, "total") == pytest.approx(total, rel=1e-5)
    # --lr-decay/--lr-decay-every: the rate each update used, from the optimizer; step i is update i
    # at Adam's counter i - 1, so steps EVERY-1 and EVERY still have LR, EVERY + 1 the first decay.
    rates = [value(r, "learning_rate") for r in rows]
    assert rates[EVERY - 2] == pytest.approx(LR) and rates[EVERY - 1] == pytest.approx(LR)
    assert rates[EVERY] == pytest.approx(LR * DECAY)
    np.testing.assert_allclose(rates, [LR * DECAY ** ((i - 1) // EVERY) for i in range(1, 13)], rtol=1e-6)
    # --init and --tv-kind l2: step 1 measures the init image; its TV is the mean of squared differences.
    init = pixels(folder / "init.png").astype(np.float64) / 255
    tv = (np.diff(init, axis=1) ** 2).mean() + (np.diff(init, axis=0) ** 2).mean()
    assert value(rows[0], "tv") == pytest.approx(tv, rel=1e-5)
    assert value(rows[0], "content") > 0  # not the content image


def test_ctrl_c_mid_run_checkpoints_then_resume_gives_the_same_image(folder, reference):
    out = folder / "cut.png"
    checkpoints = folder / "cut_checkpoints"
    proc = start(*command(folder, "cut.png", steps=5000, extra=["--checkpoint-every", "1", "--log", folder / "cut.csv"]))
    deadline = time.monotonic() + 300
    while not list(checkpoints.glob("ckpt_*.npz")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    lines = stderr_lines(err)
    assert "Traceback" not in err
    assert lines[-1].startswith("interrupted at step ") and "--resume" in lines[-1], err
    assert sum("interrupted" in line for line in lines) == 1  # and no progress-bar line after it
    assert not out.exists()
    step = int(lines[-1].split()[3].rstrip(":"))
    assert (checkpoints / f"ckpt_0_{step:06d}.npz").exists() and step < 12
    # The same command with --resume (and --steps 12, the reference's: a run may be extended).
    proc = run(*command(folder, "cut.png", steps=12, extra=["--checkpoint-every", "1", "--log", folder / "cut.csv",
                                                             "--resume", "--no-progress"]))
    assert proc.returncode == 0, proc.stderr
    assert f"continuing from {checkpoints / f'ckpt_0_{step:06d}.npz'}" in proc.stderr
    np.testing.assert_array_equal(pixels(out), pixels(folder / "out.png"))
    resumed, uninterrupted = read_log(folder / "cut.csv"), read_log(folder / "log.csv")
    drop = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert drop(resumed) == drop(uninterrupted)  # every step's losses, bit for bit (repr of the floats)


def test_resume_with_other_settings_is_refused_naming_the_difference(folder, reference):
    args = command(folder, extra=["--resume", "--overwrite"])
    args[args.index("--style-weight") + 1] = "0.02"
    proc = run(*args)
    assert_one_line_error(proc, "cannot resume", "style_weight=0.01, this run has 0.02")


def test_ctrl_c_at_start_up_is_one_line(folder):
    proc = start(*command(folder, "early.png"))
    # Interrupt while TensorFlow loads (seconds of start-up): wait until its library is mapped, not
    # a fixed time, which on a loaded machine may fall before Python itself has started.
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.monotonic() + 120
    while "tensorflow" not in maps.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert stderr_lines(err) == ["interrupted: no output written"], err
    assert not (folder / "early.png").exists()


def test_existing_files_need_overwrite_and_stay_untouched(folder, tmp_path):
    old = b"keep me"
    base = command(folder, "new.png")
    cases = [("new.png", [], "-o"), ("new.csv", ["--log", folder / "new.csv"], "--log"),
             ("new_plot.png", ["--plot", folder / "new_plot.png"], "--plot"),
             ("new_0004.png", ["--save-every", "4"], "--save-every")]
    for name, extra, flag in cases:
        (folder / name).write_bytes(old)
        assert_one_line_error(run(*base, *extra), str(folder / name), "exists", flag, "--overwrite")
        assert (folder / name).read_bytes() == old
        (folder / name).unlink()
    stale = folder / "new_checkpoints"
    stale.mkdir()
    (stale / "ckpt_0_000040.npz").write_bytes(old)
    assert_one_line_error(run(*base, "--checkpoint-every", "5"), "ckpt_0_000040.npz", "--resume", "--overwrite")
    assert (stale / "ckpt_0_000040.npz").read_bytes() == old
    assert_one_line_error(run(*base, "--log", folder / "log.txt"), ".csv")
    assert_one_line_error(run(*base, "--plot", folder / "photo.png"), "input image")
    assert not (folder / "new.png").exists()
    (tmp_path / "demo.png").write_bytes(old)
    assert_one_line_error(run("demo", "--output-dir", tmp_path), "demo.png", "--overwrite")
    assert (tmp_path / "demo.png").read_bytes() == old
