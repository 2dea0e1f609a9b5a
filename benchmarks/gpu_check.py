"""One command for whoever has a GPU: every lecture in full mode, and a report to send back.

    make gpu-check                                   # = $(GPU_PYTHON) benchmarks/gpu_check.py
    python3 benchmarks/gpu_check.py --notebooks 00 03 # a subset, by number or name prefix
    python3 benchmarks/gpu_check.py --dry-run --out /tmp/r.md   # no GPU needed: CPU, 64 px, 2 steps

Run it with the Python whose TensorFlow sees the GPU (on Colab the system's ``python3``): every
kernel is that interpreter (``sys.executable``, through a kernelspec of its own), never whatever
"python3" kernelspec Jupyter finds first. Without --dry-run, a TensorFlow that sees no GPU stops the
run before the first notebook. Full mode runs each notebook with papermill (``NST_FAST=0``, parameter
``FAST=False``) and the ImageNet VGG19 weights (``NST_VGG_WEIGHTS=imagenet``). Before the timed runs a
probe downloads and checks what the selected notebooks load (VGG19's and VGG16's files, md5-checked as
Keras publishes them; the TF Hub Magenta model), so a failed download stops the run at once and no
notebook's time includes a download. The report (default ``build/gpu-report.md``) gives the GPU, the precision
``nst_tf.precision.detect_precision()`` chooses, the versions, and per notebook: wall time against
the time its Overview states, peak memory, the slowest cell, the failure (cell and first line of the
error) and links to the figures it saved (``NST_SAVE_FIGURES=1``, ``<report dir>/figures/<notebook>/``),
then the time-to-quality race of ``bench_quality.py`` with ImageNet VGG19 (``quality_race``), appended
to the report once the notebooks' part is written. Executed copies go to ``<report dir>/gpu-check/``.
Exit status 1 when anything failed, the race included.

Peak memory is measured two ways, because TensorFlow reserves most of the GPU for itself at start:
``tf.config.experimental.get_memory_info("GPU:0")["peak"]``, read by a probe cell appended to the
executed copy (what the tensors really needed; only when the notebook ran to the end), and the largest
``memory.used`` that nvidia-smi reports while the notebook runs (device-wide, TF's pool included).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from nst_tf.config import COURSE_REPO  # noqa: E402  (light: no TensorFlow import)

PEAK_MARK = "GPU_CHECK_PEAK "
PROBE_TAG = "gpu-check-probe"
# Appended to the executed copy only. It never imports TensorFlow itself (a lecture without TF keeps
# its host number); ru_maxrss is the kernel's peak resident memory, in KiB on Linux.
PROBE_CELL = f"""\
import json as _json, resource as _resource, sys as _sys
_peak = {{"host_mib": _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss / 1024,
          "colab": "google.colab" in _sys.modules}}  # whether the lecture's Colab-only cells ran
if "tensorflow" in _sys.modules and _sys.modules["tensorflow"].config.list_logical_devices("GPU"):
    _peak["gpu_mib"] = _sys.modules["tensorflow"].config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
print("{PEAK_MARK}" + _json.dumps(_peak))
"""
KERNEL_NAME = "nst-gpu-check"
RACE_TIMEOUT = 7200  # seconds
# Run in a child process, so that this process never holds GPU memory the notebooks need.
# argv[1]: what to download and check before the timed runs (DOWNLOADS' keys, comma-separated);
# argv[2] "need-gpu": nothing is downloaded when TensorFlow sees no GPU (the run stops there anyway).
MACHINE_PROBE = """\
import json, platform, sys
info = {"python": platform.python_version(), "downloaded": []}
try:
    import keras, tensorflow as tf
    from nst_tf.precision import detect_precision
    info.update(tensorflow=tf.__version__, keras=keras.__version__, precision=detect_precision())
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        info["gpu"] = details.get("device_name", gpus[0].name)
        info["compute_capability"] = ".".join(map(str, details.get("compute_capability") or ())) or None
        info["gpu_count"] = len(gpus)
    downloads = [] if sys.argv[2] == "need-gpu" and not gpus else filter(None, sys.argv[1].split(","))
    failed = []
    for item in downloads:  # every one is tried, so that one report names all that is missing
        try:
            if item == "hub":
                from nst_tf.fast import load_fast_model
                load_fast_model()  # into TF Hub's cache, where the kernels' hub.load finds it
            else:  # Keras's download, md5-checked, as every FeatureExtractor(weights="imagenet") does it
                from nst_tf.features import FeatureExtractor
                FeatureExtractor(["block1_conv1"], ["block4_conv2"], network=item, weights="imagenet")
            info["downloaded"].append(item)
        except Exception as err:
            failed.append(f"{type(err).__name__}: {(str(err).splitlines() or [''])[0]}")
    if failed:
        info["failed_downloads"], info["error"] = failed, "; ".join(failed)
