"""How long a user waits for the command line's one-line error: prints a table, asserts nothing.

    python benchmarks/bench_cli_errors.py [--rounds 5] [--tree DIR ...] [--quick]

Each mistake runs as ``python -m nst_tf ...`` in a new process, as a user types it (in its
``ENVIRONMENTS`` entry's environment, if it has one: the VGG file missing offline), from each
``--tree`` (a checkout: its folder goes first on PYTHONPATH; default this one), in interleaved
rounds so that a load spike from other processes hits every tree alike. Prints the median wall
time and CPU time (user + system of the process) per mistake and tree, and whether the process
had imported TensorFlow by its exit. Compare an older checkout with ``--tree OLD --tree .``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PROBE = ("import atexit, os, runpy, sys\n"
         "atexit.register(lambda: open(os.environ['NST_BENCH_PROBE'], 'w').write(str('tensorflow' in sys.modules)))\n"
         "runpy.run_module('nst_tf', run_name='__main__', alter_sys=True)\n")
MISTAKES = {
    "misspelt course image": ["stylize", "vangogh_starry_nite", "painting.png", "-o", "out.png"],
    "not a picture": ["stylize", "notes.png", "painting.png", "-o", "out.png"],
    "content weight 1e39": ["stylize", "photo.png", "painting.png", "-o", "out.png", "--content-weight", "1e39"],
    "video is a JPEG": ["video", "snapshot.jpg", "painting.png", "-o", "v.mp4"],
    "output is a folder": ["stylize", "photo.png", "painting.png", "-o", "results"],
    "image size 100000": ["stylize", "photo.png", "painting.png", "-o", "out.png", "--image-size", "100000"],
    "VGG19 file missing offline": ["stylize", "photo.png", "painting.png", "-o", "out.png"],
}
# A mistake made by the environment: offline, the default imagenet weights, no file where they are looked for.
ENVIRONMENTS = {"VGG19 file missing offline": {"NST_OFFLINE": "1", "NST_VGG_WEIGHTS": "", "KERAS_HOME": "no-keras",
                                               "NST_ASSETS_DIR": "no-assets"}}


def world(folder: Path) -> None:
    rng = np.random.default_rng(0)
    for name, size in (("photo.png", (48, 64)), ("painting.png", (40, 40)), ("snapshot.jpg", (40, 48))):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / name)
    (folder / "notes.png").write_text("not a picture")
    (folder / "results").mkdir()


def run(tree: Path, argv: list[str], cwd: Path, extra_env: dict | None = None) -> tuple[float, float, bool, int]:
    """(wall s, CPU s, TensorFlow imported, exit status) of one command."""
    probe = cwd / ".probe"
    env = {**os.environ, "PYTHONPATH": str(tree), "NST_BENCH_PROBE": str(probe), "TF_CPP_MIN_LOG_LEVEL": "3",
           **(extra_env or {})}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=cwd, env=env, capture_output=True, timeout=300)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    imported = probe.read_text() == "True"
    probe.unlink()
    return wall, cpu, imported, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tree", action="append", default=None, help="a checkout to time (repeatable)")
    parser.add_argument("--quick", action="store_true", help="one round, two mistakes (a smoke test)")
    args = parser.parse_args()
    trees = [Path(t).resolve() for t in args.tree or [ROOT]]
    mistakes = dict(list(MISTAKES.items())[:2]) if args.quick else MISTAKES
    rounds = 1 if args.quick else args.rounds
    results = {(m, t): [] for m in mistakes for t in trees}
    with tempfile.TemporaryDirectory() as folder:
        world(Path(folder))
        for _ in range(rounds):
            for name, argv in mistakes.items():
                for tree in trees:
                    results[name, tree].append(run(tree, argv, Path(folder), ENVIRONMENTS.get(name)))
    print(f"median of {rounds} round(s): seconds until the one-line error\n")
    print("| mistake | tree | wall s | cpu s | tensorflow imported | exit |")
    print("|---|---|---|---|---|---|")
    for (name, tree), runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        imported = "yes" if all(r[2] for r in runs) else "no" if not any(r[2] for r in runs) else "mixed"
        codes = ",".join(str(c) for c in sorted({r[3] for r in runs}))
        print(f"| {name} | {tree} | {wall:.2f} | {cpu:.2f} | {imported} | {codes} |")

if __name__ == "__main__":
    main()
