"""benchmarks/gpu_check.py (`make gpu-check`): the report a GPU owner sends back.

No GPU here: the end-to-end test runs --dry-run on two tiny synthetic notebooks (one passes and saves a
figure, one fails an assert), once (each notebook is a papermill process and a kernel); the GPU paths (nvidia-smi) run against a fake nvidia-smi on PATH.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nst_tf.config import COURSE_REPO

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
_spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
gpu_check = importlib.util.module_from_spec(_spec)
sys.modules["gpu_check"] = gpu_check  # dataclasses look their module up there
_spec.loader.exec_module(gpu_check)


def _cell(kind, source, tags=()):
    cell = {"cell_type": kind, "metadata": {"tags": list(tags)}, "source": source}
    return {**cell, "execution_count": None, "outputs": []} if kind == "code" else cell


def _notebook(cells):
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}


PARAMETERS = "FAST = None\nIMAGE_SIZE = None\nNUM_STEPS = None\n"
SAVE_FIGURE = """\
import os
import matplotlib.pyplot as plt
from nst_tf.plotting import save_figure
assert FAST is False and IMAGE_SIZE == 64 and NUM_STEPS == 2, (FAST, IMAGE_SIZE, NUM_STEPS)
assert os.environ["NST_FAST"] == "0" and os.environ["CUDA_VISIBLE_DEVICES"] == "-1"
import sys
assert sys.executable == KERNEL_PYTHON, sys.executable  # the interpreter that ran gpu_check.py
fig, ax = plt.subplots(figsize=(1, 1))
ax.plot([0, 1], [1, 0])
assert save_figure(fig, "toy curve") is not None  # NST_SAVE_FIGURES is set: <NST_FIGURES_DIR>/<NST_NOTEBOOK>/
"""


def _write_notebooks(folder: Path):
    folder.mkdir()
    good = _notebook([_cell("markdown", "# Toy\n\n## Overview\n\nA toy.\n\n**Time:** about **1 minute**\n"),
                      _cell("code", PARAMETERS, ["parameters"]),
                      _cell("code", SAVE_FIGURE.replace("KERNEL_PYTHON", repr(sys.executable)))])
    bad = _notebook([_cell("markdown", "# Broken\n\nNo time given here.\n"),
                     _cell("code", PARAMETERS, ["parameters"]), _cell("code", "x = 1 + 1"),
                     _cell("code", 'assert x == 3, "arithmetic is broken"\nprint("never")')])
    (folder / "00_toy.ipynb").write_text(json.dumps(good), encoding="utf-8")
    (folder / "01_broken.ipynb").write_text(json.dumps(bad), encoding="utf-8")


def _dry_run(tmp_path, *selectors):
    out = tmp_path / "out" / "report.md"
    # A "python3" kernelspec first on JUPYTER_PATH that is not this Python (a user's, another
    # interpreter's): papermill's default kernel would be it; gpu_check must start its own.
    hijack = tmp_path / "jupyter" / "kernels" / "python3"
    hijack.mkdir(parents=True)
    (hijack / "kernel.json").write_text(json.dumps(
        {"argv": [sys.executable, "-c", "raise SystemExit('the wrong kernel')"], "display_name": "other",
         "language": "python"}))
    env = {**os.environ, "NST_VGG_WEIGHTS": "random", "JUPYTER_PATH": str(tmp_path / "jupyter")}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--no-race", "--notebooks-dir",
                           str(tmp_path / "nbs"), "--out", str(out), "--notebooks", *selectors],
                          capture_output=True, text=True, env=env, timeout=300)
    return proc, out


def _row(report, name):
    return next(line for line in report.splitlines() if line.startswith(f"| {name} |"))


def test_dry_run_reports_time_figures_and_the_failing_cell(tmp_path):
    _write_notebooks(tmp_path / "nbs")
    proc, out = _dry_run(tmp_path, "00", "01")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = out.read_text(encoding="utf-8")
    # timing: wall time against the stated "about 1 minute"; the broken notebook states none
    good, bad = _row(report, "00_toy"), _row(report, "01_broken")
    assert "| ok |" in good and "| 1 min |" in good and re.search(r"\| \d+\.\d× \|", good)
    assert "| FAILED |" in bad and "not stated" in bad
    # memory read by the probe cell in the kernel (host RSS: no GPU); none where the notebook failed
    assert re.search(r"\| \d+ MiB \(host RSS", good) and "did not reach the end" in bad
    # not on Colab: the lectures' Colab-only cells did not run, and the report says so
    assert "(`'google.colab' in sys.modules`): ran in 0 of the 1 notebooks that reached the end" in report
    # the figure: written by the kernel under <report dir>/figures/<notebook>/ and linked relatively
    assert (out.parent / "figures" / "00_toy" / "toy_curve.png").is_file()
    assert "[toy_curve.png](figures/00_toy/toy_curve.png)" in report
    # the failure: the lecture's own cell number (papermill's added cells not counted), its first line
    assert ('**01_broken**, cell 4 (`assert x == 3, "arithmetic is broken"`): '
            "AssertionError: arithmetic is broken") in report
    assert "DRY RUN" in report and "detect_precision()`: float" in report
    assert "TensorFlow 2." in report and "Keras 3." in report
    assert f"https://github.com/{COURSE_REPO}/issues" in report
    assert (out.parent / "gpu-check" / "00_toy.ipynb").is_file()  # the executed copy


def test_dry_run_of_a_passing_subset_exits_zero(tmp_path, monkeypatch, capsys):
    # in this process, with the machine probe (a TensorFlow import) and the notebook run replaced:
    # the test above runs both for real (papermill and a kernel cost seconds per notebook)
    _write_notebooks(tmp_path / "nbs")
    monkeypatch.setattr(gpu_check, "probe_machine",
                        lambda env, downloads, need_gpu=False: {"precision": "float32"})
    ran = []

    def fake_run(path, args, executed_dir, figures_dir, sample_gpu):
        ran.append(path.name)
        assert args.dry_run and gpu_check.parameters(args) == {"FAST": False, "IMAGE_SIZE": 64, "NUM_STEPS": 2}
        return gpu_check.Result(path.stem, 30.0, gpu_check.stated_time(json.loads(path.read_text())),
                                peak={"host_mib": 500.0}, slowest="cell 2, 1 s")

    monkeypatch.setattr(gpu_check, "run_notebook", fake_run)
    out = tmp_path / "report.md"
    monkeypatch.setattr(gpu_check, "quality_race",
                        lambda args, env, machine: (["## Time to quality", "", "RACE"], None))
    status = gpu_check.main(["--dry-run", "--notebooks-dir", str(tmp_path / "nbs"), "--notebooks", "00",
                             "--out", str(out)])
    assert status == 0, capsys.readouterr().out
    assert ran == ["00_toy.ipynb"]
    report = out.read_text(encoding="utf-8")
    assert "| 00_toy | ok | 0.5 min (30 s) | 1 min | 0.5× |" in report and "01_broken" not in report and "## Failures\n\nNone." in report
    assert report.rstrip().endswith("## Time to quality\n\nRACE")  # the race comes after the notebooks


T4 = {"gpu": "Tesla T4", "compute_capability": "7.5", "precision": "float32"}  # as the probe reports it
A100 = {"gpu": "NVIDIA A100-SXM4-40GB", "compute_capability": "8.0", "precision": "mixed_bfloat16"}


def test_quality_race_runs_vgg19_on_a_gpu_at_toy_size_in_a_dry_run_and_never_on_a_bare_cpu(monkeypatch):
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, stdout="# bench_quality: x\n| tutorial | 1 s |\n", stderr="")

    monkeypatch.setattr(gpu_check.subprocess, "run", fake_run)
    cpu = gpu_check.parse_args([])
    assert gpu_check.quality_race(cpu, {}, {}) == ([], None) and not calls
    # nvidia-smi may see a GPU that TensorFlow does not: only TensorFlow's view counts
    assert gpu_check.quality_race(cpu, {}, {"precision": "float32"}) == ([], None) and not calls
    assert gpu_check.quality_race(gpu_check.parse_args(["--dry-run", "--no-race"]), {}, {}) == ([], None)
    lines, failure = gpu_check.quality_race(cpu, {}, A100)
    assert failure is None and calls[-1][-4:] == ["--network", "vgg19", "--sizes", "512"]
    assert "| tutorial | 1 s |" in "\n".join(lines)
    dry, failure = gpu_check.quality_race(gpu_check.parse_args(["--dry-run"]), {}, {})
    assert "--quick" in calls[-1] and "--network" in calls[-1] and "DRY RUN" in "\n".join(dry) and failure is None


def test_quality_race_skips_bf16_where_the_gpu_has_no_bf16_units(monkeypatch):
    calls = []
    monkeypatch.setattr(gpu_check.subprocess, "run", lambda command, **kwargs: calls.append(command)
                        or subprocess.CompletedProcess(command, 0, stdout="table", stderr=""))
    args = gpu_check.parse_args([])
    gpu_check.quality_race(args, {}, T4)  # compute capability 7.5: detect_precision() chose float32
    assert calls[-1][-2:] == ["--skip", "bf16"]
    gpu_check.quality_race(args, {}, A100)  # 8.0: bf16 units, the contender runs
    assert "--skip" not in calls[-1]


@pytest.mark.parametrize("error, expected", [
    (subprocess.TimeoutExpired(["bench_quality.py"], 7200), "**FAILED:** timed out after 120 min"),
    (MemoryError("cannot fork"), "**FAILED:** MemoryError: cannot fork"),
    (None, "**FAILED:** exit 1: RuntimeError: out of memory"),
])
def test_a_failed_race_keeps_the_notebook_report_is_one_line_and_fails_the_run(tmp_path, monkeypatch, error,
                                                                              expected):
    _write_notebooks(tmp_path / "nbs")
    monkeypatch.setattr(gpu_check, "probe_machine", lambda env, downloads, need_gpu=False: dict(T4))
    monkeypatch.setattr(gpu_check, "nvidia_smi", lambda fields: [["Tesla T4", "550.54", "15360"]])
    monkeypatch.setattr(gpu_check, "run_notebook", lambda path, *rest, **kw: gpu_check.Result(path.stem, 60.0, None))

    def race(command, **kwargs):
        if error is not None:
            raise error
        return subprocess.CompletedProcess(command, 1, stdout="", stderr="Traceback\nRuntimeError: out of memory\n")

    monkeypatch.setattr(gpu_check.subprocess, "run", race)
    out = tmp_path / "report.md"
    assert gpu_check.main(["--notebooks-dir", str(tmp_path / "nbs"), "--notebooks", "00", "--out", str(out)]) == 1
    report = out.read_text(encoding="utf-8")
    assert "| 00_toy | ok | 1.0 min (60 s) |" in report and "## Failures\n\nNone." in report
    assert report.rstrip().endswith(expected)


def test_no_gpu_in_tensorflow_stops_before_the_first_notebook(tmp_path, monkeypatch):
    # nvidia-smi sees a T4, but this TensorFlow does not (a CPU build, or the wrong CUDA): a full run
    # would take hours on the CPU and report nothing about the GPU
    _write_notebooks(tmp_path / "nbs")
    monkeypatch.setattr(gpu_check, "probe_machine",
                        lambda env, downloads, need_gpu=False: {"precision": "float32", "tensorflow": "2.21.0"})
    monkeypatch.setattr(gpu_check, "nvidia_smi", lambda fields: [["Tesla T4", "550.54", "15360"]])
    ran = []
    monkeypatch.setattr(gpu_check, "run_notebook",
                        lambda path, *rest, **kw: ran.append(path) or gpu_check.Result(path.stem, 1.0, None))
    monkeypatch.setattr(gpu_check, "quality_race", lambda *a: ran.append("race") or ([], None))
    out = tmp_path / "report.md"
    assert gpu_check.main(["--notebooks-dir", str(tmp_path / "nbs"), "--out", str(out)]) == 1
    report = out.read_text(encoding="utf-8")
    assert not ran and "| 00_toy |" not in report
    assert "**Setup failed, no notebook was run:** TensorFlow sees no GPU in " in report
    assert "nvidia-smi sees Tesla T4" in report and "GPU_PYTHON" in report
    monkeypatch.setattr(gpu_check, "nvidia_smi", lambda fields: None)
    assert gpu_check.main(["--notebooks-dir", str(tmp_path / "nbs"), "--out", str(out)]) == 1 and not ran
    assert "nvidia-smi is not found or not working" in out.read_text(encoding="utf-8")
    # a dry run needs no GPU
    assert gpu_check.main(["--dry-run", "--notebooks-dir", str(tmp_path / "nbs"), "--notebooks", "00",
                           "--out", str(out)]) == 0 and len(ran) == 2  # the notebook and the race


def test_machine_probe_failure_runs_nothing_and_fails(tmp_path, monkeypatch):
    _write_notebooks(tmp_path / "nbs")
    monkeypatch.setattr(gpu_check, "probe_machine",
                        lambda env, downloads, need_gpu=False: {"error": "WeightsError: no VGG19"})
    out = tmp_path / "report.md"
    assert gpu_check.main(["--notebooks-dir", str(tmp_path / "nbs"), "--out", str(out)]) == 1
    report = out.read_text(encoding="utf-8")
    assert "**Setup failed, no notebook was run:** WeightsError: no VGG19" in report
    assert "| 00_toy |" not in report and not (tmp_path / "gpu-check" / "00_toy.ipynb").exists()


LECTURE_PHRASES = [  # as the lectures state it (markdown bold kept), and what it must parse to
    ("**Time:** reading ~10 min. Full mode on a Colab T4 runs in about 2 min: ~1 min to install the course\n"
     "package, then ... ~60 ms per step, ~30 s for 500 steps. Fast mode (`NST_FAST=1`) runs in under a minute.",
     (2, 2)),
    ("**Time:** reading ~20 min. Full mode on a Colab T4 takes ~1–2 min of compute: the five", (1, 2)),
    ("**Time:** reading ~20 min. Full mode on a Colab T4: about 3–4 min, nearly all of it", (3, 4)),
    ("**Time:** fast mode (`NST_FAST=1`) runs in well under a minute on a laptop CPU. Full mode on a Colab\n"
     "T4 takes about **3 minutes**: four stylizations", (3, 3)),
    ("Time: fast mode (`NST_FAST=1`) about 40 s on a 2-core CPU. Full mode on a Colab T4: the three\n"
     "optimizations dominate — VGG19 at 512 px, 500 steps, ~60 ms/step (≈0.3 TFLOP/step at ~5 TFLOP/s)\n"
     "≈ 30 s per pair, ≈ 2 min in all; every feed-forward call", (2, 2)),
    ("**Time:** about **90 seconds**", (1.5, 1.5)),
    # a total in words, then the arithmetic that is only part of it (lectures 06, 07): the total counts
    ("**Time:** fast mode (`NST_FAST=1`) runs in one to two minutes on a 2-core CPU. Full mode on a Colab\n"
     "T4 is **expected** to take a few minutes (an estimate, not yet confirmed by a GPU run): the \"work\"\n"
     "cell below counts ~1,700 VGG19 evaluations at 512 px plus the coarse-to-fine passes with\n"
     "`step_flops`, about 2 minutes of arithmetic at an assumed float32 rate for a T4, plus XLA", (2, 5)),
    ("**Time:** Full mode on a Colab T4 is expected to take a couple of minutes: ~40 s of arithmetic", (2, 3)),
]


@pytest.mark.parametrize("text, expected", LECTURE_PHRASES)
def test_stated_time_reads_the_full_mode_duration(text, expected):
    notebook = _notebook([_cell("markdown", "## Overview\n\nIntro.\n\n" + text + "\n\nMore.\n")])
    stated = gpu_check.stated_time(notebook)
    assert (stated.low, stated.high) == pytest.approx(expected)


def test_stated_time_absent_or_unreadable_is_none():
    assert gpu_check.stated_time(_notebook([_cell("markdown", "## Overview\n\nNo time.")])) is None
    assert gpu_check.stated_time(_notebook([_cell("markdown", "**Time:** a while")])) is None
    assert gpu_check.stated_time(_notebook([_cell("code", "# Time: 3 min")])) is None


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_lecture_states_a_full_mode_time_the_report_can_read(path):
    stated = gpu_check.stated_time(json.loads(path.read_text(encoding="utf-8")))
    assert stated is not None, f"{path.name}: no readable full-mode time in the Overview's Time: line"
    assert 0.5 <= stated.low <= stated.high <= 60


def test_the_stated_time_is_the_lectures_total_not_a_part_of_it():
    # 06 and 07 say "a few minutes" in all, then the arithmetic alone (2 and 1.5 minutes)
    for name in ("06_speed_and_scale", "07_fast_style_transfer"):
        stated = gpu_check.stated_time(json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8")))
        assert (stated.low, stated.high) == (2, 5), (name, stated)


def test_failure_names_the_lecture_cell_not_papermills_added_ones():
    executed = _notebook([
        _cell("markdown", "papermill error banner", ["papermill-error-cell-tag"]),
        _cell("code", "FAST = None", ["parameters"]), _cell("code", "FAST = False", ["injected-parameters"]),
        _cell("code", "\n  y = f()\n")])
    executed["cells"][3]["outputs"] = [{"output_type": "error", "ename": "ValueError",
                                        "evalue": "bad size\nsecond line", "traceback": []}]
    assert gpu_check.first_error(executed) == "cell 2 (`y = f()`): ValueError: bad size"
    executed["cells"][3]["metadata"]["tags"] = ["raises-exception"]  # a deliberate error demo
    assert gpu_check.first_error(executed) is None
    executed["cells"][3]["metadata"]["papermill"] = {"exception": True}  # ... that did stop the run
    assert gpu_check.first_error(executed) == "cell 2 (`y = f()`): ValueError: bad size"
    executed["cells"][3]["outputs"], executed["cells"][3]["metadata"] = [], {}
    assert gpu_check.first_error(executed) is None


def _lectures(*prefixes):
    return gpu_check.select_notebooks(ROOT / "notebooks", list(prefixes))


def test_the_probe_downloads_what_the_selected_lectures_load():
    # VGG16: lecture 05's backbone comparison and lecture 09's loss network; the TF Hub model: 07 and 09
    assert gpu_check.downloads_needed(_lectures("00", "03"), "imagenet") == ["vgg19"]
    assert gpu_check.downloads_needed(_lectures("05"), "imagenet") == ["vgg19", "vgg16"]
    assert gpu_check.downloads_needed(_lectures("07"), "imagenet") == ["vgg19", "hub"]
    assert gpu_check.downloads_needed(_lectures(), "imagenet") == ["vgg19", "vgg16", "hub"]
    assert gpu_check.downloads_needed(_lectures(), "random") == ["hub"]  # a dry run's untrained VGG


def test_main_hands_the_probe_the_downloads_and_a_failed_one_runs_nothing(tmp_path, monkeypatch):
    asked, ran = [], []
    monkeypatch.setattr(gpu_check, "probe_machine", lambda env, downloads, need_gpu:
                        asked.append((downloads, need_gpu)) or
                        {**T4, "error": "FastModelError: https://tfhub.dev/...: cannot load the model (HTTP 503)"})
    monkeypatch.setattr(gpu_check, "run_notebook", lambda path, *rest, **kw: ran.append(path))
    out = tmp_path / "report.md"
    assert gpu_check.main(["--notebooks", "07", "09", "--out", str(out)]) == 1
    assert asked == [(["vgg19", "vgg16", "hub"], True)] and not ran
    assert "**Setup failed, no notebook was run:** FastModelError" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("need_gpu, errors", [
    (False, ["WeightsError: vgg16 ImageNet weights are missing",
             "FastModelError: https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2: not cached"]),
    (True, []),  # a full run without a GPU downloads nothing: it stops at "no GPU" anyway
])
def test_the_real_probe_reports_every_download_it_cannot_make(tmp_path, need_gpu, errors):
    # offline, with empty caches: the probe (a real child process, TensorFlow imported) tries each
    # download and names every one that failed, in order, so one report says all that is missing
    env = {**os.environ, "NST_OFFLINE": "1", "KERAS_HOME": str(tmp_path / "keras"),
           "NST_ASSETS_DIR": str(tmp_path / "assets"), "TFHUB_CACHE_DIR": str(tmp_path / "hub"),
           "CUDA_VISIBLE_DEVICES": "-1"}
    env.pop("NST_HUB_MODEL", None)
    machine = gpu_check.probe_machine(env, ["vgg16", "hub"], need_gpu=need_gpu)
    found = machine.get("failed_downloads", [])
    assert len(found) == len(errors) and all(f.startswith(e) for f, e in zip(found, errors)), machine
    assert ("error" in machine) == bool(errors) and all(f in machine.get("error", "") for f in found)
    assert machine["downloaded"] == [] and machine["tensorflow"].startswith("2.") and "gpu" not in machine


def test_notebooks_run_on_a_kernel_of_this_python(tmp_path, monkeypatch):
    calls = []

    def fake_papermill(command, **kwargs):
        calls.append((command, kwargs["env"]))
        spec = Path(kwargs["env"]["JUPYTER_PATH"].split(os.pathsep)[0]) / "kernels" / gpu_check.KERNEL_NAME
        calls.append(json.loads((spec / "kernel.json").read_text()))  # before the scratch folder goes
        return subprocess.CompletedProcess(command, 1, stdout="", stderr="no kernel")

    monkeypatch.setattr(gpu_check.subprocess, "run", fake_papermill)
    monkeypatch.setenv("JUPYTER_PATH", "/somewhere/else")
    _write_notebooks(tmp_path / "nbs")
    gpu_check.run_notebook(tmp_path / "nbs" / "00_toy.ipynb", gpu_check.parse_args(["--dry-run"]), tmp_path,
                           tmp_path / "figures", sample_gpu=False)
    (command, env), spec = calls
    assert command[:3] == [sys.executable, "-m", "papermill"]
    assert command[command.index("-k") + 1] == gpu_check.KERNEL_NAME
    assert spec["argv"][:3] == [sys.executable, "-m", "ipykernel_launcher"]
    assert env["JUPYTER_PATH"].split(os.pathsep)[1:] == ["/somewhere/else"]  # kept, after ours


@pytest.fixture
def fake_nvidia_smi(tmp_path, monkeypatch):
    """An nvidia-smi that answers like a T4 whose used memory grows by 1000 MiB per query.

    Returns a function giving how many memory queries were answered (one line each in a log)."""
    log = tmp_path / "queries"
    log.touch()
    script = tmp_path / "bin" / "nvidia-smi"
    script.parent.mkdir()
    script.write_text(f"""#!/bin/sh