except Exception as err:
    info["error"] = f"{type(err).__name__}: {(str(err).splitlines() or [''])[0]}"
print(json.dumps(info))
"""


@dataclass
class Stated:
    """The full-mode time a notebook's Overview states, in minutes (low == high for "about 3")."""

    low: float
    high: float

    def __str__(self):
        return f"{self.low:g} min" if self.low == self.high else f"{self.low:g}–{self.high:g} min"


@dataclass
class Result:
    name: str
    seconds: float
    stated: Stated | None
    failure: str | None = None
    peak: dict = field(default_factory=dict)  # from the probe cell: host_mib, gpu_mib
    smi_peak_mib: int | None = None
    slowest: str = ""
    figures: list[Path] = field(default_factory=list)


# ---------------------------------------------------------------- what the notebooks state

_TIME_LINE = re.compile(r"^\s*(?:\*\*)?Time:(?:\*\*)?", re.I | re.M)
# "about 3 minutes", "~1–2 min of compute", "≈ 2 min in all"; not "~60 ms per step" nor "30 s per pair"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(?:\s*[–-]\s*(\d+(?:\.\d+)?))?\s*"
                       r"(hours?|h|minutes?|mins?|seconds?|secs?|s)\b(?!\s*(?:/|per\b))", re.I)
_MINUTES = {"h": 60.0, "m": 1.0, "s": 1 / 60}
# The lectures' words for a total without a number ("expected to take a few minutes: ... about 2
# minutes of arithmetic, plus compilation"): a range, read before any number that follows it.
_FEW = re.compile(r"\ba (few|couple of) (minutes|hours)\b", re.I)
_FEW_RANGE = {"few": (2.0, 5.0), "couple of": (2.0, 3.0)}


def stated_time(notebook: dict) -> Stated | None:
    """Parse the "**Time:**" paragraph of the Overview: the first duration of its full-mode part.

    The paragraph often starts with reading time and may mention fast mode ("reading ~10 min. Full
    mode on a Colab T4 takes about **3 minutes** ... Fast mode ..."), so only the text from "Full
    mode" to the next "Fast mode" counts when it says "Full mode" at all. The first duration is the
    stated total; where that is "a few minutes" (2–5 min), the numbers after it are parts of it.
    """
    for cell in notebook["cells"]:
        text = "".join(cell["source"]) if cell["cell_type"] == "markdown" else ""
        match = _TIME_LINE.search(text)
        if not match:
            continue
        paragraph = text[match.end():].split("\n\n")[0].replace("*", "")
        full = re.search(r"full mode", paragraph, re.I)
        if full:
            paragraph = re.split(r"fast mode", paragraph[full.start():], flags=re.I)[0]
        duration, few = _DURATION.search(paragraph), _FEW.search(paragraph)
        if few and (not duration or few.start() < duration.start()):
            scale = _MINUTES[few.group(2)[0].lower()]
            low, high = _FEW_RANGE[few.group(1).lower()]
            return Stated(low * scale, high * scale)
        if duration:
            scale = _MINUTES[duration.group(3)[0].lower()]
            low = float(duration.group(1)) * scale
            return Stated(low, float(duration.group(2)) * scale if duration.group(2) else low)
        return None
    return None


# ---------------------------------------------------------------- the machine

def nvidia_smi(fields: str) -> list[list[str]] | None:
    """Rows of ``nvidia-smi --query-gpu=<fields>`` (one per GPU), or None without a working nvidia-smi."""
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    rows = [[cell.strip() for cell in line.split(",")] for line in out.splitlines() if line.strip()]
    return rows or None


# What a notebook downloads, found in its code: the key given to the probe, the text that betrays it
# (None: every VGG lecture loads VGG19), and its name in the report.
DOWNLOADS = {"vgg19": (None, "VGG19 ImageNet weights (md5-checked)"),
             "vgg16": ('"vgg16"', "VGG16 ImageNet weights (md5-checked)"),
             "hub": ("load_fast_model(", "TF Hub Magenta model")}


