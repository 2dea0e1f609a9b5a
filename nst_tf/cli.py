"""Command line: ``python -m nst_tf stylize CONTENT STYLE -o OUT`` and ``python -m nst_tf demo``.

Expected mistakes (a missing file, a bad number, weights that cannot be found) print one line to
stderr and exit with status 2: no traceback, no output file, and never an input overwritten.
Those that need no TensorFlow are found before it is imported (``_check_before_loading``: the
files written, then ``cli_early``'s checks of what is read), so they come at once.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from .cli_args import EXIT_USAGE, UsageError, _check_new_file, _check_output, _image_source, _mask_styles
from .cli_early import DEMO_CONTENT, DEMO_STYLE, check_inputs_early, loss_arguments
from .cli_fast import check_outputs_early, cmd_fast, cmd_video
from .cli_parser import build_parser
from .cli_runs import (init_source, interrupted_message, objective_arguments, plan_outputs,
                       run_arguments, save_result, write_extras)
from .cli_train import cmd_train, plan_train


def _warn_untrained(weights: str) -> None:
    if weights == "random":
        print("note: UNTRAINED (random) features (NST_VGG_WEIGHTS=random): the output is a "
              "pipeline check, not style transfer", file=sys.stderr)


def cmd_stylize(args) -> int:
    from .arguments import check_size_fits, chosen_optimizer
    from .controls import as_mask, blend_weights
    from .images import load_image, save_image
    from .optimize import stylize

    content_path = _image_source(args.content)
    style_paths = [_image_source(text) for text in args.style]
    mask_paths = [Path(text).expanduser() for text in args.mask or []]
    output = Path(args.output).expanduser()
    init_path = init_source(args)
    _check_output(output, [content_path, *style_paths, *mask_paths, *([init_path] if init_path else [])])
    plan = plan_outputs(args, [content_path, *style_paths, *mask_paths, *([init_path] if init_path else [])])
    loss = objective_arguments(args, loss_arguments(args))
    if args.style_blend is not None:
        try:
            blend_weights(args.style_blend, len(style_paths))
        except ValueError as err:
            raise UsageError(f"--style-blend: {err}") from None
    mask_styles = _mask_styles(args.mask_styles, len(style_paths), len(mask_paths))
    size = max(args.scales) if args.scales else args.image_size
    check_size_fits(content_path, size, network=args.network, precision=args.precision,
                    layers=[*loss.get("content_layers", ()), *loss.get("style_layers", ())],
                    optimizer=chosen_optimizer(args.schedule, args.optimizer, args.learning_rate, args.lr_decay,
                                               args.lr_decay_every))
    content = load_image(content_path, max_dim=size)
    styles = [load_image(path, max_dim=args.style_size or size) for path in style_paths]
    masks = [as_mask(path, content.shape, str(path)) for path in mask_paths] or None
    init = args.init if init_path is None else load_image(init_path, max_dim=size)
    if plan.checkpoint_dir is not None:  # deterministic kernels: a resumed run repeats the lost steps exactly
        from .config import seed_everything

        seed_everything(args.seed, announce=False)
    result = stylize(content, styles if len(styles) > 1 else styles[0], num_steps=args.steps,
                     network=args.network, weights=args.weights, pooling=args.pooling, **loss,
                     init=init, optimizer=args.optimizer, learning_rate=args.learning_rate, schedule=args.schedule,
                     precision=args.precision, jit_compile=args.xla, scales=args.scales,
                     seed=args.seed, progress=not args.no_progress, preserve_color=args.preserve_color,
                     style_blend=args.style_blend, masks=masks,
                     mask_styles=mask_styles, style_scale=args.style_scale, strength=args.strength,
                     **run_arguments(args, plan))
    _warn_untrained(result.feature_weights)
    save_result(save_image, result, output)
    seconds = result.history["seconds"][-1]
    print(f"wrote {output} ({result.image.shape[2]}x{result.image.shape[1]} px, {args.network}, "
          f"{result.settings['optimizer']}, {result.settings['precision']}, {len(result.history['step'])} steps "
          f"in {seconds:.1f} s; the image of step {result.best_step})")
    for path in write_extras(result, plan):
        print(f"wrote {path}")
    return 0


def cmd_demo(args) -> int:
    from .arguments import check_size_fits
    from .config import has_gpu
    from .data import course_image
    from .images import load_image, save_image
    from .optimize import stylize
    from .plotting import UNTRAINED_BANNER, show_images

    gpu = has_gpu()
    network = args.network or ("vgg19" if gpu else "squeezenet")
    if args.network:
        why = "chosen with NETWORK/--network"
    elif gpu:
        why = "a GPU is available, so the paper's network"
    else:
        why = "no GPU: SqueezeNet has real ImageNet features at ~1/20 of VGG19's cost"
    size = args.image_size or 512
    steps = args.steps or 300
    check_size_fits(course_image(DEMO_CONTENT), size, network=network, precision=None)  # the default run's need
    _check_demo_outputs(args)
    print(f"demo: Tübingen x The Starry Night with {network} at {size} px, {steps} steps ({why})")
    output_dir = Path(args.output_dir)
    content = load_image(course_image(DEMO_CONTENT), max_dim=size)
    style = load_image(course_image(DEMO_STYLE), max_dim=size)
    result = stylize(content, style, num_steps=steps, network=network, progress=not args.no_progress)
    _warn_untrained(result.feature_weights)
    image_path = save_image(result.image, output_dir / "demo.png")
    import matplotlib

    matplotlib.use("Agg")
    fig = show_images([content, style, result.image],
                      ["content: Tübingen (A. Praefcke, CC BY 3.0)", "style: The Starry Night (van Gogh)",
                       f"result: {network}, {steps} steps"],
                      banner=UNTRAINED_BANNER if result.untrained else None)
    figure_path = output_dir / "demo_side_by_side.png"
    temp = figure_path.with_name(f".{figure_path.name}.tmp.png")
    fig.savefig(temp, dpi=120, bbox_inches="tight")
    os.replace(temp, figure_path)
    print(f"wrote {image_path}\nwrote {figure_path}\n"
          f"({result.history['seconds'][-1]:.1f} s of optimization)")
    return 0


def _check_demo_outputs(args) -> None:
    for name in ("demo.png", "demo_side_by_side.png"):
        _check_new_file(Path(args.output_dir).expanduser() / name, args.overwrite, "demo")


def cmd_images(args) -> int:
    from .data import list_assets

    for asset in list_assets():
        if asset.kind in ("content", "style"):
            print(f"{asset.name:34s} {asset.kind:8s} {asset.license}")
    return 0


def cmd_weights(args) -> int:
    from .features import FeatureExtractor

    for network in args.networks:
        layer = "conv1" if network == "squeezenet" else "block1_conv1"
        FeatureExtractor([layer], network=network, weights="imagenet")  # WeightsError: one line, exit 2
        print(f"{network}: ImageNet weights found, hash-checked and loaded")
    return 0


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with stderr muted: it prints C++ start-up lines no env variable stops."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _remember_interrupts(seen: list):
    """SIGINT during start-up: remember it as well as raising KeyboardInterrupt, because a library
    that imports an optional module under a bare ``except:`` can swallow the exception (seen on
    a loaded CI machine: the run then went on to the end)."""
    def handler(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt
    try:
        return signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (cli.main called from a worker thread)
        return None


def main(argv=None) -> int:
    args, seen = None, []
    previous = _remember_interrupts(seen)
    try:  # from the first line on: Ctrl-C during start-up is one line too, never a traceback
        args = build_parser().parse_args(argv)
        _check_before_loading(args)
        _import_tensorflow_quietly()
        if seen:
            raise KeyboardInterrupt
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
            previous = None
        return _run(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as err:
        print(interrupted_message(err, args), file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _check_before_loading(args) -> None:
    """The checks of the files a command writes, then of what it reads (``cli_early``), before
    TensorFlow's seconds of start-up."""
    try:
        check_outputs_early(args)  # can it be written at all (a folder, /proc, a name too long, ...)
        if args.command == "stylize":
            plan_outputs(args, [args.content, *args.style, *(args.mask or []), args.init])
        elif args.command == "demo":
            _check_demo_outputs(args)
        elif args.command == "train":
            plan_train(args)
        check_inputs_early(args)
    except UsageError:
        raise
    except ValueError as err:  # ImageError, AssetError, a number's check: the same one line as later
        raise UsageError(str(err)) from None


def _run(args) -> int:
    from .data import AssetError
    from .features import WeightsError
    from .images import ImageError

    handlers = {"stylize": cmd_stylize, "demo": cmd_demo, "images": cmd_images, "weights": cmd_weights,
                "fast": cmd_fast, "video": cmd_video, "train": cmd_train}
    try:
        return handlers[args.command](args)
    except (ImageError, AssetError, WeightsError, UsageError, ValueError, FloatingPointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
