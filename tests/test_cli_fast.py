"""``python -m nst_tf fast`` and ``video``: real runs on the TF Lite backend, a folder with a
non-image and a resume, a video that keeps its frame rate and size, and one-line errors."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import need_asset
from nst_tf import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, "-m", "nst_tf", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=600, env=dict(os.environ))


@pytest.fixture(scope="module", autouse=True)
def tflite_files():
    for name in ("magenta_style_predict_int8", "magenta_style_transfer_f16"):
        need_asset(name)


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    yy, xx = np.mgrid[0:60, 0:80]
    smooth = np.stack([xx * 3, yy * 4, (xx + yy) * 2], -1).astype(np.uint8)
    Image.fromarray(smooth).save(folder / "a.png")
    Image.fromarray(smooth[::-1]).save(folder / "b.jpg")
    (folder / "notes.txt").write_text("not an image")
    style = tmp_path / "style.png"
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(style)
    return folder, style


def make_clip(path, frames=8, size=(72, 52), fps=10.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    yy, xx = np.mgrid[0:size[1], 0:size[0]]
    for i in range(frames):
        writer.write(np.stack([(xx + 4 * i) * 3 % 255, yy * 4, xx * 2], -1).astype(np.uint8))
    writer.release()
    return path


def in_process(capsys, *args):
    """``cli.main``: the same code as ``run`` without a new process's seconds of TensorFlow import."""
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)


def test_single_image_and_a_folder_with_resume(photos, tmp_path, capsys):
    # The folder batch runs as a real process (python -m nst_tf, its exit status and its stdout);
    # the single image and the resume run the same command line in-process.
    folder, style = photos
    out = tmp_path / "one.png"
    proc = in_process(capsys, "fast", folder / "a.png", style, "-o", out, "--strength", "0.6", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (80, 60)
    styled = tmp_path / "styled"
    proc = run("fast", "--style", style, "--input-dir", folder, "--output-dir", styled, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in styled.iterdir()) == ["a.png", "b.jpg"]
    assert "skipped notes.txt" in proc.stdout and "not an image" in proc.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.jpg", "notes.txt"]  # inputs untouched
    stamp = (styled / "a.png").stat().st_mtime_ns
    proc = in_process(capsys, "fast", "--style", style, "--input-dir", folder, "--output-dir", styled, "--no-progress")
    assert proc.returncode == 0 and "2 already done" in proc.stdout, proc.stdout
    assert (styled / "a.png").stat().st_mtime_ns == stamp  # resumed, not redone


def test_video_keeps_frame_rate_size_and_count(photos, tmp_path):
    _, style = photos
    clip = make_clip(tmp_path / "clip.mp4")
    out = tmp_path / "styled.mp4"
    assert cli.main(["video", str(clip), str(style), "-o", str(out), "--smoothing", "0.5",
                     "--no-progress"]) == 0
    capture = cv2.VideoCapture(str(out))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0)
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (72, 52)
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 8
    capture.release()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_smoothing_reduces_flicker(photos, tmp_path):
    from nst_tf.fast import load_tflite_model
    from nst_tf.images import load_image
    from nst_tf.video import stylize_video

    clip = make_clip(tmp_path / "clip.mp4", frames=6)
    model, style = load_tflite_model(), load_image(photos[1])
    plain = stylize_video(clip, style, tmp_path / "a.mp4", model, progress=False)
    smooth = stylize_video(clip, style, tmp_path / "b.mp4", model, smoothing=0.6, progress=False)
    assert plain["frames"] == smooth["frames"] == 6
    assert smooth["flicker_output"] < 0.8 * plain["flicker_output"]


def one_line_error(capsys, argv, *fragments):
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_mistakes_are_one_line_and_write_nothing(photos, tmp_path, capsys, monkeypatch):
    folder, style = photos
    out = tmp_path / "out.png"
    one_line_error(capsys, ["fast", tmp_path / "nope.jpg", style, "-o", out], "nope.jpg", "no such file")
    one_line_error(capsys, ["fast", folder / "notes.txt", style, "-o", out], "notes.txt", "not an image")
    one_line_error(capsys, ["fast", folder / "a.png", style, "-o", folder / "a.png"], "refusing to overwrite")
    one_line_error(capsys, ["fast", "--style", style, "--input-dir", folder, "--output-dir", folder],
                   "input folder")
    one_line_error(capsys, ["fast", "--style", style, "--input-dir", tmp_path / "none", "--output-dir",
                            tmp_path / "o"], "no such folder")
    one_line_error(capsys, ["fast", folder / "a.png", "-o", out], "CONTENT STYLE -o OUT")
    one_line_error(capsys, ["video", tmp_path / "none.mp4", style, "-o", tmp_path / "v.mp4"], "no such file")
    one_line_error(capsys, ["video", folder / "notes.txt", style, "-o", tmp_path / "v.mp4"],
                   "not a video")
    clip = make_clip(tmp_path / "clip.mp4", frames=2)
    one_line_error(capsys, ["video", clip, style, "-o", clip], "refusing to overwrite")
    monkeypatch.setenv("NST_OFFLINE", "1")
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub_cache"))
    monkeypatch.delenv("NST_HUB_MODEL", raising=False)
    one_line_error(capsys, ["fast", folder / "a.png", style, "-o", out, "--backend", "hub"], "NST_OFFLINE")
    with pytest.raises(SystemExit) as info:
        cli.main([str(a) for a in ("fast", folder / "a.png", style, "-o", out, "--strength", "1.5")])
    assert info.value.code == 2 and "between 0 and 1" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "v.mp4").exists() and not (tmp_path / "o").exists()
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]