def downloads_needed(notebooks: list[Path], weights: str) -> list[str]:
    """What the probe fetches before the timed runs: VGG19's ImageNet file (every VGG lecture) when
    the weights are "imagenet", VGG16's when a notebook's code names "vgg16" with them, the TF Hub
    model when one calls ``load_fast_model(`` (lectures 07 and 09 in full mode)."""
    code = "\n".join("".join(cell["source"]) for path in notebooks
                     for cell in json.loads(path.read_text(encoding="utf-8"))["cells"] if cell["cell_type"] == "code")
    needed = ["vgg19", "vgg16"] if weights == "imagenet" else []
    return [item for item in needed + ["hub"] if DOWNLOADS[item][0] is None or DOWNLOADS[item][0] in code]


def probe_machine(env: dict, downloads: list[str], need_gpu: bool = False) -> dict:
    """Versions, GPU and precision as the notebooks' kernels will see them (same environment), after
    downloading ``downloads`` (``downloads_needed``): every one that fails is in the probe's error.
    ``need_gpu``: download nothing when TensorFlow sees no GPU."""
    proc = subprocess.run([sys.executable, "-c", MACHINE_PROBE, ",".join(downloads),
                           "need-gpu" if need_gpu else "-"], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": f"machine probe failed: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}"}


class GpuMemorySampler(threading.Thread):
    """The largest ``memory.used`` (MiB, any GPU) nvidia-smi reports until ``stop()``."""

    def __init__(self, interval: float = 0.5):
        super().__init__(daemon=True)
        self.interval, self.peak_mib = interval, None
        self._done = threading.Event()

    def run(self):
        while not self._done.is_set():
            rows = nvidia_smi("memory.used")
            if rows:
                used = max(int(float(row[0])) for row in rows)
                self.peak_mib = max(self.peak_mib or 0, used)
            self._done.wait(self.interval)

    def stop(self) -> int | None:
        self._done.set()
        self.join()
        return self.peak_mib


# ---------------------------------------------------------------- running one notebook

