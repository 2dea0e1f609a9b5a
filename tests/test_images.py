"""load_image / save_image: every input form comes out as float32 RGB; every mistake is named."""

import os

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import need_asset
from nst_tf.images import MIN_SIDE, ImageError, load_image, save_image


def write_png(path, array):
    Image.fromarray(array).save(path)
    return path


def test_load_course_image_shape_dtype_range():
    path = need_asset("tubingen_neckarfront")
    image = load_image(path)
    assert image.shape == (1, 768, 1024, 3) and image.dtype.name == "float32"
    assert 0.0 <= float(image.numpy().min()) and float(image.numpy().max()) <= 1.0
    small = load_image(path, max_dim=256)
    assert small.shape == (1, 192, 256, 3)
    assert load_image(path, max_dim=2048).shape == (1, 1536, 2048, 3)  # scales up too


def test_rgb_order_is_rgb(tmp_path):
    array = np.zeros((40, 40, 3), np.uint8)
    array[..., 0] = 255  # pure red
    image = load_image(write_png(tmp_path / "red.png", array)).numpy()
    np.testing.assert_allclose(image[0, 0, 0], [1.0, 0.0, 0.0])


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = np.tile(np.arange(48, dtype=np.uint8) * 5, (40, 1))
    image = load_image(write_png(tmp_path / "g.png", gray)).numpy()[0]
    assert image.shape == (40, 48, 3)
    np.testing.assert_allclose(image[..., 0], gray / 255.0, atol=1e-6)
    np.testing.assert_array_equal(image[..., 0], image[..., 2])


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 2] = 255          # blue everywhere
    rgba[:20, :, 3] = 255       # opaque top half, transparent bottom half
    rgba[20:, :, 3] = 0
    image = load_image(write_png(tmp_path / "a.png", rgba)).numpy()[0]
    np.testing.assert_allclose(image[0, 0], [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(image[-1, 0], [1, 1, 1], atol=1e-6)


def test_sixteen_bit_png_keeps_precision_and_channel_order(tmp_path):
    ramp = np.linspace(0, 65535, 40 * 48).reshape(40, 48).astype(np.uint16)
    bgr = np.stack([ramp, ramp // 2, ramp // 4], -1)  # OpenCV writes BGR
    path = tmp_path / "c16.png"
    cv2.imwrite(str(path), bgr)
    image = load_image(path).numpy()[0]
    np.testing.assert_allclose(image[..., 0], (ramp // 4) / 65535.0, atol=1e-6)  # red
    np.testing.assert_allclose(image[..., 2], ramp / 65535.0, atol=1e-6)          # blue
    assert len(np.unique(image[..., 2])) > 256  # more levels than 8 bits could hold


def test_exif_rotated_jpeg_is_upright(tmp_path):
    stored = np.zeros((40, 64, 3), np.uint8)
    stored[:, :32] = [255, 0, 0]          # left half red as stored
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6                      # "rotate 90 CW to display"
    path = tmp_path / "phone.jpg"
    im.save(path, exif=exif.tobytes(), quality=95)
    image = load_image(path).numpy()[0]
    assert image.shape == (64, 40, 3)     # displayed portrait
    assert image[2, 20, 0] > 0.8 and image[2, 20, 1] < 0.2   # red on top after rotation
    assert image[-3, 20, 0] < 0.2


def test_errors_name_file_and_cause(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("this is not a picture")
    write_png(tmp_path / "tiny.png", np.zeros((20, 300, 3), np.uint8))
    (tmp_path / "folder.jpg").mkdir()
    jpeg = cv2.imencode(".jpg", np.full((200, 200, 3), 128, np.uint8))[1].tobytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    png = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (100, 100, 3), np.uint8))[1].tobytes()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    cases = {"missing.jpg": "no such file", "empty.png": "empty", "notes.png": "not an image",
             "tiny.png": "too small", "folder.jpg": "directory", "cut.jpg": "truncated",
             "cut.png": "truncated"}
    for name, cause in cases.items():
        with pytest.raises(ImageError, match=cause) as info:
            load_image(tmp_path / name)
        assert name in str(info.value)
        assert isinstance(info.value, ValueError)


def test_too_small_after_resizing(tmp_path):
    path = write_png(tmp_path / "wide.png", np.zeros((50, 400, 3), np.uint8))
    load_image(path)  # fine at full size
    with pytest.raises(ImageError, match="too small"):
        load_image(path, max_dim=200)  # 200 x 25
    with pytest.raises(ImageError, match="max_dim"):
        load_image(path, max_dim=MIN_SIDE - 1)


def test_save_roundtrip_png_exact_and_creates_folder(tmp_path, rng):
    pixels = rng.integers(0, 256, (1, 33, 47, 3)).astype(np.float32) / 255.0
    path = save_image(pixels, tmp_path / "deep" / "er" / "out.png")
    np.testing.assert_allclose(load_image(path).numpy(), pixels, atol=1e-6)
    assert os.listdir(path.parent) == ["out.png"]  # no temp file left behind


def test_save_jpeg_and_clipping(tmp_path):
    image = np.full((1, 40, 40, 3), 2.0, np.float32)  # out of range: clipped, not wrapped
    path = save_image(image, tmp_path / "out.jpg")
    assert load_image(path).numpy().min() > 0.98


def test_save_errors_leave_no_file(tmp_path):
    with pytest.raises(ImageError, match=".gif"):
        save_image(np.zeros((1, 40, 40, 3)), tmp_path / "out.gif")
    with pytest.raises(ValueError, match="RGB"):
        save_image(np.zeros((1, 40, 40, 4)), tmp_path / "out.png")
    with pytest.raises(ValueError, match="batch"):
        save_image(np.zeros((2, 40, 40, 3)), tmp_path / "out.png")
    assert os.listdir(tmp_path) == []


def test_save_replaces_atomically(tmp_path, monkeypatch):
    path = save_image(np.zeros((1, 40, 40, 3)), tmp_path / "out.png")
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        save_image(np.ones((1, 40, 40, 3)), path)
    assert path.read_bytes() == before           # the old file is intact
    assert os.listdir(tmp_path) == ["out.png"]   # and the temp file is gone
