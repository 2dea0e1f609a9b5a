"""Command line: ``python -m nst_tf train STYLE --images DIR -o MODEL``: train your own network.

Taught in notebooks/09_training_a_feed_forward_network. ``cli.main`` runs it; mistakes are one
line and exit status 2, as for every command, and are found before TensorFlow loads: a missing
style or folder, an output that exists (``--overwrite`` replaces it), a checkpoint folder of an
earlier run without ``--resume``. ``MODEL`` ending in .keras saves the Keras model; ending in
.tflite writes the TF Lite file and the Keras model beside it (MODEL with .keras).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import list_checkpoints
from .cli_args import UsageError, _check_new_file, _image_size, _image_source, _non_negative, _positive_int
from .cli_runs import checkpoint_plan

MODEL_SUFFIXES = (".keras", ".tflite")


def _width(text: str) -> float:
    value = _non_negative(text)
    if not 0 < value <= 4:
        raise argparse.ArgumentTypeError(f"{text!r} must be in (0, 4]: it multiplies the channel counts")
    return value


def add_train_command(sub) -> None:
    p = sub.add_parser("train", help="train a feed-forward network for one style (Johnson et al. 2016)",
                       description="Train an image transformation network to paint any photo in the style of "
                                   "STYLE, on the photos of --images, with a perceptual loss.",
                       epilog="Examples:\n  python -m nst_tf train vangogh_starry_night --images photos/ "
                              "-o starry.tflite --network squeezenet --preset realtime --steps 2000\n"
                              "  python -m nst_tf fast photo.jpg --model starry.tflite -o out.png",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("style", help="style painting: a file or a course image name")
    p.add_argument("--images", required=True, metavar="DIR", help="folder of training photos (searched recursively)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL",
                   help="MODEL.keras, or MODEL.tflite (then MODEL.keras is written beside it too)")
    p.add_argument("--steps", type=_positive_int, default=2000, help="training steps (default 2000)")
    p.add_argument("--image-size", type=_image_size, default=256,
                   help="training crop side in px, a multiple of 4 (default 256)")
    p.add_argument("--style-size", type=_image_size, default=256, help="long side of the style image in px (256)")
    p.add_argument("--batch-size", type=_positive_int, default=4, help="photos per step (default 4)")
    p.add_argument("--network", choices=("vgg16", "vgg19", "squeezenet"), default="vgg16",
                   help="loss network (default vgg16, the paper's; squeezenet for CPUs)")
    p.add_argument("--weights", default=None,
                   help="loss network weights: 'imagenet', a file or 'random' (untrained: a pipeline check); "
                        "default $NST_VGG_WEIGHTS or imagenet")
    p.add_argument("--preset", choices=("paper", "realtime"), default="paper",
                   help="transformer network: paper (Johnson et al.'s, the default) or realtime (width 0.25, 3x3 "
                        "first and last convolutions: under 30 ms per 384x384 frame as TF Lite on a CPU)")
    p.add_argument("--width", type=_width, default=None,
                   help="channel multiplier (default the preset's: 1.0 paper, 0.25 realtime)")
    p.add_argument("--norm", choices=("instance", "batch"), default="instance", help="normalization (default instance)")
    p.add_argument("--content-weight", type=_non_negative, default=None)
    p.add_argument("--style-weight", type=_non_negative, default=None)
    p.add_argument("--tv-weight", type=_non_negative, default=None)
    p.add_argument("--learning-rate", type=_non_negative, default=1e-3, help="Adam step size (default 1e-3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quantize", choices=("float16", "int8"), default="float16",
                   help="TF Lite weights: float16 (default) or int8 dynamic range (.tflite only)")
    p.add_argument("--checkpoint-every", type=_positive_int, default=None, metavar="N",
                   help="write a checkpoint every N steps (also at the end and on Ctrl-C)")
    p.add_argument("--checkpoint-dir", default=None, metavar="DIR",
                   help="folder of the checkpoints (default: next to the output, MODEL_checkpoints)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint (same settings)")
    p.add_argument("--preview", default=None, metavar="PHOTO", help="a photo to stylize every --preview-every steps")
    p.add_argument("--preview-every", type=_positive_int, default=None, metavar="N",
                   help="write MODEL_preview_<step>.png every N steps (needs --preview)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model file (and old checkpoints)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


@dataclass
class TrainPlan:
    keras: Path
    tflite: Path | None
    checkpoint_dir: Path | None
    clear_checkpoints: bool


def plan_train(args) -> TrainPlan:
    """Check every input and output of ``train`` (no TensorFlow needed)."""
    output = Path(args.output).expanduser()
    if output.suffix.lower() not in MODEL_SUFFIXES:
        raise UsageError(f"{output}: the model file must end in .keras or .tflite")
    if args.image_size % 4:
        raise UsageError(f"--image-size {args.image_size}: must be a multiple of 4 (the network halves it twice)")
    images = Path(args.images).expanduser()
    if not images.is_dir():
        raise UsageError(f"{images}: no such folder" if not images.exists() else f"{images}: not a folder (--images)")
    style = _image_source(args.style, download=False)  # None: a course image Keras downloads later
    if style is not None and not style.is_file():
        raise UsageError(f"{style}: no such file (STYLE)")
    if (args.preview_every is None) != (args.preview is None):
        raise UsageError("--preview and --preview-every go together: a photo, and how often to stylize it")
    preview = _image_source(args.preview, download=False) if args.preview else None
    if preview is not None and not preview.is_file():
        raise UsageError(f"{args.preview}: no such file (--preview)")
    tflite = output if output.suffix.lower() == ".tflite" else None
    keras_path = output.with_suffix(".keras")
    for path in filter(None, (keras_path, tflite)):
        _check_new_file(path, args.overwrite, "-o")
    folder, clear = checkpoint_plan(args)
    return TrainPlan(keras_path, tflite, folder, clear)


def cmd_train(args) -> int:
    from .images import save_image
    from .training.export import export_tflite, save_trained_model
    from .training.loop import train_transformer

    plan = plan_train(args)
    if plan.clear_checkpoints:
        for path in list_checkpoints(plan.checkpoint_dir):
            path.unlink(missing_ok=True)
    output = Path(args.output).expanduser()

    def preview(step, image, losses):
        if image is not None:
            save_image(image, output.with_name(f"{output.stem}_preview_{step:06d}.png"))

    result = train_transformer(
        _image_source(args.style), Path(args.images).expanduser(), steps=args.steps, image_size=args.image_size,
        style_size=args.style_size, batch_size=args.batch_size, network=args.network, weights=args.weights,
        width=args.width, preset=args.preset, norm=args.norm, content_weight=args.content_weight,
        style_weight=args.style_weight, tv_weight=args.tv_weight, learning_rate=args.learning_rate, seed=args.seed,
        checkpoint_dir=plan.checkpoint_dir, checkpoint_every=args.checkpoint_every, resume=args.resume,
        preview_every=args.preview_every, preview_image=_image_source(args.preview) if args.preview else None,
        callback=preview if args.preview else None, progress=not args.no_progress)
    if result.settings.get("weights") == "random":
        print("note: UNTRAINED (random) loss-network features: the model is a pipeline check, not a "
              "style network", file=sys.stderr)
    written = [save_trained_model(result.model, plan.keras)]
    if plan.tflite is not None:
        written.append(export_tflite(result.model, plan.tflite, args.quantize))
    history = result.history
    print(f"trained {result.steps} steps in {history['seconds'][-1]:.1f} s (width {result.settings['width']:g}, "
          f"{args.network} loss); loss {history['total'][0]:.4g} -> {history['total'][-1]:.4g}"
          + (f"; {result.skipped_files} photo(s) failed to decode and were skipped" if result.skipped_files else ""))
    for path in written:
        print(f"wrote {path} ({os.path.getsize(path) / 2**20:.2f} MB)")
    return 0
