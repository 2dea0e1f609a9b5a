"""The bad-input matrix (issue 12): a hostile but realistic user's mistakes, through the command line.

Every case ends the same way: exit status 2 (a user's mistake), exactly one line on stderr that
names the file or argument and the cause, nothing on stdout, no traceback, no file left behind
(no partial output, no temporary file) and every input byte-for-byte unchanged: the sha256 of
every file (and the target of every link) under the test folder is compared before and after.

Argument mistakes run as real subprocesses: argparse answers before TensorFlow is imported, so
they are cheap. Mistakes found later run in-process through ``cli.main`` (the same code, without
paying TensorFlow's import again), and some of them also as real subprocesses. All but the few of
``NEED_TENSORFLOW`` are found before TensorFlow is imported (``cli_early``): in-process, the import
is replaced by a failure; as subprocesses, the process reports whether ``tensorflow`` was in
``sys.modules`` when it exited. The cases that need a model use SqueezeNet or the TF Lite model at
48-64 px and 1-2 steps.
"""

import hashlib
import os
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import need_asset
from nst_tf import cli

ROOT = Path(__file__).resolve().parents[1]


# --- the world: inputs a user might hand over ---------------------------------------------------

def png_bomb(path, width=20000, height=20000):
    """A real, complete PNG of width x height 1-bit pixels: 49 kB on disk, 400 MP once decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\0" * (height * (1 + (width + 7) // 8)), 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


def make_clip(path, frames=3, size=(48, 40)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 40 * i, np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(0)

    def picture(name, height, width):
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(root / name)

    picture("photo.png", 48, 64)
    picture("painting.png", 40, 40)
    picture("tiny.png", 8, 8)
    picture("one.png", 1, 1)
    picture("strip.png", 40, 400)  # fine as it is, too thin once its long side is 256 px
    picture("snapshot.jpg", 40, 48)
    (root / "photos").mkdir()
    picture("photos/a.png", 40, 48)
    (root / "results").mkdir()
    (root / "afile").write_text("a file, not a folder")
    (root / "notes.png").write_text("not a picture")
    (root / "empty.png").write_bytes(b"")
    (root / "cut.png").write_bytes((root / "photo.png").read_bytes()[:300])
    (root / "folder.png").mkdir()
    png_bomb(root / "bomb.png")
    os.symlink("loop_b.png", root / "loop_a.png")
    os.symlink("loop_a.png", root / "loop_b.png")
    os.symlink("gone.png", root / "dangling.png")
    os.symlink("photo.png", root / "also_photo.png")
    os.mkfifo(root / "fifo.png")
    make_clip(root / "clip.mp4")
    return root


def snapshot(root):
    """Everything under ``root``: file hashes, link targets, folders (FIFOs are never read)."""
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            info = os.lstat(path)
            key = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                state[key] = "link -> " + os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                state[key] = stat.S_IFMT(info.st_mode)
    return state


def assert_one_line_error(code, out, err, fragments):
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err)
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert "error:" in lines[0] and not out.strip(), (out, err)
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def run_cli(argv, cwd, env=None):
    """The real command line in a new process (TensorFlow imported only when it gets that far)."""
    proc = subprocess.run([sys.executable, "-m", "nst_tf", *map(str, argv)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


# ``python -m nst_tf ARGS`` that also writes, at exit, whether TensorFlow was imported (to a file:
# stderr and stdout are the command's own, checked line by line).
PROBE = ("import atexit, os, runpy, sys\n"
         "atexit.register(lambda: open(os.environ['NST_TEST_PROBE'], 'w').write(str('tensorflow' in sys.modules)))\n"
         "runpy.run_module('nst_tf', run_name='__main__', alter_sys=True)\n")


def run_cli_probed(argv, cwd, probe, env=None):
    """``run_cli`` plus whether the process had imported TensorFlow when it exited."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *map(str, argv)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "NST_TEST_PROBE": str(probe), **(env or {})},
                          timeout=300)
    assert probe.read_text() in ("True", "False"), proc.stderr  # the probe itself ran
    return (proc.returncode, proc.stdout, proc.stderr), probe.read_text() == "True"


def run_in_process(argv, capsys):
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


STYLIZE = ["stylize", "photo.png", "painting.png", "-o", "out.png"]
SMALL = ["--network", "squeezenet", "--image-size", "64", "--steps", "2", "--no-progress"]

