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
fig, ax = plt.subplots(figsize=(1, 1))
ax.plot([0, 1], [1, 0])
assert save_figure(fig, "toy curve") is not None  # NST_SAVE_FIGURES is set: <NST_FIGURES_DIR>/<NST_NOTEBOOK>/
"""


def _write_notebooks(folder: Path):
    folder.mkdir()
    good = _notebook([_cell("markdown", "# Toy\n\n## Overview\n\nA toy.\n\n**Time:** about **1 minute**\n"),
                      _cell("code", PARAMETERS, ["parameters"]), _cell("code", SAVE_FIGURE)])
    bad = _notebook([_cell("markdown", "# Broken\n\nNo time given here.\n"),
                     _cell("code", PARAMETERS, ["parameters"]), _cell("code", "x = 1 + 1"),
                     _cell("code", 'assert x == 3, "arithmetic is broken"\nprint("never")')])
    (folder / "00_toy.ipynb").write_text(json.dumps(good), encoding="utf-8")
    (folder / "01_broken.ipynb").write_text(json.dumps(bad), encoding="utf-8")


def _dry_run(tmp_path, *selectors):
    out = tmp_path / "out" / "report.md"
    env = {**os.environ, "NST_VGG_WEIGHTS": "random"}
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
    monkeypatch.setattr(gpu_check, "probe_machine", lambda env, weights: {"precision": "float32"})
    ran = []

    def fake_run(path, args, executed_dir, figures_dir, sample_gpu):
        ran.append(path.name)
        assert args.dry_run and gpu_check.parameters(args) == {"FAST": False, "IMAGE_SIZE": 64, "NUM_STEPS": 2}
        return gpu_check.Result(path.stem, 30.0, gpu_check.stated_time(json.loads(path.read_text())),
                                peak={"host_mib": 500.0}, slowest="cell 2, 1 s")

    monkeypatch.setattr(gpu_check, "run_notebook", fake_run)
    out = tmp_path / "report.md"
    monkeypatch.setattr(gpu_check, "quality_race", lambda args, env, has_gpu: ["## Time to quality", "", "RACE"])
    status = gpu_check.main(["--dry-run", "--notebooks-dir", str(tmp_path / "nbs"), "--notebooks", "00",
                             "--out", str(out)])
    assert status == 0, capsys.readouterr().out
    assert ran == ["00_toy.ipynb"]
    report = out.read_text(encoding="utf-8")
    assert "| 00_toy | ok | 0.5 min (30 s) | 1 min | 0.5× |" in report and "01_broken" not in report and "## Failures\n\nNone." in report
    assert report.rstrip().endswith("## Time to quality\n\nRACE")  # the race comes after the notebooks


def test_quality_race_runs_vgg19_on_a_gpu_at_toy_size_in_a_dry_run_and_never_on_a_bare_cpu(monkeypatch):
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, stdout="# bench_quality: x\n| tutorial | 1 s |\n", stderr="")

    monkeypatch.setattr(gpu_check.subprocess, "run", fake_run)
    cpu = gpu_check.parse_args([])
    assert gpu_check.quality_race(cpu, {}, has_gpu=False) == [] and not calls
    assert gpu_check.quality_race(gpu_check.parse_args(["--dry-run", "--no-race"]), {}, has_gpu=False) == []
    lines = gpu_check.quality_race(cpu, {}, has_gpu=True)
    assert calls[-1][-4:] == ["--network", "vgg19", "--sizes", "512"] and "| tutorial | 1 s |" in "\n".join(lines)
    dry = gpu_check.quality_race(gpu_check.parse_args(["--dry-run"]), {}, has_gpu=False)
    assert "--quick" in calls[-1] and "--network" in calls[-1] and "DRY RUN" in "\n".join(dry)


def test_machine_probe_failure_runs_nothing_and_fails(tmp_path, monkeypatch):
    _write_notebooks(tmp_path / "nbs")
    monkeypatch.setattr(gpu_check, "probe_machine", lambda env, weights: {"error": "WeightsError: no VGG19"})
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
               "gpu": "Tesla T4", "compute_capability": "7.5", "gpu_count": 1, "weights_checked": True}
    result = gpu_check.Result("04_optimizing_pixels", 250.0, gpu_check.Stated(3, 3),
                              peak={"host_mib": 3000.0, "gpu_mib": 2100.4}, smi_peak_mib=14800,
                              slowest="cell 12, 95 s")
    args = gpu_check.parse_args([])
    report = gpu_check.render_report([result], machine, smi, args, Path("build/gpu-report.md"),
                                     Path("build/figures"))
    assert "- GPU (TensorFlow): Tesla T4 (compute capability 7.5)" in report
    assert "- GPU 0 (nvidia-smi): Tesla T4, driver 535.104.05, 15360 MiB" in report
    assert "`nst_tf.precision.detect_precision()`: mixed_float16" in report
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


def test_makefile_gpu_check_is_one_line_calling_the_script():
    make = subprocess.run(["make", "-n", "gpu-check", "GPU_CHECK_ARGS=--dry-run --notebooks 00"],
                          capture_output=True, text=True, cwd=ROOT)
    assert make.returncode == 0, make.stderr
    calls = [line for line in make.stdout.splitlines() if "gpu_check.py" in line]
    assert calls == [".venv/bin/python benchmarks/gpu_check.py --dry-run --notebooks 00"]
    assert re.search(r"^\.PHONY:.*\bgpu-check\b", (ROOT / "Makefile").read_text(), re.M)
