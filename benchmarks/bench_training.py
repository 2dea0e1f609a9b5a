"""Training and running your own feed-forward network on this machine's CPU: prints tables,
asserts nothing.

    python benchmarks/bench_training.py [--rounds 9] [--train-steps 4] [--quick]

1. training steps per second at 256 px, batch 4, SqueezeNet perceptual loss, width 1.0 and the
   small widths (``nst_tf.training.train_transformer``; the first two steps, which trace and
   compile, are not counted);
2. ms per 384x384 frame of the exported TF Lite networks (XNNPACK, the course's pad rewrite),
   timed in interleaved rounds against Magenta's TF Lite transfer network (``nst_tf.fast``,
   style bottleneck cached), so a load spike from other processes hits all of them alike;
3. model sizes in MB.
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


def frame_runners(folder: Path, variants, rounds: int):
    """name -> (run one 384x384 frame, file size in MB). ``variants``: (width, residual blocks)."""
    frame = np.random.default_rng(0).random((1, 384, 384, 3), dtype=np.float32)
    runners, sizes = {}, {}
    for width, blocks in variants:
        model = build_transformer_net(width, residual_blocks=blocks)
        label = f"width {width:g}" + ("" if blocks == 5 else f", {blocks} residual blocks")
        keras_path = save_trained_model(model, folder / f"w{width:g}_{blocks}.keras")
        sizes[f"{label}, .keras"] = keras_path.stat().st_size / 2**20
        for quantize in ("float16", "int8"):
            path = export_tflite(model, folder / f"w{width:g}_{blocks}_{quantize}.tflite", quantize)
            name = f"trained, {label}, TF Lite {quantize}"
            sizes[name] = path.stat().st_size / 2**20
            stylizer = load_trained_model(path)
            runners[name] = lambda s=stylizer: s.run(frame)
    from nst_tf.fast import load_tflite_model

    magenta = load_tflite_model("f16")
    bottleneck = magenta.bottleneck(frame)
    runners["Magenta arbitrary, TF Lite f16 transfer"] = lambda: magenta.transfer(frame, bottleneck)
    sizes["Magenta arbitrary, TF Lite f16 transfer"] = asset_path("magenta_style_transfer_f16").stat().st_size / 2**20
    sizes["Magenta style prediction (int8)"] = asset_path("magenta_style_predict_int8").stat().st_size / 2**20
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
    parser.add_argument("--quick", action="store_true", help="no training table")
    args = parser.parse_args()
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, load average "
          f"{os.getloadavg()[0]:.1f} (other processes share them: compare rows, not runs)\n")
    variants = ((1.0, 5), (0.5, 5), (0.25, 5), (0.25, 3))
    if not args.quick:
        folder = Path(course_image("tubingen_neckarfront")).parent
        print("| training at 256 px, batch 4, SqueezeNet loss | steps/s | s/step | cpu s/step |\n"
              "|---|---:|---:|---:|")
        for width in (1.0, 0.25):
            speed, cpu = training_speed(width, args.train_steps, folder)
            print(f"| width {width:g} | {speed:.3f} | {1 / speed:.2f} | {cpu:.2f} |")
        print()
    with tempfile.TemporaryDirectory() as temp:
        times, sizes = frame_runners(Path(temp), variants, args.rounds)
    print("| 384x384 frame, TF Lite + XNNPACK | ms (median) | cpu ms |\n|---|---:|---:|")
    for name, (wall, cpu) in times.items():
        print(f"| {name} | {wall:.1f} | {cpu:.1f} |")
    print("\n| model file | MB |\n|---|---:|")
    for name, size in sizes.items():
        print(f"| {name} | {size:.2f} |")


if __name__ == "__main__":
    main()