# (id, argv, fragments of the one line, extra environment); paths are relative to the world.
ARGUMENT_CASES = [
    ("steps-zero", [*STYLIZE, "--steps", "0"], ["--steps", ">= 1"]),
    ("steps-fraction", [*STYLIZE, "--steps", "1.5"], ["--steps", "whole number"]),
    ("image-size-16", [*STYLIZE, "--image-size", "16"], ["--image-size", "too small"]),
    ("content-weight-nan", [*STYLIZE, "--content-weight", "nan"], ["--content-weight", "finite"]),
    ("style-weight-negative", [*STYLIZE, "--style-weight", "-1"], ["--style-weight", ">= 0"]),
    ("learning-rate-negative", [*STYLIZE, "--learning-rate", "-0.1"], ["--learning-rate", ">= 0"]),
    ("network-unknown", [*STYLIZE, "--network", "alexnet"], ["--network", "alexnet"]),
    ("seed-not-a-number", [*STYLIZE, "--seed", "abc"], ["--seed", "abc"]),
    ("output-missing", ["stylize", "photo.png", "painting.png"], ["-o/--output"]),
    ("command-unknown", ["paint", "photo.png"], ["invalid choice", "paint"]),
    ("fast-strength-1.5", ["fast", "photo.png", "painting.png", "-o", "out.png", "--strength", "1.5"],
     ["--strength", "between 0 and 1"]),
    ("video-smoothing-text", ["video", "clip.mp4", "painting.png", "-o", "v.mp4", "--smoothing", "abc"],
     ["--smoothing", "not a number"]),
]

LONG_NAME = "x" * 300 + ".png"
# Offline, no ImageNet VGG file in any place the load looks (relative to the world: nowhere), the
# default NST_VGG_WEIGHTS (imagenet): the load's one line, before TensorFlow (keras_weights).
NO_VGG = {"NST_OFFLINE": "1", "NST_VGG_WEIGHTS": "", "KERAS_HOME": "no-keras", "NST_ASSETS_DIR": "no-assets"}
VGG_MISSING = ["ImageNet weights are missing", "no-keras/models", "could not be downloaded (NST_OFFLINE is set)",
               "NST_VGG_WEIGHTS=random"]
