"""``python -m nst_tf train``, and ``fast`` / ``video`` with ``--model``: a tiny real training run
(SqueezeNet's real weights, 32 px, 2 steps), the trained network on a photo, a folder and a
video, and every expected mistake as one line, exit status 2, nothing written or overwritten."""

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import need_asset
from nst_tf import cli
from test_cli_fast import make_clip, one_line_error
from test_training import make_photos

TRAIN = ["--steps", "2", "--image-size", "32", "--style-size", "64", "--batch-size", "2", "--network", "squeezenet",
         "--width", "0.25", "--no-progress"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, squeezenet_weights):
    need_asset("vangogh_starry_night")
    folder = tmp_path_factory.mktemp("train")
    photos = make_photos(folder / "photos")
    model = folder / "starry.tflite"
    code = cli.main(["train", "vangogh_starry_night", "--images", str(photos), "-o", str(model), *TRAIN,
                     "--checkpoint-every", "1", "--preview", str(photos / "rgb.png"), "--preview-every", "1"])
    assert code == 0
    return folder, photos, model


def test_train_writes_keras_tflite_checkpoints_and_previews(setup, capsys):
    folder, photos, model = setup
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["photos", "starry.keras", "starry.tflite", "starry_checkpoints", "starry_preview_000001.png",
                     "starry_preview_000002.png"]
    assert Image.open(folder / "starry_preview_000002.png").size == (88, 60)  # 90x60 cut to multiples of 4
    assert sorted(p.name for p in (folder / "starry_checkpoints").glob("*.npz")) == ["ckpt_0_000001.npz",
                                                                                     "ckpt_0_000002.npz"]
    stamp = model.stat().st_mtime_ns
    one_line_error(capsys, ["train", "vangogh_starry_night", "--images", photos, "-o", model, *TRAIN],
                   "starry.keras", "exists", "--overwrite")
    one_line_error(capsys, ["train", "vangogh_starry_night", "--images", photos, "-o", folder / "other.keras",
                            "--checkpoint-dir", folder / "starry_checkpoints", *TRAIN], "--resume")
    assert model.stat().st_mtime_ns == stamp


@pytest.mark.parametrize("suffix", [".keras", ".tflite"])
def test_fast_and_video_run_the_trained_model(setup, tmp_path, suffix):
    folder, photos, model = setup
    model = model.with_suffix(suffix)
    out = tmp_path / "out.png"
    assert cli.main(["fast", str(photos / "rgb.png"), "--model", str(model), "-o", str(out)]) == 0
    assert Image.open(out).size == (90, 60)
    styled = tmp_path / "styled"
    assert cli.main(["fast", "--model", str(model), "--input-dir", str(photos), "--output-dir", str(styled),
                     "--no-progress"]) == 0
    assert "rgb.png" in {p.name for p in styled.iterdir()}
    clip = make_clip(tmp_path / "clip.mp4", frames=3)
    video = tmp_path / "styled.mp4"
    assert cli.main(["video", str(clip), "--model", str(model), "-o", str(video), "--no-progress"]) == 0
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3 and capture.get(cv2.CAP_PROP_FRAME_WIDTH) == 72
    capture.release()


def test_train_mistakes_are_one_line_and_write_nothing(setup, tmp_path, capsys):
    folder, photos, model = setup
    out = tmp_path / "m.keras"
    base = ["train", "vangogh_starry_night", "--images", photos, "-o", out]
    one_line_error(capsys, ["train", "vangogh_starry_night", "--images", tmp_path / "none", "-o", out],
                   "no such folder")
    one_line_error(capsys, ["train", tmp_path / "none.jpg", "--images", photos, "-o", out], "none.jpg", "no such file")
    one_line_error(capsys, ["train", "vangogh_starry_night", "--images", photos, "-o", tmp_path / "m.png"],
                   ".keras or .tflite")
    one_line_error(capsys, [*base, "--image-size", "34"], "multiple of 4")
    one_line_error(capsys, [*base, "--preview-every", "5"], "--preview")
    one_line_error(capsys, [*base, "--preview", tmp_path / "none.png", "--preview-every", "5"], "none.png")
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("no photos here")
    one_line_error(capsys, ["train", "vangogh_starry_night", "--images", empty, "-o", out, *TRAIN[:-1]],
                   "no usable image")
    with pytest.raises(SystemExit):
        cli.main(["train", "vangogh_starry_night", "--images", str(photos), "-o", str(out), "--width", "0"])
    assert not out.exists() and not (tmp_path / "m_checkpoints").exists()


def test_model_mistakes_are_one_line(setup, tmp_path, capsys):
    folder, photos, model = setup
    out = tmp_path / "out.png"
    photo = photos / "rgb.png"
    one_line_error(capsys, ["fast", photo, "--model", tmp_path / "none.keras", "-o", out], "none.keras", "no such file")
    one_line_error(capsys, ["fast", photo, "--model", photo, "-o", out], ".keras or .tflite")
    one_line_error(capsys, ["fast", photo, "vangogh_starry_night", "--model", model, "-o", out], "no STYLE")
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    one_line_error(capsys, ["fast", photo, "--model", broken, "-o", out], "broken.keras", "cannot load")
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(np.arange(64, dtype=np.uint8).tobytes())
    one_line_error(capsys, ["fast", photo, "--model", broken, "-o", out], "broken.tflite", "cannot load")
    clip = make_clip(tmp_path / "clip.mp4", frames=2)
    one_line_error(capsys, ["video", clip, "-o", tmp_path / "v.mp4"], "--model")
    one_line_error(capsys, ["video", clip, "vangogh_starry_night", "--model", model, "-o", tmp_path / "v.mp4"],
                   "--model")
    assert not out.exists() and not (tmp_path / "v.mp4").exists()


def test_train_passes_the_preset(tmp_path, monkeypatch, capsys):
    """``--preset realtime`` reaches ``train_transformer``; ``--width`` then defaults to the preset's."""
    import nst_tf.training.loop as loop

    need_asset("vangogh_starry_night")
    photos, seen = make_photos(tmp_path / "photos"), {}

    def stop(*args, **kwargs):
        seen.update(kwargs)
        raise ValueError("stopped by the test")

    monkeypatch.setattr(loop, "train_transformer", stop)
    for extra, preset, width in [(["--preset", "realtime"], "realtime", None), ([], "paper", None),
                                 (["--preset", "realtime", "--width", "0.5"], "realtime", 0.5)]:
        code = cli.main(["train", "vangogh_starry_night", "--images", str(photos), "-o", str(tmp_path / "m.keras"),
                         *extra])
        assert code == 2 and "stopped by the test" in capsys.readouterr().err
        assert (seen["preset"], seen["width"]) == (preset, width)
    with pytest.raises(SystemExit):
        cli.main(["train", "vangogh_starry_night", "--images", str(photos), "-o", str(tmp_path / "m.keras"),
                  "--preset", "tiny"])