case "$1" in
  --query-gpu=memory.used) n=$(wc -l < {log}); echo "$((n * 1000 + 300))"; echo q >> {log} ;;
  *) echo "Tesla T4, 535.104.05, 15360" ;;
esac
""")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return lambda: log.read_text().count("\n")


def test_gpu_memory_sampler_keeps_the_largest_reading(fake_nvidia_smi):
    sampler = gpu_check.GpuMemorySampler(interval=0.01)
    sampler.start()
    while fake_nvidia_smi() < 3:
        sampler.join(0.01)
    peak = sampler.stop()
    assert peak == (fake_nvidia_smi() - 1) * 1000 + 300  # the last (largest) of the readings taken


def test_report_machine_section_from_nvidia_smi_and_tensorflow(fake_nvidia_smi, tmp_path):
    smi = gpu_check.nvidia_smi("name,driver_version,memory.total")
    assert smi == [["Tesla T4", "535.104.05", "15360"]]
    machine = {"python": "3.11.9", "tensorflow": "2.21.0", "keras": "3.15.1", "precision": "mixed_float16",
               "gpu": "Tesla T4", "compute_capability": "7.5", "gpu_count": 1, "downloaded": ["vgg19", "hub"]}
    result = gpu_check.Result("04_optimizing_pixels", 250.0, gpu_check.Stated(3, 3),
                              peak={"host_mib": 3000.0, "gpu_mib": 2100.4}, smi_peak_mib=14800,
                              slowest="cell 12, 95 s")
    args = gpu_check.parse_args([])
    report = gpu_check.render_report([result], machine, smi, args, Path("build/gpu-report.md"),
                                     Path("build/figures"))
    assert "- GPU (TensorFlow): Tesla T4 (compute capability 7.5)" in report
    assert "- GPU 0 (nvidia-smi): Tesla T4, driver 535.104.05, 15360 MiB" in report
    assert "`nst_tf.precision.detect_precision()`: mixed_float16" in report
    assert ("- Downloaded and loaded before the timed runs: VGG19 ImageNet weights (md5-checked), "
            "TF Hub Magenta model") in report
    assert ("| 04_optimizing_pixels | ok | 4.2 min (250 s) | 3 min | 1.4× | 2100 MiB (TF, GPU:0) "
            "| 14800 MiB | cell 12, 95 s | 0 |") in report
    assert (f"Open an issue at https://github.com/{COURSE_REPO}/issues and attach build/gpu-report.md "
            "and build/figures") in report


def test_select_notebooks_by_prefix(tmp_path):
    _write_notebooks(tmp_path / "nbs")
    assert [p.name for p in gpu_check.select_notebooks(tmp_path / "nbs", ["01"])] == ["01_broken.ipynb"]
    assert len(gpu_check.select_notebooks(tmp_path / "nbs", None)) == 2
    with pytest.raises(SystemExit, match="starts with 07"):
        gpu_check.select_notebooks(tmp_path / "nbs", ["07"])


def test_makefile_gpu_check_dry_run_uses_the_course_venv():
    make = subprocess.run(["make", "-n", "gpu-check", "GPU_CHECK_ARGS=--dry-run --notebooks 00"],
                          capture_output=True, text=True, cwd=ROOT)
    assert make.returncode == 0, make.stderr
    calls = [line for line in make.stdout.splitlines() if "gpu_check.py" in line]
    assert calls == [".venv/bin/python benchmarks/gpu_check.py --dry-run --notebooks 00"]
    assert re.search(r"^\.PHONY:.*\bgpu-check\b", (ROOT / "Makefile").read_text(), re.M)


def _fake_python(tmp_path, tensorflow):
    """A GPU_PYTHON that logs its arguments and has ``tensorflow`` installed (None: no TensorFlow)."""
    log, python = tmp_path / "calls", tmp_path / "python"
    answer = f'echo "{tensorflow}"' if tensorflow else "exit 1"
    python.write_text(f'#!/bin/sh\necho "$*" >> {log}\ncase "$1" in -c) {answer} ;; esac\n')
    python.chmod(0o755)
    return python, log


def test_makefile_gpu_check_runs_on_the_machines_python_and_keeps_its_tensorflow(tmp_path):
    python, log = _fake_python(tmp_path, "2.19.0")  # Colab's, built for its CUDA
    make = subprocess.run(["make", "gpu-check", f"GPU_PYTHON={python}", "GPU_CHECK_ARGS=--notebooks 00"],
                          capture_output=True, text=True, cwd=ROOT)
    assert make.returncode == 0, make.stdout + make.stderr
    calls = log.read_text().splitlines()
    assert calls[0].startswith("-c ") and "version('tensorflow')" in calls[0]
    assert calls[1] == '-m pip install --quiet -e .[notebooks] papermill>=2.5 ipykernel tensorflow==2.19.0'
    assert calls[2:] == ["benchmarks/gpu_check.py --notebooks 00"]
    assert ".venv" not in make.stdout  # no course venv, no pinned TensorFlow 2.21


def test_makefile_gpu_check_needs_a_python_with_tensorflow(tmp_path):
    python, log = _fake_python(tmp_path, None)
    make = subprocess.run(["make", "gpu-check", f"GPU_PYTHON={python}"], capture_output=True, text=True, cwd=ROOT)
    assert make.returncode != 0 and "has no TensorFlow" in make.stderr
    assert len(log.read_text().splitlines()) == 1  # only the question: nothing installed, nothing run