def kernel_env(args, name: str, figures_dir: Path) -> dict:
    """The environment of every kernel: full mode, figures saved under figures_dir/<name>/."""
    env = {**os.environ, "NST_FAST": "0", "NST_SAVE_FIGURES": "1", "NST_NOTEBOOK": name,
           "NST_FIGURES_DIR": str(figures_dir.resolve()), "MPLBACKEND": "Agg"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.dry_run:
        env["CUDA_VISIBLE_DEVICES"] = "-1"  # the CPU even on a GPU machine; VGG weights as set
    else:
        env["NST_VGG_WEIGHTS"] = "imagenet"
    return env


def parameters(args) -> dict:
    return {"FAST": False, "IMAGE_SIZE": 64, "NUM_STEPS": 2} if args.dry_run else {"FAST": False}


def with_probe_cell(notebook: dict) -> dict:
    probe = {"cell_type": "code", "execution_count": None, "id": PROBE_TAG, "outputs": [],
             "metadata": {"tags": [PROBE_TAG]}, "source": PROBE_CELL}
    return {**notebook, "cells": notebook["cells"] + [probe]}


def _lecture_cells(executed: dict) -> list[dict]:
    """The cells of the lecture file, without the ones papermill and the probe add."""
    added = {"injected-parameters", "papermill-error-cell-tag", PROBE_TAG}
    return [c for c in executed["cells"] if not added & set(c.get("metadata", {}).get("tags", []))]


def first_error(executed: dict) -> str | None:
    """ "cell N (`first source line`): Error: first line" for the cell that stopped the run, or None.

    A cell tagged ``raises-exception`` (a deliberate error demo) has an error output but lets the
    run go on, so it is not a failure; papermill marks the one that stopped it.
    """
    for number, cell in enumerate(_lecture_cells(executed), start=1):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        stopped = cell.get("metadata", {}).get("papermill", {}).get("exception")
        if stopped or (errors and "raises-exception" not in cell.get("metadata", {}).get("tags", [])):
            error = errors[0] if errors else {}
            source = next((line.strip() for line in "".join(cell["source"]).splitlines() if line.strip()), "")
            message = (str(error.get("evalue", "")).splitlines() or [""])[0]
            return f"cell {number} (`{source[:80]}`): {error.get('ename', 'Error')}: {message}".rstrip(": ")
    return None


def kernel_peak(executed: dict) -> dict:
    for cell in executed["cells"]:
        if PROBE_TAG in cell.get("metadata", {}).get("tags", []):
            for output in cell.get("outputs", []):
                text = output.get("text", "")  # a list of lines in a notebook file, a str in memory
                for line in ("".join(text) if isinstance(text, list) else text).splitlines():
                    if line.startswith(PEAK_MARK):
                        return json.loads(line[len(PEAK_MARK):])
    return {}


def slowest_cell(executed: dict) -> str:
    times = [(c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0, n)
             for n, c in enumerate(_lecture_cells(executed), start=1) if c["cell_type"] == "code"]
    seconds, number = max(times, default=(0.0, 0))
    return f"cell {number}, {seconds:.0f} s" if number else ""


def own_kernel(folder: Path, env: dict) -> dict:
    """``env`` with a kernelspec KERNEL_NAME that starts this interpreter, first on JUPYTER_PATH.

    papermill's default, the notebook's "python3", is whichever kernelspec of that name Jupyter finds
    first (a user's, another Python's), and ipykernel's own only when there is none: a GPU check must
    run the notebooks on the Python it was started with, whose TensorFlow the probe saw the GPU from.
    """
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": f"Python ({sys.executable})", "language": "python"}), encoding="utf-8")
    paths = [str(folder)] + ([env["JUPYTER_PATH"]] if env.get("JUPYTER_PATH") else [])
    return {**env, "JUPYTER_PATH": os.pathsep.join(paths)}


def run_notebook(path: Path, args, executed_dir: Path, figures_dir: Path, sample_gpu: bool) -> Result:
    name = path.stem
    notebook = json.loads(path.read_text(encoding="utf-8"))
    output = executed_dir / path.name
    output.unlink(missing_ok=True)  # a copy from an earlier run must not stand in for this one
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / path.name
        source.write_text(json.dumps(with_probe_cell(notebook)), encoding="utf-8")
        sampler = GpuMemorySampler() if sample_gpu else None
        if sampler:
            sampler.start()
        start, wall = time.time(), time.perf_counter()
        env = own_kernel(Path(scratch) / "jupyter", kernel_env(args, name, figures_dir))
        proc = subprocess.run([sys.executable, "-m", "papermill", str(source), str(output), "-k", KERNEL_NAME,
                               "--cwd", str(path.parent), "--log-level", "WARNING", "--no-progress-bar",
                               "-y", json.dumps(parameters(args))],
                              capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - wall
    result = Result(name, seconds, stated_time(notebook), smi_peak_mib=sampler.stop() if sampler else None)
    executed = json.loads(output.read_text(encoding="utf-8")) if output.is_file() else None
    if executed:
        result.failure, result.peak, result.slowest = first_error(executed), kernel_peak(executed), slowest_cell(executed)
    if proc.returncode != 0 and not result.failure:  # e.g. no kernel: papermill never ran a cell
        result.failure = "papermill: " + ((proc.stderr.strip().splitlines() or ["failed"])[-1])
    result.figures = sorted(p for p in (figures_dir / name).glob("*.png") if p.stat().st_mtime >= start - 1)
    return result


# ---------------------------------------------------------------- the report

def _memory(result: Result) -> str:
    if "gpu_mib" in result.peak:
        return f"{result.peak['gpu_mib']:.0f} MiB (TF, GPU:0)"
    if "host_mib" in result.peak:
        return f"{result.peak['host_mib']:.0f} MiB (host RSS, no GPU in TF)"
    return "n/a (did not reach the end)"


def _row(result: Result) -> str:
    stated = str(result.stated) if result.stated else "not stated"
    ratio = f"{result.seconds / 60 / result.stated.high:.1f}×" if result.stated else "–"
    smi = f"{result.smi_peak_mib} MiB" if result.smi_peak_mib is not None else "n/a"
    status = "FAILED" if result.failure else "ok"
    return (f"| {result.name} | {status} | {result.seconds / 60:.1f} min ({result.seconds:.0f} s) | {stated} "
            f"| {ratio} | {_memory(result)} | {smi} | {result.slowest or '–'} | {len(result.figures)} |")


def _machine_lines(machine: dict, smi: list[list[str]] | None, args) -> list[str]:
    gpu = machine.get("gpu")
    tf_gpu = f"{gpu} (compute capability {machine.get('compute_capability') or '?'})" if gpu else "none visible to TensorFlow"
    if gpu and machine.get("gpu_count", 1) > 1:
        tf_gpu += f" and {machine['gpu_count'] - 1} more"
    lines = [f"- GPU (TensorFlow): {tf_gpu}"]
    for index, row in enumerate(smi or []):
        lines.append(f"- GPU {index} (nvidia-smi): {row[0]}, driver {row[1]}, {row[2]} MiB"
                     if len(row) >= 3 else f"- GPU {index} (nvidia-smi): {', '.join(row)}")
    if not smi:
        lines.append("- nvidia-smi: not found or not working")
    weights = "imagenet" if not args.dry_run else os.environ.get("NST_VGG_WEIGHTS") or "imagenet (default)"
    fetched = [DOWNLOADS[item][1] if item in DOWNLOADS else item for item in machine.get("downloaded", [])]
    lines += [f"- Precision chosen by `nst_tf.precision.detect_precision()`: {machine.get('precision', '?')}",
              f"- TensorFlow {machine.get('tensorflow', '?')}, Keras {machine.get('keras', '?')}, "
              f"Python {machine.get('python', '?')} (`{sys.executable}`, the notebooks' kernel too)",
              f"- VGG weights: {weights}",
              "- Downloaded and loaded before the timed runs: " + (", ".join(fetched) or "nothing")]
    return lines


def render_report(results: list[Result], machine: dict, smi, args, out: Path, figures_dir: Path) -> str:
    mode = ("DRY RUN: CPU, toy size (FAST=False, IMAGE_SIZE=64, NUM_STEPS=2); times and memory say "
            "nothing about a GPU" if args.dry_run else "full mode (NST_FAST=0, FAST=False), ImageNet VGG19")
    lines = ["# GPU check report", "",
             f"`benchmarks/gpu_check.py` ({'--dry-run' if args.dry_run else 'make gpu-check'}), "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Mode: {mode}.", "",
             "## Machine", "", *_machine_lines(machine, smi, args)]
    reached = [r for r in results if "colab" in r.peak]
    if reached:
        ran = sum(bool(r.peak["colab"]) for r in reached)
        lines.append(f"- Colab-only set-up cells (`'google.colab' in sys.modules`): ran in {ran} of the "
                     f"{len(reached)} notebooks that reached the end")
    lines.append("")
    if machine.get("error"):
        lines += [f"**Setup failed, no notebook was run:** {machine['error']}", ""]
    lines += ["## Notebooks", "",
              "Wall time includes starting the kernel. *Stated* is the full-mode time the notebook's "
              "Overview gives for a Colab T4; the ratio is wall time over its upper end. Peak memory: "
              "*TF* is `tf.config.experimental.get_memory_info('GPU:0')['peak']` read in the kernel after "
              "the last cell (what the tensors needed); *nvidia-smi* is the largest `memory.used` polled "
              "every 0.5 s during the run (device-wide, including the memory TensorFlow reserves).", "",
              "| notebook | result | wall time | stated (T4) | wall / stated | peak memory (TF) "
              "| peak memory (nvidia-smi) | slowest cell | figures |",
              "|---|---|---|---|---|---|---|---|---|", *map(_row, results), ""]
    failed = [r for r in results if r.failure]
    lines += ["## Failures", ""] + ([f"- **{r.name}**, {r.failure}" for r in failed] or ["None."]) + [""]
    lines += ["## Figures", ""]
    for result in results:
        links = [f"[{p.name}]({os.path.relpath(p, out.parent)})" for p in result.figures]
        lines.append(f"- **{result.name}**: " + (", ".join(links) if links else "none saved"))
    lines += ["", "## Sending this report back", "",
              f"Open an issue at https://github.com/{COURSE_REPO}/issues and attach {out} and {figures_dir}", ""]
    return "\n".join(lines)


def quality_race(args, env: dict, machine: dict) -> tuple[list[str], str | None]:
    """The time-to-quality race of ``bench_quality.py`` with ImageNet VGG19 and the TF tutorial's
    objective (issue 14), as report lines and the failure (None when it ran): at 512 px on a GPU
    TensorFlow sees (``machine["gpu"]``), at toy size in a dry run, not at all on a machine without
    one (the CPU numbers are the README's, SqueezeNet). The bf16 contender runs only where
    ``detect_precision()`` picked bfloat16 (compute capability 8.0+): a T4 has no bf16 units."""
    if args.no_race or not (machine.get("gpu") or args.dry_run):
        return [], None
    if args.dry_run:
        flags = ["--quick", "--sizes", "64", "--tutorial-steps", "4", "--sweep", "2", "--skip", "bf16"]
    else:
        flags = ["--sizes", "512"] + ([] if machine.get("precision") == "mixed_bfloat16" else ["--skip", "bf16"])
    failure = None
    try:
        proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_quality.py"), "--network",
                               "vgg19", *flags], capture_output=True, text=True, env=env, timeout=RACE_TIMEOUT)
    except subprocess.TimeoutExpired:
        failure = f"timed out after {RACE_TIMEOUT / 60:.0f} min"
    except Exception as err:  # whatever stops the race must not cost the notebooks' report
        failure = f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]}"
    else:
        if proc.returncode != 0:
            failure = f"exit {proc.returncode}: {(proc.stderr.strip().splitlines() or ['no output'])[-1][:200]}"
    body = f"**FAILED:** {failure}" if failure else proc.stdout.strip().replace("# bench_quality", "bench_quality")
    return ["## Time to quality (benchmarks/bench_quality.py --network vgg19)", "",
            "The TF tutorial's optimizer against `stylize`'s defaults and each lever, judged by one float32 "
            "evaluator of the tutorial's objective" + (" (DRY RUN: toy size, says nothing)" if args.dry_run else "")
            + ".", "", body, ""], failure


