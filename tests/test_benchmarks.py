"""The benchmark scripts' --quick modes run end to end, so the scripts cannot rot.

They print tables; nothing here asserts a speed (that would be a flaky test, not a benchmark).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need_asset

ROOT = Path(__file__).resolve().parents[1]


def run_quick(script):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick"],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NST_VGG_WEIGHTS": os.environ.get("NST_VGG_WEIGHTS") or "random"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_bench_step_quick_prints_its_tables():
    need_asset("tubingen_neckarfront")
    out = run_quick("bench_step.py")  # 64 px, one timed step, one XLA configuration, in one process
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in out.splitlines()
            if line.startswith("| tutorial-") or line.startswith("| course-")}
    assert sorted(rows) == sorted(["tutorial-eager", "tutorial-compiled", "course-fp32", "course-bf16",
                                   "course-xla-fp32", "course-xla-bf16"])
    measured = {config: float(cells[0]) for config, cells in rows.items() if "skipped" not in cells[0]}
    assert sorted(set(rows) - set(measured)) == ["course-xla-bf16"] and all(ms > 0 for ms in measured.values())
    speedups = next(line for line in out.splitlines() if line.startswith("- 64²:"))
    assert "speed-up against the tutorial" in out and "tutorial-compiled: 1.00x" in speedups
    assert "course-xla-fp32:" in speedups and "bench_quality.py" in out and "failed" not in out


def test_bench_fast_quick_prints_its_tables():
    need_asset("magenta_style_transfer_f16")
    out = run_quick("bench_fast.py")
    for section in ("## 1. 384x384", "## 2. ms per image", "## 3. video path", "## 4. optimization vs"):
        assert section in out
    assert "| f16 | LiteRT, 2 threads, MIRROR_PAD rewritten |" in out
    assert "| f16 | 256 |" in out and "| int8 | 256 |" in out and "| int8 | style prediction (256) |" in out
    assert "| decode/encode threads | 0.5 |" in out and "| ratio |" in out


def test_bench_cli_errors_quick_prints_its_table():
    out = run_quick("bench_cli_errors.py")  # two mistakes, one round: ~1 s each
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [row[0].strip() for row in rows] == ["misspelt course image", "not a picture"]
    assert all(row[4].strip() == "no" and row[5].strip() == "2" and float(row[2]) > 0 for row in rows)


def test_bench_memory_quick_prints_its_table():
    for name in ("squeezenet_v1_1_notop", "tubingen_neckarfront", "vangogh_starry_night"):
        need_asset(name)
    out = run_quick("bench_memory.py")  # one SqueezeNet run at 256 px: 10-20 s
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| squeezenet |")]
    assert rows and "failed" not in out
    estimate, measured, ratio = (float(cell) for cell in rows[0][4:7])
    assert estimate > 0 and measured > 0 and ratio == pytest.approx(estimate / measured, abs=0.02)


def test_bench_quality_quick_prints_the_race_and_the_sweep(tmp_path):
    for name in ("squeezenet_v1_1_notop", "tubingen_neckarfront", "vangogh_starry_night"):
        need_asset(name)
    plot = tmp_path / "quality.png"
    # skipped: bf16 (slow without bf16 units), ff-init (TF Lite: bench_fast's), coarse-to-fine with Adam
    # (its arguments run in "lbfgs 64->128"); each contender costs a trace of its own
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_quality.py"), "--quick", "--skip", "bf16",
                           "ff-init", "coarse-to-fine", "--sweep", "2", "4", "--plot", str(plot)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "time to quality at 128 px" in out and "| tutorial |" in out
    assert "| old defaults (schedule='classic') |" in out and "| schedule='fast' |" in out
    assert "| lr 0.05 -> x0.1 smoothly |" in out and "| lbfgs |" in out and "| lbfgs 64->128 [" in out
    assert "| num_steps | seconds |" in out and "failed" not in out
    assert plot.is_file()
