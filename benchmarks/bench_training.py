"""Training and running your own feed-forward network on this machine's CPU: prints tables,
asserts nothing.

    python benchmarks/bench_training.py [--rounds 9] [--train-steps 4] [--threads 2] [--quick]

1. training steps per second at 256 px, batch 4, SqueezeNet perceptual loss, width 1.0 and the
   small widths (``nst_tf.training.train_transformer``; the first two steps, which trace and
   compile, are not counted);
2. ms per 384x384 frame of the exported TF Lite networks (XNNPACK, the course's pad rewrite),
   timed in interleaved rounds against Magenta's TF Lite transfer network (``nst_tf.fast``,
   style bottleneck cached), so a load spike from other processes hits all of them alike; every
   interpreter uses the same ``--threads`` (default: as ``nst_tf``, min(4, cores)). "x Magenta"
   is the ratio of medians in this run (the number to trust on a shared machine); the goal of
   issue 13 is 30 ms, Magenta's ~39 ms on this CPU when idle, so about 0.75x;
3. model sizes in MB; multiply-accumulates per 384x384 frame, where they go.
The networks are timed with their initial weights: speed does not depend on the weights' values.
Wall times are medians; "cpu" is process CPU time per frame (all threads), less sensitive to load.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from nst_tf.data import asset_path, course_image  # noqa: E402
from nst_tf.training import build_transformer_net, export_tflite, load_trained_model, save_trained_model  # noqa: E402
from nst_tf.training.loop import train_transformer  # noqa: E402


def training_speed(width: float, steps: int, folder: Path) -> tuple[float, float]:
    """Steps per second (wall) and process CPU seconds per step, after the two tracing steps."""
    cpu = []
    result = train_transformer(course_image("vangogh_starry_night"), folder, steps=steps + 2, image_size=256,
                               batch_size=4, network="squeezenet", width=width, progress=False,
                               callback=lambda step, preview, losses: cpu.append(time.process_time()))
    seconds = result.history["seconds"]
    return steps / (seconds[-1] - seconds[1]), (cpu[-1] - cpu[1]) / steps


# (label, build_transformer_net arguments): the paper's shape at three widths, and the cheaper shapes
VARIANTS = (("width 1", dict(width=1.0)), ("width 0.5", dict(width=0.5)), ("width 0.25", dict(width=0.25)),
            ("width 0.25, 3 residual blocks", dict(width=0.25, residual_blocks=3)),
            ("preset realtime (width 0.25, 3x3 ends)", dict(preset="realtime")),
            ("realtime, 3 residual blocks", dict(preset="realtime", residual_blocks=3)))
RESOLUTION = {"down1": 1, "down2": 2, "up1": 2, "up2": 1, "out": 1}  # 1/side of each conv's output; else 4


def multiply_adds(model, side: int = 384) -> dict:
    """Multiply-accumulates per side x side frame, by stage: full-res 'ends' (first, last conv),
    'up2' (full-res 3x3), 'half-res' (down2, up1), '1/4-res' (down3 and the residual blocks)."""
    groups = {"down1": "ends", "out": "ends", "up2": "up2", "down2": "half-res", "up1": "half-res"}
    total = {}
    for layer in model.layers:
        if type(layer).__name__ == "Conv2D":
            stage = layer.name.split("_")[0]
            k, (c_in, c_out) = layer.kernel_size, layer.kernel.shape[2:]
            macs = (side // RESOLUTION.get(stage, 4)) ** 2 * k[0] * k[1] * c_in * c_out
            group = groups.get(stage, "1/4-res")
            total[group] = total.get(group, 0) + macs
    return total


def frame_runners(folder: Path, rounds: int, threads: int, quantizations=("float16", "int8")):
    """name -> (wall ms, cpu ms), and name -> (file size in MB, MMAC per frame)."""
    frame = np.random.default_rng(0).random((1, 384, 384, 3), dtype=np.float32)
    runners, sizes = {}, {}
    for index, (label, arguments) in enumerate(VARIANTS):
        model = build_transformer_net(**arguments)
        macs = multiply_adds(model)
        keras_path = save_trained_model(model, folder / f"v{index}.keras")
        sizes[f"{label}, .keras"] = (keras_path.stat().st_size / 2**20, macs)
        for quantize in quantizations:
            path = export_tflite(model, folder / f"v{index}_{quantize}.tflite", quantize)
            name = f"{label}, TF Lite {quantize}"
            sizes[name] = (path.stat().st_size / 2**20, macs)
            stylizer = load_trained_model(path, num_threads=threads)
            runners[name] = lambda s=stylizer: s.run(frame)
    from nst_tf.fast import load_tflite_model

    magenta = load_tflite_model("f16", num_threads=threads)
    bottleneck = magenta.bottleneck(frame)
    runners["Magenta arbitrary, TF Lite f16 transfer"] = lambda: magenta.transfer(frame, bottleneck)
    sizes["Magenta arbitrary, TF Lite f16 transfer"] = (asset_path("magenta_style_transfer_f16").stat().st_size
                                                        / 2**20, None)
    sizes["Magenta style prediction (int8)"] = (asset_path("magenta_style_predict_int8").stat().st_size / 2**20, None)
    for run in runners.values():  # build interpreters, warm caches
        run()
    wall = {name: [] for name in runners}
    cpu = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            w, c = time.perf_counter(), time.process_time()
            run()
            wall[name].append((time.perf_counter() - w) * 1e3)
            cpu[name].append((time.process_time() - c) * 1e3)
    return {name: (float(np.median(wall[name])), float(np.median(cpu[name]))) for name in runners}, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--train-steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 1),
                        help="interpreter threads, the same for every model")
    parser.add_argument("--float16-only", action="store_true", help="no int8 rows")
    parser.add_argument("--quick", action="store_true", help="no training table")
    args = parser.parse_args()
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, load average "
          f"{os.getloadavg()[0]:.1f} (other processes share them: compare rows, not runs)\n")
    if not args.quick:
        folder = Path(course_image("tubingen_neckarfront")).parent
        print("| training at 256 px, batch 4, SqueezeNet loss | steps/s | s/step | cpu s/step |\n"
              "|---|---:|---:|---:|")
        for width in (1.0, 0.25):
            speed, cpu = training_speed(width, args.train_steps, folder)
            print(f"| width {width:g} | {speed:.3f} | {1 / speed:.2f} | {cpu:.2f} |")
        print()
    with tempfile.TemporaryDirectory() as temp:
        quantizations = ("float16",) if args.float16_only else ("float16", "int8")
        times, sizes = frame_runners(Path(temp), args.rounds, args.threads, quantizations)
    print(f"load average after the frames: {os.getloadavg()[0]:.1f}\n")
    magenta_wall, magenta_cpu = times["Magenta arbitrary, TF Lite f16 transfer"]
    print(f"| 384x384 frame, TF Lite + XNNPACK, {args.threads} threads, {args.rounds} rounds | ms (median) "
          "| x Magenta | cpu ms | x Magenta |\n|---|---:|---:|---:|---:|")
    for name, (wall, cpu) in times.items():
        print(f"| {name} | {wall:.1f} | {wall / magenta_wall:.2f} | {cpu:.1f} | {cpu / magenta_cpu:.2f} |")
    print("\n| model file | MB | M multiply-adds per 384x384 frame | of which: ends (first, last conv), up2, "
          "half-res, 1/4-res |\n|---|---:|---:|---|")
    for name, (size, macs) in sizes.items():
        split = "" if macs is None else ", ".join(f"{macs.get(g, 0) / 1e6:.0f}" for g in
                                                   ("ends", "up2", "half-res", "1/4-res"))
        total = "" if macs is None else f"{sum(macs.values()) / 1e6:.0f}"
        print(f"| {name} | {size:.2f} | {total} | {split} |")


if __name__ == "__main__":
    main()
