"""``stylize`` on the command line for long runs: checkpoints and ``--resume``, intermediate
images, the loss log and plot, ``--overwrite``, Ctrl-C; and the objective's finer flags (layers,
layer weights, TV kind, learning-rate decay, ``--init`` image).

Every file a run would write is checked before any work: an existing one is an error (exit 2,
the file untouched) unless ``--overwrite``; a checkpoint folder that holds another run's
checkpoints needs ``--resume`` (continue it) or ``--overwrite`` (start over). Ctrl-C with
checkpointing on writes a checkpoint first (``checkpoint.Interrupted``) and says how to resume.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import Interrupted, list_checkpoints, write_atomically
from .cli_args import UsageError, _check_new_file, _decay, _non_negative, _positive_int, _split

INITS = ("content", "noise", "style")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("layers, TV and learning-rate schedule")
    g.add_argument("--content-layers", nargs="+", default=None, metavar="LAYER",
                   help="content layers, Keras or paper names (block4_conv2, conv4_2 or relu4_2); "
                        "default: the network's or the --recipe's")
    g.add_argument("--style-layers", nargs="+", default=None, metavar="LAYER",
                   help="style layers, e.g. relu1_1,relu2_1,relu3_1,relu4_1,relu5_1 (commas or spaces)")
    g.add_argument("--style-layer-weights", nargs="+", default=None, metavar="W",
                   help="one weight per style layer, in the same order (default: equal, summing to 1)")
    g.add_argument("--tv-kind", choices=("l1", "l2"), default=None,
                   help="total variation of absolute (l1, default) or squared (l2) differences")
    g.add_argument("--lr-decay", type=_decay, default=None, metavar="F",
                   help="Adam: multiply the learning rate by this every --lr-decay-every steps, or over each "
                        "scale's steps without it (default: the schedule's, classic 0.96, fast 0.1 smoothly)")
    g.add_argument("--lr-decay-every", type=_positive_int, default=None, metavar="N",
                   help="steps between learning-rate decays (default: the schedule's, classic 100, "
                        "fast none: a smooth fall)")
    g = p.add_argument_group("long runs: checkpoints, intermediate images, logs")
    g.add_argument("--checkpoint-every", type=_positive_int, default=None, metavar="N",
                   help="write a checkpoint every N steps (also at the end and on Ctrl-C)")
    g.add_argument("--checkpoint-dir", default=None, metavar="DIR",
                   help="folder of the checkpoints (default: next to the output, OUT_checkpoints)")
    g.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint (same settings; more --steps allowed)")
    g.add_argument("--save-every", type=_positive_int, default=None, metavar="N",
                   help="also write the image every N steps: OUT_0100.png, ...")
    g.add_argument("--log", default=None, metavar="FILE.csv",
                   help="the losses of every step: total, content, style, tv, each style layer")
    g.add_argument("--plot", default=None, metavar="FILE.png", help="the loss curves")
    g.add_argument("--overwrite", action="store_true",
                   help="replace existing output, log, plot and intermediate files (and old checkpoints)")


@dataclass
class Plan:
    """The files one ``stylize`` command writes, checked before any work."""

    output: Path
    log: Path | None
    plot: Path | None
    checkpoint_dir: Path | None
    clear_checkpoints: bool
    save_every: int | None
    digits: int


def init_source(args) -> Path | None:
    """The ``--init`` image file (a path or a course image name), or None for content/noise/style."""
    from .cli_args import _image_source

    return None if args.init in INITS else _image_source(args.init)


def checkpoint_folder(args) -> Path | None:
    """``--checkpoint-dir``, or OUT_checkpoints beside the output when checkpointing is asked for."""
    if args.checkpoint_dir:
        return Path(args.checkpoint_dir).expanduser()
    if args.checkpoint_every or args.resume:
        output = Path(args.output).expanduser()
        return output.with_name(output.stem + "_checkpoints")
    return None


def intermediate_path(output: Path, step: int, digits: int = 4) -> Path:
    return output.with_name(f"{output.stem}_{step:0{digits}d}{output.suffix}")


def plan_outputs(args, inputs=()) -> Plan:
    """Check every file the command would write (no model, no TensorFlow needed)."""
    output = Path(args.output).expanduser()
    log = Path(args.log).expanduser() if args.log else None
    plot = Path(args.plot).expanduser() if args.plot else None
    if log is not None and log.suffix.lower() != ".csv":
        raise UsageError(f"{log}: --log writes CSV; give a name ending in .csv")
    if plot is not None and plot.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise UsageError(f"{plot}: --plot writes a figure; give a name ending in .png (or .pdf, .svg)")
    named = [p for p in (output, log, plot) if p is not None]
    if len({os.path.realpath(p) for p in named}) < len(named):
        raise UsageError("-o, --log and --plot must be three different files")
    given = {os.path.realpath(Path(text).expanduser()) for text in inputs}
    for path, flag in ((log, "--log"), (plot, "--plot")):
        if path is not None and os.path.realpath(path) in given:
            raise UsageError(f"{path}: is an input image; refusing to overwrite it ({flag})")
    for path, flag in ((output, "-o"), (log, "--log"), (plot, "--plot")):
        if path is not None and os.path.realpath(path) not in given:  # -o an input: refused later, saying so
            _check_new_file(path, args.overwrite, flag)
    steps = args.steps * (len(args.scales) if args.scales else 1)
    digits = max(4, len(str(steps)))
    if args.save_every and not args.resume:  # resuming rewrites the run's own intermediate images
        for step in range(args.save_every, steps + 1, args.save_every):
            _check_new_file(intermediate_path(output, step, digits), args.overwrite, "--save-every")
    folder, clear = checkpoint_plan(args)
    return Plan(output, log, plot, folder, clear, args.save_every, digits)


def checkpoint_plan(args) -> tuple[Path | None, bool]:
    """The checkpoint folder (``stylize`` and ``train`` alike) and whether --overwrite clears an
    earlier run's checkpoints; an earlier run without --resume or --overwrite is a usage error."""
    folder, clear = checkpoint_folder(args), False
    if folder is not None:
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{folder}: is a file; --checkpoint-dir must be a folder")
        existing = list_checkpoints(folder)
        if existing and not args.resume:
            if not args.overwrite:
                raise UsageError(f"{folder}: holds the checkpoints of an earlier run (newest {existing[-1].name}); "
                                 "add --resume to continue it, or --overwrite to start over")
            clear = True
    return folder, clear