LATER_CASES = [
    # inputs
    ("content-missing", ["stylize", "missing.jpg", "painting.png", "-o", "out.png"], ["missing.jpg", "no such file"]),
    ("course-name-misspelt", ["stylize", "vangogh_starry_nite", "painting.png", "-o", "out.png"],
     ["vangogh_starry_nite", "did you mean 'vangogh_starry_night'", "python -m nst_tf images"]),
    ("course-name-partial", ["fast", "tubingen", "painting.png", "-o", "out.png"],
     ["tubingen", "'tubingen_neckarfront'", "python -m nst_tf images"]),
    ("content-symlink-loop", ["stylize", "loop_a.png", "painting.png", "-o", "out.png"],
     ["loop_a.png", "loop of symbolic links"]),
    ("content-dangling-link", ["stylize", "dangling.png", "painting.png", "-o", "out.png"],
     ["dangling.png", "symbolic link to gone.png", "does not exist"]),
    ("content-directory", ["stylize", "folder.png", "painting.png", "-o", "out.png"], ["folder.png", "is a directory"]),
    ("content-empty", ["stylize", "empty.png", "painting.png", "-o", "out.png"], ["empty.png", "empty"]),
    ("content-text", ["stylize", "notes.png", "painting.png", "-o", "out.png"], ["notes.png", "not an image"]),
    ("content-truncated", ["stylize", "cut.png", "painting.png", "-o", "out.png"], ["cut.png", "truncated"]),
    ("content-fifo", ["stylize", "fifo.png", "painting.png", "-o", "out.png"], ["fifo.png", "not a regular file"]),
    ("content-8px-stylize", ["stylize", "tiny.png", "painting.png", "-o", "out.png"],
     ["tiny.png: 8x8 px is too small: both sides must be at least 32 px"]),
    ("content-8px-fast", ["fast", "tiny.png", "painting.png", "-o", "out.png"],
     ["tiny.png: 8x8 px is too small: both sides must be at least 32 px"]),
    ("style-1px-stylize", ["stylize", "photo.png", "one.png", "-o", "out.png"],
     ["one.png: 1x1 px is too small: both sides must be at least 32 px"]),
    ("style-1px-fast", ["fast", "photo.png", "one.png", "-o", "out.png"],
     ["one.png: 1x1 px is too small: both sides must be at least 32 px"]),
    ("thin-after-resizing", ["stylize", "strip.png", "painting.png", "-o", "out.png", "--image-size", "256"],
     ["strip.png", "256x26 px after resizing", "too small"]),
    ("bomb-stylize", ["stylize", "bomb.png", "painting.png", "-o", "out.png"],
     ["bomb.png", "20000x20000 px", "too large to decode"]),
    ("bomb-fast-style", ["fast", "photo.png", "bomb.png", "-o", "out.png"], ["bomb.png", "too large to decode"]),
    ("mask-missing", [*STYLIZE, "--mask", "sky.png"], ["sky.png", "no such file"]),
    ("video-is-a-jpeg", ["video", "snapshot.jpg", "painting.png", "-o", "v.mp4"],
     ["snapshot.jpg", "still image (JPEG)", "not a video"]),
    ("video-missing", ["video", "none.mp4", "painting.png", "-o", "v.mp4"], ["none.mp4", "no such file"]),
    ("input-dir-missing", ["fast", "--style", "painting.png", "--input-dir", "nowhere", "--output-dir", "styled"],
     ["nowhere", "no such folder"]),
    # outputs
    ("output-directory", ["stylize", "photo.png", "painting.png", "-o", "results"],
     ["results: is a directory", "give a file name such as results/out.png"]),
    ("output-parent-is-a-file", ["stylize", "photo.png", "painting.png", "-o", "afile/out.png"],
     ["afile: is a file, not a folder"]),
    ("output-name-too-long", ["stylize", "photo.png", "painting.png", "-o", LONG_NAME], ["bytes", "at most 255"]),
    ("output-under-proc", ["stylize", "photo.png", "painting.png", "-o", "/proc/nst-out.png"],
     ["/proc", "no file can be created there"]),
    ("output-gif", ["stylize", "photo.png", "painting.png", "-o", "out.gif"], ["out.gif", ".png or .jpg"]),
    ("output-is-the-content", ["stylize", "photo.png", "painting.png", "-o", "photo.png"], ["is an input image"]),
    ("output-is-the-content-respelt", ["stylize", "photo.png", "painting.png", "-o", "../{world}/photos/../photo.png"],
     ["is an input image"]),
    ("output-links-to-the-content", ["stylize", "photo.png", "painting.png", "-o", "also_photo.png"],
     ["is an input image"]),
    ("output-is-the-style-respelt", ["fast", "photo.png", "painting.png", "-o", "./photos/../painting.png"],
     ["is an input image"]),
    ("output-symlink-loop", ["stylize", "photo.png", "painting.png", "-o", "loop_a.png"],
     ["loop_a.png", "loop of symbolic links"]),
    ("demo-folder-is-a-file", ["demo", "--output-dir", "afile", "--steps", "1"], ["afile: is a file, not a folder"]),
    ("fast-output-dir-is-a-file", ["fast", "--style", "painting.png", "--input-dir", "photos", "--output-dir", "afile"],
     ["afile: is a file, not a folder"]),
    ("fast-output-dir-is-input", ["fast", "--style", "painting.png", "--input-dir", "photos", "--output-dir",
                                  "./photos/"], ["input folder"]),
    ("fast-output-directory", ["fast", "photo.png", "painting.png", "-o", "results"], ["results: is a directory"]),
    ("video-output-txt", ["video", "clip.mp4", "painting.png", "-o", "v.txt"], ["v.txt", ".mp4 or .avi"]),
    ("video-output-parent-is-a-file", ["video", "clip.mp4", "painting.png", "-o", "afile/v.mp4"],
     ["afile: is a file, not a folder"]),
    ("video-output-is-input", ["video", "clip.mp4", "painting.png", "-o", "clip.mp4"], ["refusing to overwrite"]),
    # numbers, sizes, environment
    ("content-weight-1e39", [*STYLIZE, "--content-weight", "1e39"], ["content_weight", "too large", "float32"]),
    ("style-weight-1e39", [*STYLIZE, "--style-weight", "1e39", "--network", "squeezenet"], ["style_weight", "too large"]),
    ("learning-rate-1e30", [*STYLIZE, "--learning-rate", "1e30"], ["learning_rate", "above 1", "saturated"]),
    ("image-size-100000", [*STYLIZE, "--image-size", "100000", "--network", "squeezenet"],
     ["100000x75000", "needs about", "use a long side of at most ~"]),
    ("style-size-100000", [*STYLIZE, "--style-size", "100000"], ["painting.png", "above the 67.1 MP limit"]),
    ("scales-fine-to-coarse", [*STYLIZE, "--scales", "96", "48"], ["coarse to fine"]),
    ("recipe-for-another-network", [*STYLIZE, "--recipe", "gatys2016", "--network", "squeezenet"], ["--recipe"]),
    ("style-size-and-scale", [*STYLIZE, "--style-size", "64", "--style-scale", "0.5"], ["give one"]),
    ("mask-styles-without-mask", [*STYLIZE, "--mask-styles", "0"], ["--mask-styles needs --mask"]),
    ("NST_PRECISION-bad", STYLIZE, ["NST_PRECISION='fp8'", "float32"], {"NST_PRECISION": "fp8"}),
    ("NST_VGG_WEIGHTS-bad", STYLIZE, ["NST_VGG_WEIGHTS='randm'", "'random'"], {"NST_VGG_WEIGHTS": "randm"}),
    ("vgg19-missing-offline-stylize", STYLIZE, ["vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", *VGG_MISSING],
     NO_VGG),
    ("vgg16-missing-offline-weights-flag", [*STYLIZE, "--network", "vgg16", "--weights", "imagenet"],
     ["vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", *VGG_MISSING], {**NO_VGG, "NST_VGG_WEIGHTS": "random"}),
    ("vgg19-missing-offline-weights-command", ["weights", "vgg19"],
     ["vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", *VGG_MISSING], NO_VGG),
    ("vgg16-missing-offline-train", ["train", "painting.png", "--images", "photos", "-o", "m.keras"],
     ["vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", *VGG_MISSING], NO_VGG),
    ("weights-file-missing", [*STYLIZE, "--network", "squeezenet", "--weights", "nowhere.h5"],
     ["nowhere.h5: no such weights file"]),
    # runs that reach the model (SqueezeNet, 64 px, 2 steps)
    ("loss-overflows-to-inf", [*STYLIZE, *SMALL, "--content-weight", "1e38"], ["loss became inf", "loss weights"]),
]
# The later cases found only after TensorFlow is imported, and why; every other one is found before.
NEED_TENSORFLOW = {
    "content-truncated": "only decoding the pixels finds a cut-off file; the header is whole",
    "thin-after-resizing": "the content's size at --image-size is the memory check's, which names the size that fits",
    "image-size-100000": "the memory check asks TensorFlow for the devices and their memory",
    "loss-overflows-to-inf": "the loss overflows during the run",
}
# The later cases that also run as real subprocesses (those of NEED_TENSORFLOW pay TensorFlow's import).
SUBPROCESS = {"course-name-misspelt", "course-name-partial", "content-symlink-loop", "content-text", "style-1px-fast",
              "bomb-stylize", "bomb-fast-style", "mask-missing", "video-is-a-jpeg", "video-missing",
              "input-dir-missing", "content-weight-1e39", "learning-rate-1e30", "scales-fine-to-coarse",
              "NST_PRECISION-bad", "NST_VGG_WEIGHTS-bad", "image-size-100000", "output-directory",
              "output-parent-is-a-file", "output-under-proc", "output-symlink-loop", "demo-folder-is-a-file",
              "fast-output-dir-is-a-file", "video-output-parent-is-a-file", "vgg19-missing-offline-stylize",
              "vgg16-missing-offline-weights-flag", "vgg19-missing-offline-weights-command",
              "vgg16-missing-offline-train", "weights-file-missing"}
