"""Is the memory estimate right? ``check_memory``'s need against the measured peak memory of a run.

    python benchmarks/bench_memory.py            # VGG19 and SqueezeNet at 256, 384, 512 px
    python benchmarks/bench_memory.py --quick    # SqueezeNet at 256 px only, in this process (~10 s)
    python benchmarks/bench_memory.py --sizes 512 1024 --precisions float32 mixed_bfloat16

Prints a table and asserts nothing. Every run is a fresh process: it loads the course images and
builds the feature extractor (as ``stylize`` does before its check, so the weights are already in
use), notes its resident memory (RSS), then runs a few ``nst_tf.stylize`` steps; the measured
increase is the peak RSS during the run minus the RSS just before it (Linux: the peak is reset
through /proc/self/clear_refs, read from VmHWM; elsewhere ru_maxrss). That increase holds what
``check_memory`` estimates: activations, gradients, temporaries and the compiled step. VGG19 runs
untrained (memory does not depend on the weights' values); SqueezeNet uses the real file from
NST_ASSETS_DIR. ``--quick`` makes its one run in this process instead when TensorFlow has not run
here yet (the increase is measured from the RSS after the build, so it is the same quantity
without a second TensorFlow start; tests/run_scripts.py runs this script before the others). On a
CPU this measures host memory; a GPU's peak would be
``tf.config.experimental.get_memory_info("GPU:0")["peak"]`` (not measured here: no GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Make VmHWM start again from the current RSS (Linux >= 4.0); False when not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def worker(network: str, size: int, precision: str, steps: int, optimizer: str) -> dict:
    """One measured run in this (fresh) process."""
    import nst_tf
    from nst_tf.data import course_image
    from nst_tf.features import DEFAULT_LAYERS, FeatureExtractor
    from nst_tf.images import load_image
    from nst_tf.resources import check_memory

    content = load_image(course_image("tubingen_neckarfront"), max_dim=size)
    style = load_image(course_image("vangogh_starry_night"), max_dim=size)
    height, width = int(content.shape[1]), int(content.shape[2])
    content_layers, style_layers = DEFAULT_LAYERS[network]
    # Built first, as stylize does before its check: the weights are already in use when
    # check_memory reads the free memory, so its estimate is what comes on top of them.
    extractor = FeatureExtractor(style_layers, content_layers, network=network, precision=precision)
    need = check_memory(network, height, width, extractor.deepest_layer, precision, available=2**62,
                        optimizer=optimizer)
    before_kib = _status_kib("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reset = _reset_peak()
    nst_tf.stylize(content, style, num_steps=steps, network=network, precision=precision, optimizer=optimizer,
                   scales=[size], extractor=extractor, progress=False, estimate=False)
    peak_kib = (_status_kib("VmHWM") if reset else None) or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"network": network, "size": f"{width}x{height}", "precision": precision, "optimizer": optimizer, "need": need,
            "increase": (peak_kib - before_kib) * 1024, "peak_source": "VmHWM" if reset else "ru_maxrss"}


def measure(network: str, size: int, precision: str, steps: int, optimizer: str, in_process: bool = False) -> dict:
    if in_process:
        return worker(network, size, precision, steps, optimizer)
    proc = subprocess.run([sys.executable, __file__, "--worker", network, str(size), precision, str(steps), optimizer],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"network": network, "size": str(size), "precision": precision, "optimizer": optimizer, "failed": tail}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="SqueezeNet at 256 px only, in this process")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="long sides (px)")
    parser.add_argument("--networks", nargs="+", default=None, choices=["vgg19", "vgg16", "squeezenet"])
    parser.add_argument("--precisions", nargs="+", default=None,
                        help="default: float32 and this machine's default precision")
    parser.add_argument("--steps", type=int, default=3, help="optimization steps per run")
    parser.add_argument("--optimizers", nargs="+", default=None, choices=["adam", "lbfgs"],
                        help="default: both (--quick: the default schedule's)")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    fresh = "tensorflow" not in sys.modules
    if args.worker:
        network, size, precision, steps, optimizer = args.worker
        print(json.dumps(worker(network, int(size), precision, int(steps), optimizer)))
        return

    from nst_tf.precision import detect_precision
    from nst_tf.schedules import DEFAULT_SCHEDULE, chosen_optimizer

    sizes = args.sizes or ([256] if args.quick else [256, 384, 512])
    networks = args.networks or (["squeezenet"] if args.quick else ["vgg19", "squeezenet"])
    precisions = args.precisions or list(dict.fromkeys(["float32", detect_precision()]))
    optimizers = args.optimizers or ([chosen_optimizer(DEFAULT_SCHEDULE)] if args.quick else ["adam", "lbfgs"])
    runs = len(sizes) * len(networks) * len(precisions) * len(optimizers)
    # A fresh process costs a TensorFlow start: not for one run, when TensorFlow has not run here yet
    # (tests/run_scripts.py runs this script first); after other work the allocator's freed pages could
    # hide part of the increase, so the run then gets a fresh process after all.
    in_process = args.quick and runs == 1 and fresh
    print(f"{args.steps} steps of nst_tf.stylize per run, "
          f"{'in this process' if in_process else 'each in a fresh process'}; "
          f"default precision here: {detect_precision()}")
    print("| network | size | precision | optimizer | estimate (MiB) | measured peak increase (MiB) | estimate / measured |")
    print("|---|---|---|---|---:|---:|---:|")
    for network in networks:
        for size in sizes:
            for precision in precisions:
                for optimizer in optimizers:
                    row = measure(network, size, precision, args.steps, optimizer, in_process)
                    if "failed" in row:
                        print(f"| {network} | {size} | {precision} | {optimizer} | failed: {row['failed']} | | |")
                        continue
                    need, increase = row["need"] / 2**20, row["increase"] / 2**20
                    ratio = f"{need / increase:.2f}" if increase > 0 else "n/a"
                    print(f"| {network} | {row['size']} | {precision} | {optimizer} | {need:.0f} | {increase:.0f} "
                          f"| {ratio} |", flush=True)


if __name__ == "__main__":
    main()