# ---------------------------------------------------------------- command line

def select_notebooks(folder: Path, selectors: list[str] | None) -> list[Path]:
    """All notebooks of ``folder``, or those whose name starts with one of ``selectors``."""
    every = sorted(folder.glob("*.ipynb"))
    if not selectors:
        return every
    missing = [s for s in selectors if not any(p.stem.startswith(s) for p in every)]
    if missing:
        raise SystemExit(f"gpu_check: no notebook in {folder} starts with {', '.join(missing)}")
    return [p for p in every if any(p.stem.startswith(s) for s in selectors)]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU, IMAGE_SIZE=64, NUM_STEPS=2, VGG weights from NST_VGG_WEIGHTS (no GPU needed)")
    parser.add_argument("--no-race", action="store_true", help="skip the time-to-quality race (bench_quality.py)")
    parser.add_argument("--notebooks", nargs="+", metavar="PREFIX", help="only these, e.g. --notebooks 00 03")
    parser.add_argument("--notebooks-dir", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--out", type=Path, default=Path("build/gpu-report.md"), help="the report (markdown)")
    return parser.parse_args(argv)


def no_gpu(smi: list[list[str]] | None) -> str:
    """The setup error of a full run whose TensorFlow sees no GPU, with what nvidia-smi says."""
    if smi:
        seen = ("nvidia-smi sees " + ", ".join(row[0] for row in smi) + ": the GPU is there, this TensorFlow "
                "cannot use it (a CPU-only build, or one built for another CUDA)")
    else:
        seen = "nvidia-smi is not found or not working"
    return (f"TensorFlow sees no GPU in {sys.executable}; {seen}. Run with the Python whose TensorFlow sees the "
            f"GPU (make gpu-check GPU_PYTHON=...), or with --dry-run for the CPU")


def main(argv=None) -> int:
    args = parse_args(argv)
    notebooks = select_notebooks(args.notebooks_dir, args.notebooks)
    figures_dir, executed_dir = args.out.parent / "figures", args.out.parent / "gpu-check"
    executed_dir.mkdir(parents=True, exist_ok=True)
    env = kernel_env(args, "machine-probe", figures_dir)
    print(f"gpu_check: {'dry run' if args.dry_run else 'full mode'}, {len(notebooks)} notebook(s)", flush=True)
    machine = probe_machine(env, downloads_needed(notebooks, env.get("NST_VGG_WEIGHTS", "imagenet")),
                            need_gpu=not args.dry_run)
    smi = nvidia_smi("name,driver_version,memory.total")
    if not args.dry_run and not machine.get("error") and not machine.get("gpu"):
        machine["error"] = no_gpu(smi)
    results = []
    for path in [] if machine.get("error") else notebooks:
        result = run_notebook(path, args, executed_dir, figures_dir, sample_gpu=smi is not None)
        print(f"  {result.name}: {'FAILED ' + result.failure if result.failure else 'ok'} "
              f"({result.seconds:.0f} s)", flush=True)
        results.append(result)
    report = render_report(results, machine, smi, args, args.out, figures_dir)
    args.out.write_text(report, encoding="utf-8")  # before the race: hours of notebooks are kept whatever it does
    race, race_failure = quality_race(args, env, machine) if not machine.get("error") else ([], None)
    if race:
        args.out.write_text(report + "\n" + "\n".join(race), encoding="utf-8")
    if race_failure:
        print(f"  time-to-quality race: FAILED {race_failure}", flush=True)
    failed = bool(machine.get("error")) or any(r.failure for r in results) or bool(race_failure)
    print(f"gpu_check: report in {args.out}" + (" (with failures)" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