FAST_CASES = {"course-name-partial", "content-8px-fast", "style-1px-fast", "bomb-fast-style", "video-is-a-jpeg",
              "video-missing", "input-dir-missing", "output-is-the-style-respelt", "fast-output-dir-is-a-file",
              "fast-output-dir-is-input", "fast-output-directory", "video-output-txt", "video-output-parent-is-a-file",
              "video-output-is-input"}


def _case(entry):
    name, argv, fragments, env = (*entry, {})[:4]
    return name, argv, fragments, env


def test_the_matrix_has_at_least_40_cases():
    assert len(ARGUMENT_CASES) + len(LATER_CASES) >= 40
    assert len({c[0] for c in ARGUMENT_CASES + LATER_CASES}) == len(ARGUMENT_CASES) + len(LATER_CASES)
    assert SUBPROCESS <= {c[0] for c in LATER_CASES} and set(NEED_TENSORFLOW) <= {c[0] for c in LATER_CASES}


@pytest.mark.parametrize("case", ARGUMENT_CASES, ids=[c[0] for c in ARGUMENT_CASES])
def test_argument_mistakes_as_real_subprocesses(case, world):
    name, argv, fragments, env = _case(case)
    before = snapshot(world)
    assert_one_line_error(*run_cli(argv, world, env), fragments)
    assert snapshot(world) == before


def _argv(argv, world):
    """The case's arguments; a stylize case that does not set --steps gets 1, so that a check
    that stops working costs one step here, not 300 (its case then fails: exit 0, not 2)."""
    argv = [a.format(world=world.name) if isinstance(a, str) else a for a in argv]
    quick = argv[0] == "stylize" and "--steps" not in argv
    return argv + (["--steps", "1", "--no-progress"] if quick else [])


NEEDS_A_MODEL = {"loss-overflows-to-inf"}  # every other mistake is found before any model is built