def objective_arguments(args, loss: dict) -> dict:
    """``stylize`` keywords of the layer, TV and schedule flags, on top of ``loss`` (--recipe)."""
    from .features import DEFAULT_LAYERS

    extra = {}
    if args.content_layers:
        extra["content_layers"] = _split(args.content_layers)
    if args.style_layers:
        extra["style_layers"] = _split(args.style_layers)
    if args.style_layer_weights:
        layers = extra.get("style_layers") or loss.get("style_layers") or DEFAULT_LAYERS[args.network][1]
        weights = []
        for text in _split(args.style_layer_weights):
            try:
                weights.append(_non_negative(text))
            except argparse.ArgumentTypeError as err:
                raise UsageError(f"--style-layer-weights: {err}") from None
        if len(weights) != len(layers):
            raise UsageError(f"--style-layer-weights has {len(weights)} weight(s) for {len(layers)} style "
                             f"layers ({', '.join(layers)})")
        extra["style_layer_weights"] = dict(zip(layers, weights))
    if args.tv_kind:
        extra["tv_kind"] = args.tv_kind
    for name in ("lr_decay", "lr_decay_every"):
        if getattr(args, name) is not None:
            extra[name] = getattr(args, name)
    return {**loss, **extra}


def run_arguments(args, plan: Plan) -> dict:
    """``stylize`` keywords for checkpoints and intermediate images."""
    if plan.clear_checkpoints:  # --overwrite: the earlier run's checkpoints go, this run's come
        for path in list_checkpoints(plan.checkpoint_dir):
            path.unlink(missing_ok=True)
        (plan.checkpoint_dir / "checkpoint.json").unlink(missing_ok=True)
    keywords = dict(checkpoint_dir=plan.checkpoint_dir, checkpoint_every=args.checkpoint_every,
                    resume=args.resume)
    if plan.save_every:
        from .images import save_image

        def save_intermediate(step, image, losses):
            if step % plan.save_every == 0:
                save_image(image, intermediate_path(plan.output, step, plan.digits))

        keywords.update(callback=save_intermediate, callback_every=plan.save_every)
    return keywords


def write_log(history: dict, path: Path) -> None:
    """One CSV row per step: step, scale, seconds, the losses, the learning rate, each style layer."""
    keys = ["step", "scale", "seconds", "total", "content", "style", "tv"]
    keys += ["learning_rate"] if "learning_rate" in history else []
    layers = list(history["style_layers"])
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(keys + [f"style_{name}" for name in layers])
    for i in range(len(history["step"])):
        writer.writerow([repr(history[k][i]) for k in keys] + [repr(history["style_layers"][n][i]) for n in layers])
    write_atomically(path, lambda file: file.write(text.getvalue().encode()))


def write_plot(history: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_history

    fig = plot_history(history, title=title, per_layer=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lower().lstrip("."), dpi=120, bbox_inches="tight")
    plt.close(fig)
    write_atomically(path, lambda file: file.write(buffer.getvalue()))


def save_result(save_image, result, output: Path) -> None:
    """``save_image`` with a write error as one line; the result survives in its checkpoint."""
    try:
        save_image(result.image, output)
    except OSError as err:
        kept = (f"; the result is kept in {result.checkpoint}: run again with --resume (and --checkpoint-dir "
                f"{Path(result.checkpoint).parent} if -o changes)") if result.checkpoint else ""
        raise UsageError(f"{output}: cannot be written ({err.strerror or err}){kept}") from None


def write_extras(result, plan: Plan) -> list[Path]:
    """The --log and --plot files of a finished run; returns what was written."""
    written = []
    if plan.log is not None:
        write_log(result.history, plan.log)
        written.append(plan.log)
    if plan.plot is not None:
        write_plot(result.history, plan.plot, f"{plan.output.name}: losses per step")
        written.append(plan.plot)
    return written


def interrupted_message(err: KeyboardInterrupt, args) -> str:
    """The one line Ctrl-C prints: where the checkpoint is and the flag that continues."""
    if isinstance(err, Interrupted) and err.checkpoint is not None:
        return (f"interrupted at step {err.step}: checkpoint written to {err.checkpoint}; to continue, run "
                "the same command with --resume")
    folder = checkpoint_folder(args) if getattr(args, "command", None) == "stylize" else None
    existing = list_checkpoints(folder) if folder is not None else []
    if existing:
        return (f"interrupted: no output written; the checkpoints in {folder} are kept: to continue from "
                f"{existing[-1].name}, run the same command with --resume")
    return "interrupted: no output written"