@pytest.mark.parametrize("case", LATER_CASES, ids=[c[0] for c in LATER_CASES])
def test_later_mistakes_in_process(case, world, capsys, monkeypatch):
    from nst_tf import fast, features

    name, argv, fragments, env = _case(case)
    if name not in NEEDS_A_MODEL:
        def no_model(*args, **kwargs):
            raise AssertionError(f"{name}: a model was built before the mistake was found")

        monkeypatch.setattr(features, "_build_backbone", no_model)
        monkeypatch.setattr(fast, "load_backend", no_model)
    if name in FAST_CASES:
        need_asset("magenta_style_predict_int8"), need_asset("magenta_style_transfer_f16")
    if "squeezenet" in argv or name == "demo-folder-is-a-file":
        need_asset("squeezenet_v1_1_notop")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    imports = []
    real_import = cli._import_tensorflow_quietly

    def import_tensorflow():
        imports.append(name)
        if name not in NEED_TENSORFLOW:
            raise AssertionError(f"{name}: TensorFlow was imported before the mistake was found")
        real_import()

    monkeypatch.setattr(cli, "_import_tensorflow_quietly", import_tensorflow)
    monkeypatch.chdir(world)
    before = snapshot(world)
    assert_one_line_error(*run_in_process(_argv(argv, world), capsys), fragments)
    assert snapshot(world) == before
    assert bool(imports) == (name in NEED_TENSORFLOW)  # the list is exact: none of them found early


@pytest.mark.parametrize("case", [c for c in LATER_CASES if c[0] in SUBPROCESS],
                         ids=[c[0] for c in LATER_CASES if c[0] in SUBPROCESS])
def test_later_mistakes_as_real_subprocesses(case, world, tmp_path):
    name, argv, fragments, env = _case(case)
    before = snapshot(world)
    result, imported = run_cli_probed(_argv(argv, world), world, tmp_path / "probe.txt", env)
    assert_one_line_error(*result, fragments)
    assert snapshot(world) == before
    assert imported == (name in NEED_TENSORFLOW), f"{name}: TensorFlow imported: {imported}"


BAD_FILES = [("missing.png", None), ("loop_a.png", None), ("dangling.png", None), ("folder.png", None),
             ("empty.png", None), ("notes.png", None), ("fifo.png", None), ("tiny.png", None), ("one.png", None),
             ("bomb.png", None), ("strip.png", 256), ("painting.png", 100000)]


@pytest.mark.parametrize("name, max_dim", BAD_FILES, ids=[f"{n}-{d}" for n, d in BAD_FILES])
def test_the_early_image_check_refuses_what_load_image_refuses_in_the_same_words(world, name, max_dim, capsys):
    from nst_tf.decoding import check_image_file
    from nst_tf.images import ImageError, load_image

    with pytest.raises(ImageError) as late:
        load_image(world / name, max_dim=max_dim)
    with pytest.raises(ImageError) as early:
        check_image_file(world / name, max_dim)
    assert str(early.value) == str(late.value)


def test_the_early_image_check_passes_good_files_silently_and_leaves_truncation_to_decoding(world, tmp_path,
                                                                                           capsys, monkeypatch):
    from nst_tf import decoding
    from nst_tf.images import ImageError, load_image

    for name in ("photo.png", "snapshot.jpg", "also_photo.png", "strip.png"):
        decoding.check_image_file(world / name)
    monkeypatch.setattr(decoding, "MAX_PIXELS", 100 * 100)  # a JPEG decoded at 1/4 size: no note twice
    Image.fromarray(np.zeros((150, 300, 3), np.uint8)).save(tmp_path / "big.jpg")
    decoding.check_image_file(tmp_path / "big.jpg", 64)
    assert capsys.readouterr().err == ""
    decoding.check_image_file(world / "cut.png")  # its header is whole: only decoding finds the cut
    with pytest.raises(ImageError, match="truncated"):
        load_image(world / "cut.png")


@pytest.mark.parametrize("argv", [["stylize", "tubingen_neckarfront", "vangogh_starry_night", "-o", "out.png"],
                                  ["fast", "tubingen_neckarfront", "vangogh_starry_night", "-o", "out.png"],
                                  ["train", "vangogh_starry_night", "--images", "photos", "-o", "m.keras"],
                                  ["demo", "--network", "squeezenet"]], ids=["stylize", "fast", "train", "demo"])
def test_the_checks_before_tensorflow_never_download_a_course_image(argv, world, tmp_path, monkeypatch):
    from nst_tf import cli_parser, data

    real_asset_path = data.asset_path

    def download(name):
        raise AssertionError(f"{name} downloaded before TensorFlow's quiet import")

    monkeypatch.setenv("NST_ASSETS_DIR", str(tmp_path / "no-assets"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no local copy anywhere
    monkeypatch.delenv("NST_OFFLINE", raising=False)
    monkeypatch.setattr(data, "asset_path", download)
    monkeypatch.chdir(world)
    cli._check_before_loading(cli_parser.build_parser().parse_args(argv))  # left to the later code
    monkeypatch.setenv("NST_OFFLINE", "1")  # offline, nothing can come later: one line at once
    monkeypatch.setattr(data, "asset_path", real_asset_path)
    with pytest.raises(cli.UsageError, match="not available offline"):
        cli._check_before_loading(cli_parser.build_parser().parse_args(argv))


def _no_vgg_anywhere(monkeypatch, tmp_path):
    monkeypatch.setenv("NST_OFFLINE", "1")
    monkeypatch.setenv("NST_VGG_WEIGHTS", "")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("NST_ASSETS_DIR", str(tmp_path / "assets"))


@pytest.mark.parametrize("network", ["vgg19", "vgg16"])
def test_the_early_vgg_check_is_the_loads_own_error(network, world, tmp_path, monkeypatch):
    from nst_tf import cli_parser, features

    _no_vgg_anywhere(monkeypatch, tmp_path)
    monkeypatch.chdir(world)
    with pytest.raises(cli.UsageError) as early:
        cli._check_before_loading(cli_parser.build_parser().parse_args([*STYLIZE, "--network", network]))
    with pytest.raises(features.WeightsError) as late:
        features.FeatureExtractor(["conv1_1"], network=network)
    assert str(early.value) == str(late.value)
    assert f"({tmp_path / 'keras' / 'models'})" in str(late.value)


def test_the_vgg_file_is_left_to_the_load_online_or_with_a_local_copy(world, tmp_path, monkeypatch):
    from nst_tf import cli_parser, keras_weights

    def early(*argv):
        cli._check_before_loading(cli_parser.build_parser().parse_args(list(argv)))

    _no_vgg_anywhere(monkeypatch, tmp_path)
    monkeypatch.chdir(world)
    for argv in ([*STYLIZE, "--network", "squeezenet"], [*STYLIZE, "--weights", "random"], ["weights", "squeezenet"]):
        early(*argv)  # no VGG file needed
    monkeypatch.setenv("NST_VGG_WEIGHTS", "random")
    early(*STYLIZE), early("train", "painting.png", "--images", "photos", "-o", "m.keras")
    monkeypatch.setenv("NST_VGG_WEIGHTS", "")
    monkeypatch.delenv("NST_OFFLINE")  # online: a download may bring it, so only the load can tell
    early(*STYLIZE), early("weights", "vgg19", "vgg16")
    monkeypatch.setenv("NST_OFFLINE", "1")
    filename = keras_weights.KERAS_WEIGHTS["vgg19"][0]
    for folder in (tmp_path / "keras" / "models", tmp_path / "assets" / "keras" / "models"):
        folder.mkdir(parents=True)
        (folder / filename).write_bytes(b"not the weights")  # its hash is the load's to check
        early(*STYLIZE), early("weights", "vgg19")
    # one search for both: the asset folder first, and a copy that is not Keras's file is an error
    assert keras_weights.local_imagenet_file("vgg19", check_hash=False) == tmp_path / "assets" / "keras" / "models" / filename
    with pytest.raises(keras_weights.WeightsError, match=f"assets/keras/models/{filename}: md5 does not match"):
        keras_weights.local_imagenet_file("vgg19")
    with pytest.raises(cli.UsageError, match="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        early("weights", "vgg19", "vgg16")


def test_demo_with_a_vgg_network_checks_its_file_early_and_without_one_leaves_it_to_the_gpu(world, tmp_path,
                                                                                           monkeypatch):
    from nst_tf import cli_parser
    from nst_tf.cli_early import DEMO_CONTENT, DEMO_STYLE
    from nst_tf.data import get_asset

    images = {name: need_asset(name) for name in (DEMO_CONTENT, DEMO_STYLE)}
    _no_vgg_anywhere(monkeypatch, tmp_path)
    for name, path in images.items():  # an asset folder with the demo's images and no VGG file
        asset = get_asset(name)
        (tmp_path / "assets" / asset.subdir).mkdir(parents=True, exist_ok=True)
        (tmp_path / "assets" / asset.subdir / asset.filename).symlink_to(path)
    monkeypatch.chdir(world)
    with pytest.raises(cli.UsageError, match="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 is not in"):
        cli._check_before_loading(cli_parser.build_parser().parse_args(["demo", "--network", "vgg16"]))
    cli._check_before_loading(cli_parser.build_parser().parse_args(["demo"]))  # vgg19 only with a GPU


def test_a_full_disk_is_found_before_the_work(world, capsys, monkeypatch):
    from nst_tf import outputs

    monkeypatch.setattr(outputs.shutil, "disk_usage", lambda path: SimpleNamespace(total=10**9, used=10**9, free=4096))
    monkeypatch.chdir(world)
    before = snapshot(world)
    assert_one_line_error(*run_in_process(STYLIZE, capsys), ["only 0.0 MB free", "512 px result"])
    assert snapshot(world) == before


def test_a_write_error_at_the_end_is_one_line_and_leaves_nothing(world, capsys, monkeypatch):
    need_asset("squeezenet_v1_1_notop")

    def disk_full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    monkeypatch.chdir(world)
    before = snapshot(world)
    assert_one_line_error(*run_in_process([*STYLIZE, *SMALL], capsys), ["out.png", "No space left on device"])
    assert snapshot(world) == before  # the temporary file is gone too


# --- awkward inputs that work, and say what was done ---------------------------------------------

def tflite_assets():
    need_asset("magenta_style_predict_int8"), need_asset("magenta_style_transfer_f16")


def test_an_animated_gif_says_its_first_frame_is_used(world, tmp_path, capsys):
    tflite_assets()
    rng = np.random.default_rng(1)
    frames = [Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)) for _ in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    code, out, err = run_in_process(["fast", tmp_path / "anim.gif", world / "painting.png", "-o",
                                     tmp_path / "out.png", "--no-progress"], capsys)
    assert code == 0, err
    assert [line for line in err.splitlines() if line.strip()] == [
        f"note: {tmp_path / 'anim.gif'} has 3 frames: using the first one only"]
    assert Image.open(tmp_path / "out.png").size == (48, 40)


def test_a_large_jpeg_is_decoded_reduced_and_a_large_png_refused_before_decoding(tmp_path, capsys, monkeypatch):
    from nst_tf import decoding, images

    monkeypatch.setattr(decoding, "MAX_PIXELS", 100 * 100)  # the same code path as 8192 x 8192, at toy size
    pixels = np.random.default_rng(2).integers(0, 255, (150, 300, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "big.jpg", quality=95)
    Image.fromarray(pixels).save(tmp_path / "big.png")
    image = images.load_image(tmp_path / "big.jpg")
    reference = cv2.imread(str(tmp_path / "big.jpg"), cv2.IMREAD_REDUCED_COLOR_4)[..., ::-1] / 255.0
    assert image.shape == (1, 38, 75, 3)
    np.testing.assert_allclose(image.numpy()[0], reference, atol=1e-6)
    assert capsys.readouterr().err.splitlines() == [
        f"note: {tmp_path / 'big.jpg'} is 300x150 px (0.045 MP), above the 0.01 MP decoding limit: "
        f"decoded at 1/4 size (75x38 px)"]

    def never(*args, **kwargs):
        raise AssertionError("decoded anyway")

    monkeypatch.setattr(images.cv2, "imdecode", never)
    with pytest.raises(images.ImageError, match=r"big.png: 300x150 px \(0.045 MP\) is too large to decode"):
        images.load_image(tmp_path / "big.png")


def test_pillows_own_bomb_warning_never_prints(world, recwarn):
    from nst_tf.images import ImageError, image_dimensions, load_image

    assert image_dimensions(world / "bomb.png") == (20000, 20000)  # from the header alone
    with pytest.raises(ImageError, match="too large to decode"):
        load_image(world / "bomb.png")
    assert not [w for w in recwarn if "DecompressionBomb" in type(w.message).__name__]


def test_a_folder_batch_names_every_output_uniquely_and_goes_on(world, tmp_path, capsys):
    tflite_assets()
    photos, styled = tmp_path / "photos", tmp_path / "styled"
    (photos / "sub").mkdir(parents=True)
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(photos / "pic.bmp")
    Image.fromarray(rng.integers(0, 255, (44, 52, 3), dtype=np.uint8)).save(photos / "pic.bmp.png")
    png_bomb(photos / "bomb.png")
    (photos / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(photos / "sub" / "inner.png")
    before = snapshot(photos)
    argv = ["fast", "--style", world / "painting.png", "--input-dir", photos, "--output-dir", styled, "--no-progress"]
    code, out, err = run_in_process(argv, capsys)
    assert code == 0, err
    assert sorted(p.name for p in styled.iterdir()) == ["pic.bmp.2.png", "pic.bmp.png"]
    assert Image.open(styled / "pic.bmp.2.png").size == (48, 40)  # from pic.bmp
    assert Image.open(styled / "pic.bmp.png").size == (52, 44)  # from pic.bmp.png
    lines = out.splitlines()
    assert lines[0] == f"wrote 2 image(s) to {styled}"
    assert "pic.bmp -> pic.bmp.2.png (its usual output name is another input's)" in lines
    assert any(line.startswith("skipped bomb.png: 20000x20000 px") for line in lines)
    assert any(line.startswith("skipped .DS_Store: hidden file") for line in lines)
    assert any(line.startswith("skipped sub: a folder") for line in lines)
    code, out, err = run_in_process(argv, capsys)  # a rerun finds both, and nothing else, done
    assert code == 0 and out.splitlines()[0] == f"wrote 0 image(s) to {styled}; 2 already done"
    assert snapshot(photos) == before


def test_output_names_are_unique_per_input():
    from nst_tf.video import output_names

    names = output_names(["pic.bmp", "pic.bmp.png", "pic.bmp.2.png", "a.JPG", "b.tif", "B.tif.png", "notes.txt"])
    assert names == {"pic.bmp.png": "pic.bmp.png", "pic.bmp.2.png": "pic.bmp.2.png", "a.JPG": "a.JPG",
                     "B.tif.png": "B.tif.png", "pic.bmp": "pic.bmp.3.png", "b.tif": "b.tif.2.png",
                     "notes.txt": "notes.txt.png"}
    assert len({n.casefold() for n in names.values()}) == len(names)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)], ids=["022", "027", "077"])
def test_outputs_honour_the_umask(tmp_path, umask, mode):
    from nst_tf.images import save_image

    old = os.umask(umask)
    try:
        path = save_image(np.zeros((1, 32, 32, 3)), tmp_path / "new.png")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    path.chmod(0o604)  # an existing file keeps its own mode, as with a shell's '>'
    save_image(np.ones((1, 32, 32, 3)), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o604


def test_the_command_line_writes_0644_under_umask_022_through_a_link(world, tmp_path):
    tflite_assets()
    (tmp_path / "link.png").symlink_to("real.png")
    proc = subprocess.run([sys.executable, "-m", "nst_tf", "fast", str(world / "photo.png"), str(world / "painting.png"),
                           "-o", "link.png", "--no-progress"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=lambda: os.umask(0o022), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "link.png").is_symlink()  # written through, still a link
    assert stat.S_IMODE((tmp_path / "real.png").stat().st_mode) == 0o644
    assert Image.open(tmp_path / "real.png").size == (64, 48)


def test_a_video_output_honours_the_umask_and_a_still_image_is_no_video(world, tmp_path):
    tflite_assets()
    from nst_tf.fast import load_tflite_model
    from nst_tf.images import ImageError, load_image
    from nst_tf.video import check_video_input, stylize_video

    old = os.umask(0o022)
    try:
        stylize_video(world / "clip.mp4", load_image(world / "painting.png"), tmp_path / "v.mp4",
                      load_tflite_model(), progress=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "v.mp4").stat().st_mode) == 0o644
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (48, 40))
    writer.write(np.zeros((40, 48, 3), np.uint8))
    writer.release()
    check_video_input(tmp_path / "clip.avi")  # RIFF, like WebP, but a video
    for still in ("snapshot.jpg", "photo.png"):
        with pytest.raises(ImageError, match="still image"):
            check_video_input(world / still)


def test_a_write_error_is_one_line_an_image_error_and_an_os_error(tmp_path, monkeypatch):
    from nst_tf.images import ImageError, ImageWriteError, save_image

    def disk_full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(ImageWriteError) as info:
        save_image(np.zeros((1, 32, 32, 3)), tmp_path / "out.png")
    assert isinstance(info.value, ImageError) and isinstance(info.value, OSError)
    assert str(info.value) == f"{tmp_path / 'out.png'}: cannot write (No space left on device)"
    assert os.listdir(tmp_path) == []


def test_arguments_and_controls_do_not_import_each_other():
    import ast

    def imported(module):  # every "from .x import" and "from . import x", at any depth
        tree = ast.parse((ROOT / "nst_tf" / f"{module}.py").read_text())
        nodes = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
        return {n.module for n in nodes if n.module} | {a.name for n in nodes if not n.module for a in n.names}

    assert "arguments" not in imported("controls")
    assert "controls" in imported("arguments")


def test_nst_precision_auto_means_the_detected_default(monkeypatch):
    from nst_tf import precision

    monkeypatch.setattr(precision, "detect_precision", lambda: "mixed_bfloat16")
    monkeypatch.setenv("NST_PRECISION", "auto")
    assert precision.resolve_precision("auto") == "mixed_bfloat16"
    monkeypatch.setenv("NST_PRECISION", "float32")
    assert precision.resolve_precision(None) == "float32"
    assert precision.resolve_precision("mixed_float16") == "mixed_float16"  # an explicit choice wins
